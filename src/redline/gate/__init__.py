"""The gate: lethal-effect tool calls execute only with a signed human authorization.

Owns the tool registry (effect classes from the policy), operator keys and the operator registry,
challenges, authorizations, verification with single-use nonces (its own tables through
`redline.store`), the `Gate.check_call` verdict enforcement points call, and the MCP tool proxy.
Must not classify text, speak HTTP or touch other capabilities' tables; it records its decisions
through `redline.ledger` and holds only public keys on the server side.
"""

from redline.gate.authorization import authorize
from redline.gate.challenge import args_sha256, canonical
from redline.gate.errors import GateError, GateUnavailable
from redline.gate.gate import Gate, Verdict, open_gate
from redline.gate.keys import keygen, load_operator_key, load_operator_public_key
from redline.gate.registry import ToolClass, ToolRegistry
from redline.gate.store import GateStore, Operator
from redline.gate.toolcalls import HeldCall, check_tool_call, gate_anthropic_content, gate_openai_message
from redline.gate.verify import Call, Outcome, Verifier
from redline.gate.wire import authorizations_from, encode_header, without_redline

__all__ = [
    "Call",
    "Gate",
    "GateError",
    "GateStore",
    "GateUnavailable",
    "HeldCall",
    "Operator",
    "Outcome",
    "ToolClass",
    "ToolRegistry",
    "Verdict",
    "Verifier",
    "args_sha256",
    "authorizations_from",
    "authorize",
    "canonical",
    "check_tool_call",
    "encode_header",
    "gate_anthropic_content",
    "gate_openai_message",
    "keygen",
    "load_operator_key",
    "load_operator_public_key",
    "open_gate",
    "without_redline",
]
