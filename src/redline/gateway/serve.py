"""Build a `Gateway` from its configuration and run it on uvicorn (uvloop + httptools)."""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn
from starlette.routing import BaseRoute

from redline.gateway.app import Gateway


def run(gateway: Gateway, host: str, port: int, mounts: Sequence[BaseRoute] = ()) -> None:
    """Serve until interrupted. Access logs are off: they would put tenants' traffic in a log.
    `mounts`: more apps beside the API (the console)."""
    config = uvicorn.Config(
        gateway.app(mounts),
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
