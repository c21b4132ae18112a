"""The gateway: an OpenAI- and Anthropic-compatible HTTP endpoint in front of any provider.

Owns the wire formats, authentication of tenants per request, the enforcement pipeline (input
decision, output check with a streaming hold-back buffer, tool-call check), upstream failover,
metrics, and ledger writes from a background thread. Must not classify or decide on its own (the
engine does), nor own tables (tenants and the ledger do).
"""

from redline.gateway.app import Gateway
from redline.gateway.config import ConfigError, GatewayConfig, UpstreamConfig, load_config
from redline.gateway.pipeline import Gate, Monitor, Pipeline, Verdict

__all__ = ["ConfigError", "Gate", "Gateway", "GatewayConfig", "Monitor", "Pipeline", "UpstreamConfig", "Verdict", "load_config"]
