"""Build a `Gateway` from its configuration and run it on uvicorn (uvloop + httptools)."""

from __future__ import annotations

import uvicorn

from redline.gateway.app import Gateway


def run(gateway: Gateway, host: str, port: int) -> None:
    """Serve until interrupted. Access logs are off: they would put tenants' traffic in a log."""
    config = uvicorn.Config(
        gateway.app(),
        host=host,
        port=port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        server_header=False,
    )
    uvicorn.Server(config).run()
