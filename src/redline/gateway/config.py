"""The gateway's configuration: a YAML file validated with pydantic, plus the command line.

Errors name the file, the line and the field (`FILE:LINE: field: message`), like the policy
loader. Upstream API keys are never in the file: it names environment variables to read them from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from redline.policy.load import _field, _line_index, _nearest_line

ApiFormat = Literal["openai", "anthropic"]


class ConfigError(Exception):
    """A gateway configuration that cannot be used, with where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpstreamConfig(_Strict):
    """One provider endpoint. `url` is its API base (ending in `/v1`)."""

    name: str = Field(default="", max_length=64)
    url: str
    format: ApiFormat = "openai"
    api_key_env: str | None = None
    connect_timeout_s: float = Field(default=3.0, gt=0)
    timeout_s: float = Field(default=300.0, gt=0)  # between bytes: a whole answer arrives only when generated
    models: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")

    def api_key(self) -> str | None:
        """The key from the named environment variable (read at start; never logged)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class BreakerConfig(_Strict):
    failures: int = Field(default=3, ge=1)
    cooldown_s: float = Field(default=10.0, gt=0)


class LimitsConfig(_Strict):
    max_body_bytes: int = Field(default=4 << 20, ge=1024)
    client_body_timeout_s: float = Field(default=10.0, gt=0)


class StreamConfig(_Strict):
    holdback_chars: int = Field(default=200, ge=1, le=100_000)


class LedgerConfig(_Strict):
    queue_size: int = Field(default=10_000, ge=1)
    batch_max: int = Field(default=256, ge=1)
    # How long a batch of allow decisions (nobody awaits their commit) stays open for more.
    linger_s: float = Field(default=0.005, ge=0, le=1)


class GatewayConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    db: str | None = None
    redis: str | None = None  # redis://host:port/db: monitor state shared by replicas
    ledger_key: str | None = None
    policy: str | None = None
    on_review: Literal["hold", "flag"] = "flag"
    tenant_cache_s: float = Field(default=5.0, ge=0)
    upstreams: list[UpstreamConfig] = Field(default_factory=list)
    breaker: BreakerConfig = BreakerConfig()
    limits: LimitsConfig = LimitsConfig()
    stream: StreamConfig = StreamConfig()
    ledger: LedgerConfig = LedgerConfig()

    def with_names(self) -> GatewayConfig:
        """Every upstream named (`openai-1`, `anthropic-2`, ... when the file gives no name)."""
        named = [u if u.name else u.model_copy(update={"name": f"{u.format}-{i + 1}"}) for i, u in enumerate(self.upstreams)]
        return self.model_copy(update={"upstreams": named})


def load_config(path: str | None) -> GatewayConfig:
    """The configuration at `path` (defaults when None); `ConfigError` says where it is wrong."""
    if path is None:
        return GatewayConfig()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise ConfigError(f"{where}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
    if data is None:
        return GatewayConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: (document): must be a mapping")
    try:
        return GatewayConfig.model_validate(data).with_names()
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        line = _nearest_line(_line_index(node), loc) if node is not None else None
        where = f"{path}:{line}" if line is not None else path
        raise ConfigError(f"{where}: {_field(loc)}: {err['msg']}") from None
