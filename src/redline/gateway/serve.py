"""Build a `Gateway` from its configuration and run it on uvicorn (uvloop + httptools)."""

from __future__ import annotations

import gc
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
    tune_gc()
    uvicorn.Server(config).run()


# Young collections every 700 allocations cost ~0.5 ms each in the loaded server (measured: about
# one per seven requests); per-request garbage is freed by reference counting, so collecting the
# young generation less often finds the same (little) cyclic garbage for far less work.
YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Before serving: move everything loaded so far (policy, model, vocabulary, caches) out of the
    collector's reach — it is never garbage — and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
