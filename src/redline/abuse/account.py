"""`AccountMeta`: who inside a tenant sent a request — the account, the client address and the
payment or organization reference — read from a replay line or from the gateway's request, and the
keys that link accounts sharing network or payment infrastructure."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANONYMOUS = "-"  # requests that name no account are counted as one account of the tenant
_MAX_FIELD = 200


@dataclass(frozen=True)
class AccountMeta:
    account: str = ANONYMOUS
    client_ip: str | None = None
    org_ref: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> AccountMeta:
        """From a replay line's `account`, `client_ip` and `org_ref` (missing or empty: unknown)."""
        return cls.of(item.get("account"), item.get("client_ip"), item.get("org_ref"))

    @classmethod
    def of(cls, account: Any, client_ip: Any = None, org_ref: Any = None) -> AccountMeta:
        return cls(_text(account) or ANONYMOUS, _text(client_ip), _text(org_ref))

    def link_keys(self) -> list[str]:
        """Keys that link this account to others on the same infrastructure: its network (an IPv4
        /24 or an IPv6 /48: one proxy pool or one site) and its payment / organization reference."""
        keys = []
        net = network_of(self.client_ip)
        if net is not None:
            keys.append("net:" + net)
        if self.org_ref:
            keys.append("org:" + self.org_ref)
        return keys


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()[:_MAX_FIELD]
    return text or None


@functools.lru_cache(maxsize=65536)
def network_of(client_ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) of an address; None when it is not an address."""
    if not client_ip:
        return None
    try:
        addr = ipaddress.ip_address(client_ip.split("%", 1)[0])
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
