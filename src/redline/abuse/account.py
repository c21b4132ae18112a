"""`AccountMeta`: who inside a tenant sent a request — the account, the client address and the
payment or organization reference — read from a replay line or from the gateway's request, and the
keys that link accounts sharing network or payment infrastructure."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any

ANONYMOUS = "-"  # requests that name no account are counted as one account of the tenant
_MAX_FIELD = 200
_SEEN_LIMIT = 65_536


class AccountMeta:
    """Immutable by convention (instances are shared through a cache); `link_keys` is computed on
    first use, since most requests never need it."""

    __slots__ = ("_links", "account", "client_ip", "org_ref")

    def __init__(self, account: str = ANONYMOUS, client_ip: str | None = None, org_ref: str | None = None) -> None:
        self.account = account
        self.client_ip = client_ip
        self.org_ref = org_ref
        self._links: list[str] | None = None

    def __repr__(self) -> str:
        return f"AccountMeta(account={self.account!r}, client_ip={self.client_ip!r}, org_ref={self.org_ref!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AccountMeta) and (self.account, self.client_ip, self.org_ref) == (
            other.account,
            other.client_ip,
            other.org_ref,
        )

    def __hash__(self) -> int:
        return hash((self.account, self.client_ip, self.org_ref))

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> AccountMeta:
        """From a replay line's `account`, `client_ip` and `org_ref` (missing or empty: unknown)."""
        raw = (item.get("account"), item.get("client_ip"), item.get("org_ref"))
        try:
            meta = _SEEN.get(raw)
        except TypeError:  # a field that is not hashable (a list...): read it as text
            return cls.of(*raw)
        if meta is None:
            if len(_SEEN) >= _SEEN_LIMIT:
                _SEEN.clear()
            meta = _SEEN[raw] = cls.of(*raw)
        return meta

    @classmethod
    def of(cls, account: Any, client_ip: Any = None, org_ref: Any = None) -> AccountMeta:
        return cls(_text(account) or ANONYMOUS, _text(client_ip), _text(org_ref))

    def link_keys(self) -> list[str]:
        """Keys that link this account to others on the same infrastructure: its network (an IPv4
        /24 or an IPv6 /48: one proxy pool or one site) and its payment / organization reference."""
        keys = self._links
        if keys is None:
            keys = []
            net = network_of(self.client_ip)
            if net is not None:
                keys.append("net:" + net)
            if self.org_ref:
                keys.append("org:" + self.org_ref)
            self._links = keys
        return keys


_SEEN: dict[tuple[Any, Any, Any], AccountMeta] = {}  # the same sender sends many requests: read its fields once


def _text(value: Any) -> str | None:
    if type(value) is str and 0 < len(value) <= _MAX_FIELD and not value[0].isspace() and not value[-1].isspace():
        return value  # the common case first
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()[:_MAX_FIELD]
    return text or None


@functools.lru_cache(maxsize=65536)
def network_of(client_ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) of an address; None when it is not an address."""
    if not client_ip:
        return None
    octets = ipv4_octets(client_ip)
    if octets is not None:
        return f"{octets[0]}.{octets[1]}.{octets[2]}.0/24"
    try:
        addr = ipaddress.ip_address(client_ip.split("%", 1)[0])
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def ipv4_octets(text: str) -> tuple[int, int, int, int] | None:
    """The four octets of a dotted-quad IPv4 address (no leading zeros), else None: the common
    case without the `ipaddress` module's per-call cost."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    out = []
    for p in parts:
        if not p.isdigit() or not p.isascii() or len(p) > 3 or (len(p) > 1 and p[0] == "0"):
            return None
        n = int(p)
        if n > 255:
            return None
        out.append(n)
    return out[0], out[1], out[2], out[3]
