"""Kill-chain phases of agent traffic, per account: which phases (reconnaissance, exploitation,
credential access, lateral movement, exfiltration, persistence) ran against targets outside the
tenant's declared scope, how many organizations they reached, at what pace, under what claims.

Each step of an AI-orchestrated intrusion can look harmless alone ("enumerate the subdomains",
"check which hosts run an old version", "collect the config files"); the campaign is the sequence
against out-of-scope targets. A step that names no target continues the account's last
out-of-scope target for `attribution_seconds` (an agent's next step rarely repeats the host).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from redline.abuse.targets import Target
from redline.policy.schema import IntrusionConfig

PHASES = ("recon", "exploitation", "credential_access", "lateral_movement", "exfiltration", "persistence")
_MAX_ORGS = 512
_MAX_SAMPLE = 10


@dataclass(slots=True)
class Engagement:
    """One account's (or the whole tenant's) out-of-scope activity in the current window."""

    first: float
    last: float
    requests: int = 0
    oos_requests: int = 0
    oos_last: float = float("-inf")
    phases: dict[str, list[float]] = field(default_factory=dict)  # phase -> [first, last, requests]
    orgs: OrderedDict[str, float] = field(default_factory=OrderedDict)
    sample: list[str] = field(default_factory=list)  # out-of-scope targets, first few
    claims: int = 0
    machine: int = 0  # requests at machine pace
    max_per_minute: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    accounts: list[str] = field(default_factory=list)  # for the tenant-wide engagement

    def pace(self, ts: float, machine_per_minute: int) -> None:
        recent = self.recent
        recent.append(ts)
        while recent and ts - recent[0] > 60.0:
            recent.popleft()
        n = len(recent)
        self.max_per_minute = max(self.max_per_minute, n)
        if n >= machine_per_minute:
            self.machine += 1

    def record(self, ts: float, phases: frozenset[str], oos: list[Target], in_scope: bool, claim: bool, attribution: float) -> bool:
        """Count one request; True when it is attributed to out-of-scope activity (it names an
        out-of-scope target, or it is a step naming no in-scope one soon after such a request)."""
        self.requests += 1
        self.last = max(self.last, ts)
        attributed = bool(oos) or (bool(phases) and not in_scope and ts - self.oos_last <= attribution)
        if not attributed:
            return False
        self.oos_requests += 1
        if oos:
            self.oos_last = ts
            for t in oos:
                if t.org not in self.orgs and len(self.sample) < _MAX_SAMPLE:
                    self.sample.append(t.value)
                self.orgs[t.org] = ts
                self.orgs.move_to_end(t.org)
            while len(self.orgs) > _MAX_ORGS:
                self.orgs.popitem(last=False)
        for p in phases:
            span = self.phases.get(p)
            if span is None:
                self.phases[p] = [ts, ts, 1.0]
            else:
                span[1] = ts
                span[2] += 1
        self.claims += claim
        return True

    def campaign(self, cfg: IntrusionConfig) -> bool:
        """Out-of-scope targets with enough of the chain: `min_phases` phases, or `fanout_phases`
        across `fanout_orgs` organizations; reconnaissance alone never is one."""
        if not self.orgs or not (self.phases.keys() - {"recon"}):
            return False
        n = len(self.phases)
        return n >= cfg.min_phases or (len(self.orgs) >= cfg.fanout_orgs and n >= cfg.fanout_phases)

    def timeline(self) -> list[dict[str, Any]]:
        return [
            {"phase": p, "first": s[0], "last": s[1], "requests": int(s[2])}
            for p, s in sorted(self.phases.items(), key=lambda kv: (kv[1][0], PHASES.index(kv[0])))
        ]

    def to_state(self) -> list[Any]:
        return [self.first, self.last, self.requests, self.oos_requests, None if self.oos_last == float("-inf") else self.oos_last,
                self.phases, list(self.orgs.items()), self.sample, self.claims, self.machine, self.max_per_minute,
                list(self.recent), self.accounts]  # fmt: skip

    @classmethod
    def from_state(cls, row: list[Any]) -> Engagement:
        e = cls(float(row[0]), float(row[1]), int(row[2]), int(row[3]), float("-inf") if row[4] is None else float(row[4]))
        e.phases = {str(p): [float(x) for x in s] for p, s in row[5].items()}
        e.orgs = OrderedDict((str(o), float(t)) for o, t in row[6])
        e.sample = [str(x) for x in row[7]]
        e.claims, e.machine, e.max_per_minute = int(row[8]), int(row[9]), int(row[10])
        e.recent.extend(float(t) for t in row[11])
        e.accounts = [str(a) for a in row[12]]
        return e


TENANT = "*"  # the tenant-wide engagement: a campaign spread over several accounts


class IntrusionState:
    """One tenant's engagements: per account, and tenant-wide under `TENANT`."""

    def __init__(self, cfg: IntrusionConfig) -> None:
        self.cfg = cfg
        self.engagements: OrderedDict[str, Engagement] = OrderedDict()

    def active(self, account: str, ts: float) -> bool:
        """Whether the account has out-of-scope activity recent enough to attribute a step to."""
        e = self.engagements.get(account)
        return e is not None and ts - e.oos_last <= self.cfg.attribution_seconds

    def _engagement(self, key: str, ts: float) -> Engagement:
        e = self.engagements.get(key)
        if e is None or ts - e.last > self.cfg.window_seconds:
            e = self.engagements[key] = Engagement(ts, ts)
        self.engagements.move_to_end(key)
        return e

    def observe(
        self, account: str, ts: float, phases: frozenset[str], oos: list[Target], in_scope: bool, claim: bool
    ) -> tuple[Engagement, Engagement | None]:
        """Count one request of `account`; returns its engagement and the tenant-wide one (None
        when the request was not attributed to out-of-scope activity)."""
        cfg = self.cfg
        mine = self._engagement(account, ts)
        mine.pace(ts, cfg.machine_requests_per_minute)
        attributed = mine.record(ts, phases, oos, in_scope, claim, cfg.attribution_seconds)
        while len(self.engagements) > cfg.tracked_accounts:
            self.engagements.popitem(last=False)
        if not attributed:
            return mine, None
        wide = self._engagement(TENANT, ts)
        wide.record(ts, phases, oos, in_scope, claim, cfg.attribution_seconds)
        if len(mine.recent) >= cfg.machine_requests_per_minute:
            wide.machine += 1
        wide.max_per_minute = max(wide.max_per_minute, mine.max_per_minute)
        if account not in wide.accounts and len(wide.accounts) < 100:
            wide.accounts.append(account)
        return mine, wide

    def to_state(self) -> list[Any]:
        return [[k, e.to_state()] for k, e in self.engagements.items()]

    def load_state(self, rows: list[Any]) -> None:
        self.engagements = OrderedDict((str(k), Engagement.from_state(row)) for k, row in rows)
