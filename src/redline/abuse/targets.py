"""Intrusion targets and scope: the external hosts, domains and address ranges a request touches
(in its text, tool-call arguments and tool results), which organization each belongs to, and
whether the tenant's declared cyber scope covers it.

Internal addresses (RFC 1918, loopback, link-local, shared CGNAT space) and internal names
(`.local`, `.internal`, `.corp` ...) are the organization's own or a compromised network's
inside: they carry no organization, so they are not counted. The documentation ranges
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are treated as public addresses.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import re2

from redline.abuse.account import ipv4_octets

_OPTIONS = re2.Options()
_OPTIONS.max_mem = 16 << 20
_OPTIONS.log_errors = False
_OPTIONS.case_sensitive = False
# an IPv4 address with an optional prefix length, or a dotted host name; one linear-time pass
_SCAN = re2.compile(
    r"(?:^|[^0-9A-Za-z.\-_@])(?:[A-Za-z0-9._%+\-]{1,64}@)?((?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?|"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24})",
    _OPTIONS,
)
_INTERNAL_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8")
)
_INTERNAL_SUFFIXES = ("local", "internal", "lan", "corp", "home", "localdomain", "intranet", "localhost", "test", "invalid", "example")
_GENERIC_TLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "info",
        "biz",
        "gov",
        "mil",
        "edu",
        "int",
        "io",
        "ai",
        "app",
        "dev",
        "cloud",
        "online",
        "site",
        "tech",
        "xyz",
        "store",
        "shop",
        "live",
        "pro",
        "name",
        "mobi",
        "asia",
        "systems",
        "network",
        "solutions",
        "services",
        "group",
        "company",
        "energy",
        "bank",
        "finance",
        "health",
        "media",
        "news",
        "host",
        "space",
        "world",
        "global",
    ]
)
# two-letter country domains that are also common file extensions: only with three labels or more
_FILE_LIKE = frozenset(
    [
        "py",
        "sh",
        "md",
        "js",
        "ts",
        "rs",
        "go",
        "cs",
        "pl",
        "pm",
        "rb",
        "cc",
        "hh",
        "mm",
        "so",
        "ps",
        "db",
        "gz",
        "xz",
        "bz",
        "el",
        "ml",
        "ex",
        "hs",
        "vb",
        "fs",
        "am",
        "ac",
        "in",
        "sc",
        "st",
    ]
)
_SECOND_LEVEL = frozenset(["co", "com", "ac", "gov", "org", "net", "edu", "ne", "or", "go", "gob", "mil"])
MAX_TARGETS = 64  # per request: a pasted host list is a fan-out, counted up to this many


class ScopeError(ValueError):
    """A cyber-scope pattern that is neither a CIDR range nor a domain pattern."""


@dataclass(frozen=True)
class Target:
    """An external host, domain or address range; `org` is its registrable domain or, for an
    address, its /24 (the unit fan-out is counted in)."""

    kind: str  # "ip" | "cidr" | "domain"
    value: str
    org: str


def _internal(o: tuple[int, int, int, int]) -> bool:
    a, b = o[0], o[1]
    return (
        a in (0, 10, 127)
        or (a == 172 and 16 <= b <= 31)
        or (a == 192 and b == 168)
        or (a == 169 and b == 254)
        or (a == 100 and 64 <= b <= 127)
    )


@functools.lru_cache(maxsize=65536)
def _ip_target(text: str) -> Target | None:
    if "/" not in text:  # a plain address: parsed by hand (the common case)
        o = ipv4_octets(text)
        if o is None:
            return None
        if _internal(o):
            return None
        return Target("ip", text, f"{o[0]}.{o[1]}.{o[2]}.0/24")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if net.version != 4 or any(net.subnet_of(n) for n in _INTERNAL_NETS if n.version == 4):
        return None
    if "/" in text and net.prefixlen < 32:
        org = str(net) if net.prefixlen <= 24 else str(ipaddress.ip_network(f"{net.network_address}/24", strict=False))
        return Target("cidr", str(net), org)
    return Target("ip", str(net.network_address), str(ipaddress.ip_network(f"{net.network_address}/24", strict=False)))


def registrable(host: str) -> str:
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@functools.lru_cache(maxsize=65536)
def _domain_target(host: str) -> Target | None:
    host = host.lower().strip(".")
    labels = host.split(".")
    tld = labels[-1]
    if tld in _INTERNAL_SUFFIXES:
        return None
    if len(tld) == 2:
        if tld in _FILE_LIKE and len(labels) < 3:
            return None
    elif tld not in _GENERIC_TLDS:
        return None
    return Target("domain", host, registrable(host))


def extract_targets(text: str, ignore: Iterable[str] = ()) -> list[Target]:
    """External targets in `text`, in order of first appearance, without repeats; domains under
    an `ignore` suffix (references such as documentation sites) left out."""
    ignored = tuple(ignore)
    out: dict[str, Target] = {}
    for m in _SCAN.finditer(text):
        raw = m.group(1)
        target = _ip_target(raw) if raw[0].isdigit() and raw.replace(".", "").replace("/", "").isdigit() else _domain_target(raw)
        if target is None or target.value in out:
            continue
        if target.kind == "domain" and _under(target.value, ignored):
            continue
        out[target.value] = target
        if len(out) >= MAX_TARGETS:
            break
    return list(out.values())


def _under(host: str, suffixes: tuple[str, ...]) -> bool:
    return any(host == s or host.endswith("." + s) for s in suffixes)


class CyberScope:
    """A tenant's declared authorized targets: CIDR ranges and domain patterns (`example.com`
    covers the domain and its subdomains; `*.example.com` the same)."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        domains: list[str] = []
        self.patterns = tuple(str(p) for p in patterns)
        for p in self.patterns:
            text = p.strip().lower()
            try:
                self.networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            domain = text[2:] if text.startswith("*.") else text.lstrip(".")
            if not domain or any(c.isspace() or c in "/:@*" for c in domain) or "." not in domain:
                raise ScopeError(f"cyber scope entry {p[:80]!r} is neither a CIDR range nor a domain pattern")
            domains.append(domain)
        self.domains = tuple(domains)
        self._covers: dict[str, bool] = {}  # target value -> covered (bounded)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def covers(self, target: Target) -> bool:
        hit = self._covers.get(target.value)
        if hit is None:
            if target.kind == "domain":
                hit = _under(target.value, self.domains)
            else:
                net = ipaddress.ip_network(target.value, strict=False)
                hit = any(net.version == n.version and net.subnet_of(n) for n in self.networks)  # type: ignore[arg-type]
            if len(self._covers) >= 65536:
                self._covers.clear()
            self._covers[target.value] = hit
        return hit
