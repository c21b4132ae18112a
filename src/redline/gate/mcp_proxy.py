"""`redline mcp-proxy`: the gate between an agent and an MCP server, on the official `mcp` SDK.

The proxy launches the real server as a child over stdio and serves the agent on its own stdio.
`tools/list` passes through with each tool's effect class in `_meta["redline/effect"]`;
non-lethal `tools/call` passes through; a lethal call runs only when `Gate.check_call` releases
it, with the authorization taken from the call's `_meta["redline/authorization"]` (or, for clients
that cannot set `_meta`, the argument `_redline_authorization`, removed before hashing and
forwarding). Otherwise the agent gets an `isError` tool result whose structured content is
`{"redline": {"status": "approval_required", "challenge": {...}}}` (or `denied` with a reason).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import anyio
import mcp_types as types
import orjson
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

from redline.gate.gate import Gate, Verdict

META_AUTHORIZATION = "redline/authorization"
META_EFFECT = "redline/effect"
ARG_AUTHORIZATION = "_redline_authorization"


def tool_annotations(tool: types.Tool) -> dict[str, Any]:
    """A tool's MCP annotations (wire names) merged with its `_meta`: what registry rules match on.
    A server's own marks (e.g. `_meta["redline/effect"]`) can only raise the class the policy gives."""
    out: dict[str, Any] = dict(tool.meta or {})
    if tool.annotations is not None:
        out.update(tool.annotations.model_dump(by_alias=True, exclude_none=True))
    return out


def split_authorization(params: types.CallToolRequestParams) -> tuple[dict[str, Any], Any, dict[str, Any] | None]:
    """(arguments without the redline field, the authorization or None, `_meta` without it)."""
    arguments = dict(params.arguments or {})
    meta = dict(params.meta or {})
    auth = meta.pop(META_AUTHORIZATION, None)
    from_args = arguments.pop(ARG_AUTHORIZATION, None)
    return arguments, auth if auth is not None else from_args, meta or None


def held_result(verdict: Verdict) -> types.CallToolResult:
    body = {"redline": verdict.to_dict()}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=orjson.dumps(body).decode())], structured_content=body, is_error=True
    )


class GatedProxy:
    """The request handlers of the proxy, over one upstream session."""

    def __init__(self, gate: Gate, tenant: str, upstream: ClientSession) -> None:
        self.gate = gate
        self.tenant = tenant
        self.upstream = upstream
        self.annotations: dict[str, dict[str, Any]] = {}

    async def _refresh(self, params: types.PaginatedRequestParams | None = None) -> types.ListToolsResult:
        result = await self.upstream.list_tools(params=params)
        for tool in result.tools:
            self.annotations[tool.name] = tool_annotations(tool)
        return result

    async def list_tools(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        result = await self._refresh(params)
        for tool in result.tools:
            cls = self.gate.classify(tool.name, self.annotations[tool.name])
            tool.meta = {**(tool.meta or {}), META_EFFECT: cls.effect}
            if cls.lethal:
                note = f"[redline: lethal effect; runs only with a signed authorization by a {cls.approver_role}]"
                tool.description = f"{tool.description or ''}\n{note}".strip()
        return result

    async def call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name not in self.annotations:
            await self._refresh()
        arguments, auth, meta = split_authorization(params)
        verdict = self.gate.check_call(self.tenant, params.name, arguments, auth, self.annotations.get(params.name))
        if not verdict.executable:
            return held_result(verdict)
        result = await self.upstream.call_tool(params.name, arguments, meta=meta)  # type: ignore[arg-type]
        assert isinstance(result, types.CallToolResult)
        return result


async def serve(gate: Gate, tenant: str, command: Sequence[str]) -> None:
    """Run the proxy until the agent closes its side."""
    upstream_params = StdioServerParameters(command=command[0], args=list(command[1:]), env=dict(os.environ))
    async with stdio_client(upstream_params) as (up_read, up_write), ClientSession(up_read, up_write) as upstream:
        await upstream.initialize()
        proxy = GatedProxy(gate, tenant, upstream)
        server: Server[Any] = Server("redline-mcp-proxy", on_list_tools=proxy.list_tools, on_call_tool=proxy.call_tool)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


def run_proxy(gate: Gate, tenant: str, command: Sequence[str]) -> None:
    anyio.run(serve, gate, tenant, command)
