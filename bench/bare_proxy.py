"""The baseline for bench/gateway.py: a bare pass-through proxy on the same stack as the gateway
(Starlette on uvicorn with uvloop + httptools, an aiohttp client) that forwards the body and
returns the answer without reading either. `python bench/bare_proxy.py PORT UPSTREAM_BASE_URL`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def app(upstream: str) -> Starlette:
    session: dict[str, aiohttp.ClientSession] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        session["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)
        yield
        await session["s"].close()

    async def forward(request: Request) -> Response:
        body = await request.body()
        async with session["s"].post(upstream + "/chat/completions", data=body, headers={"content-type": "application/json"}) as r:
            return Response(await r.read(), r.status, media_type=r.headers.get("content-type"))

    return Starlette(routes=[Route("/v1/chat/completions", forward, methods=["POST"])], lifespan=lifespan)


if __name__ == "__main__":
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    uvicorn.run(app(upstream), host="127.0.0.1", port=port, loop="auto", http="auto", access_log=False, log_level="warning")
