"""Distillation signals per account and the network judgment over linked accounts.

An account is *suspicious* once it has sent `min_requests` requests and: a share of them elicit
reasoning traces, rubrics or graded answers (`min_elicitation`); its volume or timing is beyond
interactive use (requests per active hour, round-the-clock activity, or machine-regular gaps); and
at least `min_points` of: its requests concentrate on one narrow capability (agentic coding, tool
use, reasoning), or repeat a template that other accounts also send. A cluster of linked accounts
(template, network, payment reference: `linking.py`) with `min_accounts` suspicious members is a
network; so are `min_accounts_unlinked` suspicious accounts in one tenant with no link found.
With the policy's `scope: provider` one state holds the accounts of every tenant (keys
`account_key(tenant, account)`), so a network spread over many customer accounts is linked too.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redline.abuse.account import AccountMeta
from redline.abuse.linking import Linker
from redline.abuse.neardup import TemplateIndex, template_keys
from redline.abuse.reading import Reading
from redline.monitor.monitor import SEPARATOR  # never in a tenant name
from redline.policy.schema import DistillationConfig

_SESSION_GAP = 3600.0  # gaps longer than this are pauses, not the pace of a session
_MIN_GAPS = 10
_CADENCE = 900.0
_INDEXED_REQUESTS = 2  # an account's eliciting requests are indexed until it has sent this many times min_requests
_REGULAR_CV = 0.4


@dataclass(slots=True)
class AccountStats:
    first: float
    last: float
    n: int = 0
    elicit: int = 0
    template: int = 0
    caps: dict[str, int] = field(default_factory=dict)
    hours: int = 0  # bit mask of hours of the day (UTC) seen
    active_hours: int = 0  # distinct clock hours with traffic
    last_hour: int = -1
    gaps: int = 0
    gap_sum: float = 0.0
    gap_sq: float = 0.0
    suspicious: bool = False
    links: list[str] = field(default_factory=list)  # the infrastructure keys last linked

    def rate(self) -> float:
        return self.n / max(1, self.active_hours)

    def regular(self) -> bool:
        """A machine's cadence: gaps of at most `_CADENCE` seconds on average with a coefficient of
        variation under `_REGULAR_CV` (people's gaps inside a session vary about as much as their mean)."""
        if self.gaps < _MIN_GAPS:
            return False
        mean = self.gap_sum / self.gaps
        var = max(0.0, self.gap_sq / self.gaps - mean * mean)
        return 0 < mean <= _CADENCE and math.sqrt(var) / mean < _REGULAR_CV

    def top_capability(self) -> tuple[str | None, int]:
        if not self.caps:
            return None, 0
        name = max(self.caps, key=lambda c: self.caps[c])
        return name, self.caps[name]

    def judge(self, cfg: DistillationConfig) -> bool:
        if self.n < cfg.min_requests or self.elicit < cfg.min_elicitation * self.n:
            return False
        timing = self.rate() >= cfg.machine_rate_per_hour or self.hours.bit_count() >= cfg.round_the_clock_hours or self.regular()
        if not timing:
            return False
        points = (self.top_capability()[1] >= cfg.min_capability_share * self.n) + (self.template >= cfg.min_template_share * self.n)
        return points >= cfg.min_points

    def summary(self, account: str) -> dict[str, Any]:
        cap, top = self.top_capability()
        return {
            "account": account,
            "requests": self.n,
            "elicitation_share": round(self.elicit / self.n, 3) if self.n else 0.0,
            "top_capability": cap,
            "capability_share": round(top / self.n, 3) if self.n else 0.0,
            "template_share": round(self.template / self.n, 3) if self.n else 0.0,
            "requests_per_active_hour": round(self.rate(), 1),
            "hours_of_day_active": self.hours.bit_count(),
            "regular_timing": self.regular(),
        }

    def to_state(self) -> list[Any]:
        return [self.first, self.last, self.n, self.elicit, self.template, self.caps, self.hours, self.active_hours, self.last_hour,
                self.gaps, self.gap_sum, self.gap_sq, self.suspicious, self.links]  # fmt: skip

    @classmethod
    def from_state(cls, row: list[Any]) -> AccountStats:
        return cls(float(row[0]), float(row[1]), int(row[2]), int(row[3]), int(row[4]), {str(k): int(v) for k, v in row[5].items()},
                   int(row[6]), int(row[7]), int(row[8]), int(row[9]), float(row[10]), float(row[11]), bool(row[12]), [str(k) for k in row[13]])  # fmt: skip


def account_key(tenant: str, account: str) -> str:
    """An account's key in provider-wide state: accounts of different tenants never merge."""
    return f"{tenant}{SEPARATOR}{account}"


def tenant_of(key: str) -> str:
    """The tenant of a provider-wide account key ("" for a tenant-scoped one)."""
    return key.partition(SEPARATOR)[0] if SEPARATOR in key else ""


def account_of(key: str) -> str:
    """The account name of a provider-wide account key (the key itself when tenant-scoped)."""
    return key.partition(SEPARATOR)[2] if SEPARATOR in key else key


def shown(key: str) -> str:
    """How a provider-wide account key is written in an alert: `tenant/account`."""
    tenant, sep, account = key.partition(SEPARATOR)
    return f"{tenant}/{account}" if sep else key


@dataclass(frozen=True)
class Network:
    """A network found: the suspicious accounts of one cluster (or of the tenant, unlinked)."""

    accounts: list[str]
    linked: bool
    links: dict[str, int]


class DistillationState:
    """The accounts, template index and links of one tenant (or, provider-wide, of all)."""

    def __init__(self, cfg: DistillationConfig) -> None:
        self.cfg = cfg
        self.accounts: OrderedDict[str, AccountStats] = OrderedDict()
        self.templates = TemplateIndex(cfg.template_accounts, cfg.tracked_templates)
        self.linker = Linker(cfg.tracked_accounts)
        self.suspicious: list[str] = []  # every suspicious account of the tenant, in order found
        self._window = float(cfg.window_seconds)
        self._tracked = cfg.tracked_accounts
        self._indexed_until = _INDEXED_REQUESTS * cfg.min_requests
        self._min_requests = cfg.min_requests
        self._min_elicitation = cfg.min_elicitation

    def observe(self, account: str, ts: float, reading: Reading, sender: Mapping[str, Any] | None) -> Network | None:
        """Count one request (`reading`: what it says; `sender`: its `account` / `client_ip` /
        `org_ref`, read for link keys only when the account still feeds the index); a `Network`
        when this request completes one (the caller alerts once)."""
        accounts = self.accounts
        stats = accounts.get(account)
        if stats is None or ts - stats.last > self._window:
            was = stats is not None and stats.suspicious
            stats = AccountStats(ts, ts)
            if was:  # a fresh start: the account must show the pattern again
                self.suspicious = [a for a in self.suspicious if a != account]
            accounts[account] = stats
            if len(accounts) > self._tracked:
                accounts.move_to_end(account)
                while len(accounts) > self._tracked:
                    accounts.popitem(last=False)
        accounts.move_to_end(account)
        elicit = reading.elicit
        # only eliciting accounts can turn suspicious; a suspicious one is linked already (its
        # template keys stay in the index for newcomers); an account judged on this many requests
        # without turning suspicious has shown its pattern: the others' requests are counted only
        indexed = elicit and not stats.suspicious and stats.n < self._indexed_until
        shared = False
        partners: set[str] = set()
        if indexed:
            keys = template_keys(reading.prompt())
            if keys:
                shared, partners = self.templates.add(account, keys, ts, self.cfg.window_seconds)
        # the account's counters, inline (every request of every account passes here)
        gap = ts - stats.last
        if 0.0 < gap <= _SESSION_GAP and stats.n:
            stats.gaps += 1
            stats.gap_sum += gap
            stats.gap_sq += gap * gap
        if gap > 0.0:
            stats.last = ts
        stats.n += 1
        if elicit:
            stats.elicit += 1
        if shared:
            stats.template += 1
        caps = reading.capabilities
        if caps:
            counts = stats.caps
            for c in caps:
                counts[c] = counts.get(c, 0) + 1
        hour = int(ts // 3600)
        if hour != stats.last_hour:
            stats.last_hour = hour
            stats.active_hours += 1
            stats.hours |= 1 << (hour % 24)
        if indexed:
            link_keys = AccountMeta.from_item(sender).link_keys() if sender else []
            if link_keys != stats.links:  # the same network and payment reference as last time are linked already
                stats.links = link_keys
                infra = self.linker.linked(link_keys, account)
                if infra:
                    self.linker.link(account, infra, "infrastructure")
            if partners:
                self.linker.link(account, partners, "template")
        if not elicit or stats.suspicious or stats.n < self._min_requests or stats.elicit < self._min_elicitation * stats.n:
            return None  # what `AccountStats.judge` checks first, without the calls
        return self._judge(account, stats)

    def _judge(self, account: str, stats: AccountStats) -> Network | None:
        cfg = self.cfg
        if not stats.judge(cfg):
            return None
        stats.suspicious = True
        self.suspicious.append(account)
        root, members = self.linker.mark(account)
        if len(members) >= cfg.min_accounts:
            return Network(list(members), True, dict(self.linker.via.get(root, {})))
        tenant = tenant_of(account)
        unlinked = self.suspicious if not tenant else [a for a in self.suspicious if tenant_of(a) == tenant]
        if len(unlinked) >= cfg.min_accounts_unlinked:
            return Network(list(unlinked), False, {})
        return None

    def members(self, account: str) -> list[str]:
        """The suspicious accounts of `account`'s cluster."""
        return list(self.linker.suspicious.get(self.linker.find(account), ()))

    def to_state(self) -> dict[str, Any]:
        return {
            "accounts": [[a, s.to_state()] for a, s in self.accounts.items()],
            "templates": self.templates.to_state(),
            "linker": self.linker.to_state(),
            "suspicious": self.suspicious,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.accounts = OrderedDict((str(a), AccountStats.from_state(row)) for a, row in state["accounts"])
        self.templates.load_state(state["templates"])
        self.linker.load_state(state["linker"])
        self.suspicious = [str(a) for a in state["suspicious"]]
