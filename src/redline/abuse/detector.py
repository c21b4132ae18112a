"""`AbuseDetector`: the glue between one request and the account-level detectors. The Monitor calls
`read` outside its lock and `observe` inside it with the tenant's `AbuseState` (kept in the
monitor's per-tenant state and snapshot) and the one distillation is counted in: the same, or with
the policy's `distillation.scope: provider` the monitor's provider-wide state (`PROVIDER`), where accounts of
every tenant are linked. New alerts are monitor `Alert`s with `kind` `distillation` or `intrusion`
and the accounts involved — a network spanning several tenants is alerted under the tenant `*`
with accounts written `tenant/account` — and while one is open the listed accounts' further
matching requests are escalated as the policy's `action` says."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redline.abuse.account import AccountMeta
from redline.abuse.distillation import DistillationState, Network, account_key, account_of, shown, tenant_of
from redline.abuse.killchain import TENANT, Engagement, IntrusionState
from redline.abuse.reading import Reader, Reading
from redline.abuse.targets import CyberScope, Target, extract_targets
from redline.decide import Decision
from redline.monitor.alerts import Alert, iso
from redline.monitor.monitor import ALL_TENANTS
from redline.monitor.windows import CounterWindow
from redline.policy import Policy
from redline.policy.schema import AbuseConfig

STATE_FORMAT = 1
_RANK = {"allow": 0, "review": 1, "block": 2}
_SAMPLES = 5
_COUNTER_BUCKETS = 24
NO_SCOPE = CyberScope()
_NAMES_LIMIT = 65_536
_ONE_REQUEST = {"requests": 1.0}  # read, never changed, by CounterWindow.add
_NO_ALERTS: tuple[Alert, ...] = ()
_TARGETS_CACHED_CHARS = 4096  # requests up to this long have their targets cached (agents resend steps)
_TARGETS_CACHE_LIMIT = 4096
RULES = {"distillation": "abuse.distillation.network", "intrusion": "abuse.intrusion.out_of_scope"}


class AbuseState:
    """One tenant's abuse state: the detectors' accounts, request counters over their windows,
    and which accounts an open alert names (account -> kind -> alert id)."""

    def __init__(self, cfg: AbuseConfig) -> None:
        self.distillation = DistillationState(cfg.distillation)
        self.intrusion = IntrusionState(cfg.intrusion)
        self.counters = {
            "distillation": CounterWindow(cfg.distillation.window_seconds, _COUNTER_BUCKETS),
            "intrusion": CounterWindow(cfg.intrusion.window_seconds, _COUNTER_BUCKETS),
        }
        self.samples: dict[str, list[str]] = {"distillation": [], "intrusion": []}
        self.flagged: dict[str, dict[str, str]] = {}
        self.open: dict[str, dict[str, Any]] = {}  # alert id -> {kind, rule, accounts}
        self.cleared: dict[str, float] = {}  # "kind:account" -> when a reviewer cleared it
        self.serial = 0

    def to_state(self) -> dict[str, Any]:
        return {
            "v": STATE_FORMAT,
            "distillation": self.distillation.to_state(),
            "intrusion": self.intrusion.to_state(),
            "counters": {k: c.to_state() for k, c in self.counters.items()},
            "samples": self.samples,
            "flagged": self.flagged,
            "open": self.open,
            "cleared": self.cleared,
            "serial": self.serial,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("v") != STATE_FORMAT:
            raise ValueError(f"unknown abuse state format {state.get('v')!r}")
        self.distillation.load_state(state["distillation"])
        self.intrusion.load_state(state["intrusion"])
        for k, sub in state["counters"].items():
            if k in self.counters:
                self.counters[k].load_state(sub)
        self.samples = {k: [str(x) for x in v] for k, v in state["samples"].items()}
        self.flagged = {str(a): {str(k): str(i) for k, i in v.items()} for a, v in state["flagged"].items()}
        self.open = dict(state["open"])
        self.cleared = {str(k): float(v) for k, v in state["cleared"].items()}
        self.serial = int(state["serial"])


class AbuseDetector:
    def __init__(self, policy: Policy) -> None:
        cfg = policy.document.abuse
        if cfg is None:
            raise ValueError("the policy has no abuse section")
        self.cfg = cfg
        self.policy = policy
        self.reader = Reader(cfg)
        self._ignore = tuple(cfg.intrusion.ignore_domains)
        self._cyber_authorities = frozenset(cfg.intrusion.cyber_authorities)
        self._scopes: dict[tuple[str, ...], CyberScope] = {}
        self._cited: dict[str, dict[str, Any]] = {}
        self._distillation = cfg.distillation.enabled
        self.provider_wide = cfg.distillation.scope == "provider"
        self._intrusion = cfg.intrusion.enabled
        self._targets: dict[str, tuple[Target, ...]] = {}
        self._names: dict[str, str] = {}  # account field as sent -> account name
        self._attribution = float(cfg.intrusion.attribution_seconds)

    # -- reading (outside the lock) ----------------------------------------------------------------

    @property
    def patterns(self) -> list[tuple[str, str]]:
        """The lexicon the monitor reads in its own pass (`Profiler(extra=...)`)."""
        return self.reader.patterns

    def inputs(
        self,
        request: Any,
        conversation: Any,
        fired: frozenset[str],
        raw: str | None,
        sender: Mapping[str, Any] | None,
        patterns: Iterable[str],
        authorities: Iterable[str],
    ) -> tuple[Reading, str, CyberScope]:
        """`read`, `account` and `scope` of one request in one call (the monitor's, outside its
        lock). ScopeError on a bad scope pattern."""
        return self.reader.read(request, conversation, fired, raw), self.account(sender), self.scope(patterns, authorities)

    def read(self, request: Any, conversation: Any = None, fired: frozenset[str] | None = None, raw: str | None = None) -> Reading:
        return self.reader.read(request, conversation, fired, raw)

    def account(self, sender: Mapping[str, Any] | None) -> str:
        """The account that sent a request (`sender`: `{"account", "client_ip", "org_ref"}`, a replay
        line will do); the rest of the sender is read only when the account's links are needed."""
        raw = sender.get("account") if sender else None
        if type(raw) is not str:
            return AccountMeta.of(raw).account
        name = self._names.get(raw)
        if name is None:
            if len(self._names) >= _NAMES_LIMIT:
                self._names.clear()
            name = self._names[raw] = AccountMeta.of(raw).account
        return name

    def scope(self, patterns: Iterable[str], authorities: Iterable[str]) -> CyberScope:
        """The scope honored for a tenant: its declared patterns when it holds a cyber authority,
        else none (every external target is out of scope). ScopeError on a bad pattern."""
        if self._cyber_authorities.isdisjoint(authorities):
            return NO_SCOPE
        key = patterns if isinstance(patterns, tuple) else tuple(patterns)
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = CyberScope(key)
        return scope

    # -- one request (inside the monitor's lock) ---------------------------------------------------

    def observe(
        self,
        state: AbuseState,
        shared: AbuseState,
        tenant: str,
        request_id: str,
        ts: float,
        request: Any,
        reading: Reading,
        account: str,
        sender: Mapping[str, Any] | None,
        scope: CyberScope,
        decision: Decision,
    ) -> tuple[Sequence[Alert], Decision]:
        """Count one request of `account` (`sender`: what `account` was read from); `state`: the
        tenant's, `shared`: where distillation is counted (`state`, or the provider-wide state).
        Returns the alerts it raised and the decision to enforce. A request that fires nothing and
        names no flagged account costs the account's counter updates and a few lookups."""
        alerts: Sequence[Alert] = _NO_ALERTS
        key = account_key(tenant, account) if shared is not state else account
        if self._distillation:
            network = shared.distillation.observe(key, ts, reading, sender)
            if reading.elicit:
                self._count(shared, "distillation", ts, request_id)
            if network is not None:
                alert = self._network_alert(shared, tenant, ts, network)
                if alert is not None:
                    alerts = [alert]
        oos: list[Target] = []
        if self._intrusion and (
            reading.phases
            or reading.claim
            or ((e := state.intrusion.engagements.get(account)) is not None and ts - e.oos_last <= self._attribution)
        ):
            if reading.raw is not None:
                raw = reading.raw
            else:
                from redline.monitor.profile import raw_text

                raw = raw_text(request)
            targets = self._targets_of(raw)
            oos = [t for t in targets if not scope.covers(t)]
            in_scope = len(oos) < len(targets)
            mine, wide = state.intrusion.observe(account, ts, reading.phases, oos, in_scope, reading.claim)
            if wide is not None:
                self._count(state, "intrusion", ts, request_id)
                alert = self._intrusion_alert(state, tenant, ts, account, mine, wide, scope)
                if alert is not None:
                    alerts = [*alerts, alert]
        if state.flagged:
            decision = self._escalate(state, account, reading, bool(oos), decision)
        if shared is not state and shared.flagged:
            decision = self._escalate(shared, key, reading, bool(oos), decision)
        return alerts, decision

    def _targets_of(self, raw: str) -> tuple[Target, ...]:
        """`extract_targets` (a pure function of the text), cached for requests of ordinary length."""
        if len(raw) > _TARGETS_CACHED_CHARS:
            return tuple(extract_targets(raw, self._ignore))
        targets = self._targets.get(raw)
        if targets is None:
            if len(self._targets) >= _TARGETS_CACHE_LIMIT:
                self._targets.clear()
            targets = self._targets[raw] = tuple(extract_targets(raw, self._ignore))
        return targets

    def _count(self, state: AbuseState, kind: str, ts: float, request_id: str) -> None:
        state.counters[kind].add(ts, _ONE_REQUEST)
        samples = state.samples[kind]
        samples.append(request_id)
        del samples[:-_SAMPLES]

    # -- alerts ------------------------------------------------------------------------------------

    def _network_alert(self, state: AbuseState, tenant: str, ts: float, network: Network) -> Alert | None:
        fresh = [a for a in network.accounts if "distillation" not in state.flagged.get(a, {}) and "distillation:" + a not in state.cleared]
        if not fresh:
            return None
        cfg = self.cfg.distillation
        open_ids = {state.flagged[a]["distillation"] for a in network.accounts if "distillation" in state.flagged.get(a, {})}
        if open_ids:
            # the cluster is already alerted: new members are escalated under that alert at once, and
            # named in a follow-up alert once `min_accounts` of them have joined
            info = state.open[sorted(open_ids)[0]]
            alert_id = sorted(open_ids)[0]
            joined: list[str] = info.setdefault("joined", [])
            for a in fresh:
                state.flagged.setdefault(a, {})["distillation"] = alert_id
                joined.append(a)
            if len(joined) < cfg.min_accounts:
                return None
            network = Network(list(joined), network.linked, network.links)
            info["joined"] = []
        accounts = [a for a in network.accounts if "distillation:" + a not in state.cleared]
        stats = [state.distillation.accounts[a] for a in accounts if a in state.distillation.accounts]
        capabilities: dict[str, int] = {}
        for s in stats:
            for c, n in s.caps.items():
                capabilities[c] = capabilities.get(c, 0) + n
        requests = sum(s.n for s in stats)
        counts = {
            "accounts": len(accounts),
            "requests": requests,
            "elicitation_requests": sum(s.elicit for s in stats),
            "template_requests": sum(s.template for s in stats),
            "tenant_requests_in_window": round(state.counters["distillation"].total("requests")),
            **{f"links_{k}": n for k, n in sorted(network.links.items())},
        }
        thresholds = {
            "min_accounts": cfg.min_accounts if network.linked else cfg.min_accounts_unlinked,
            "min_requests": cfg.min_requests,
        }
        # provider-wide keys: one tenant's accounts are written by name, several tenants' as tenant/account
        tenants = sorted({tenant_of(a) for a in accounts})
        names = accounts
        if tenants and tenants[0]:
            tenant, names = (
                (tenants[0], [account_of(a) for a in accounts]) if len(tenants) == 1 else (ALL_TENANTS, [shown(a) for a in accounts])
            )
        evidence: dict[str, Any] = {
            "action": cfg.action,
            "linked": network.linked,
            "links": network.links,
            "accounts_detail": [s.summary(n) for n, s in zip(names, stats, strict=False)][:50],
            "signals": {
                "elicitation_share": round(counts["elicitation_requests"] / requests, 3) if requests else 0.0,
                "template_share": round(counts["template_requests"] / requests, 3) if requests else 0.0,
            },
        }
        first = min((s.first for s in stats), default=ts)
        description = "a network of linked accounts eliciting reasoning traces or rubrics at machine volume on narrow capabilities"
        if tenant == ALL_TENANTS:
            evidence["tenants"] = tenants
            description += f", across {len(tenants)} tenants"
        return self._alert(state, tenant, "distillation", ts, accounts, counts, thresholds, capabilities, first, evidence,
                           description, cfg.window_seconds, names)  # fmt: skip

    def _intrusion_alert(
        self, state: AbuseState, tenant: str, ts: float, account: str, mine: Engagement, wide: Engagement, scope: CyberScope
    ) -> Alert | None:
        cfg = self.cfg.intrusion
        if mine.campaign(cfg):
            engagement, accounts = mine, [account]
        elif wide.campaign(cfg):
            # a campaign spread over accounts names those that ran part of the chain themselves
            # (at least `fanout_phases` phases), not every account that once named an outside host
            engagement = wide
            accounts = [
                a for a in wide.accounts if (e := state.intrusion.engagements.get(a)) is not None and len(e.phases) >= cfg.fanout_phases
            ]
        else:
            return None
        fresh = [a for a in accounts if "intrusion" not in state.flagged.get(a, {}) and "intrusion:" + a not in state.cleared]
        if not fresh:
            return None
        counts = {
            "organizations": len(engagement.orgs),
            "phases": len(engagement.phases),
            "requests": engagement.oos_requests,
            "machine_pace_requests": engagement.machine,
            "max_requests_per_minute": engagement.max_per_minute,
            "authorization_claims": engagement.claims,
        }
        thresholds = {
            "min_phases": cfg.min_phases,
            "fanout_orgs": cfg.fanout_orgs,
            "fanout_phases": cfg.fanout_phases,
            "machine_requests_per_minute": cfg.machine_requests_per_minute,
        }
        evidence = {
            "action": cfg.action,
            "timeline": [{**p, "first": iso(p["first"]), "last": iso(p["last"])} for p in engagement.timeline()],
            "targets": list(engagement.sample),
            "scope": {"declared": len(scope.patterns), "honored": bool(scope)},
            "machine_pace": engagement.machine > 0,
            "unverifiable_authorization_claims": engagement.claims,
        }
        phases = {str(p["phase"]): int(p["requests"]) for p in engagement.timeline()}
        description = "kill-chain phases against targets outside the tenant's declared cyber scope" + (
            f", across {len(engagement.orgs)} organizations" if len(engagement.orgs) > 1 else ""
        )
        return self._alert(
            state, tenant, "intrusion", ts, fresh, counts, thresholds, phases, engagement.first, evidence, description, cfg.window_seconds
        )

    def _alert(
        self,
        state: AbuseState,
        tenant: str,
        kind: str,
        ts: float,
        accounts: list[str],
        counts: dict[str, int],
        thresholds: dict[str, int],
        categories: dict[str, int],
        first: float,
        evidence: dict[str, Any],
        description: str,
        window_seconds: int,
        names: list[str] | None = None,
    ) -> Alert:
        """An alert flagging `accounts` (state keys) in `state`; `names`: how the alert writes them."""
        state.serial += 1
        rule = RULES[kind]
        action = str(evidence["action"])
        digest = hashlib.sha256(f"{tenant}\x00{rule}\x00{ts!r}\x00{state.serial}".encode()).hexdigest()
        alert = Alert(
            id="abu-" + digest[:20],
            tenant=tenant,
            rule=rule,
            description=description,
            escalate="review" if action == "review" else "block",
            window=kind,
            window_seconds=window_seconds,
            raised_at=ts,
            counts=counts,
            thresholds=thresholds,
            categories=categories,
            first_seen=first,
            last_seen=ts,
            sample_request_ids=list(state.samples[kind]),
            policy_version=self.policy.version,
            kind=kind,
            accounts=list(names if names is not None else accounts),
            extra=evidence,
        )
        for a in accounts:
            state.flagged.setdefault(a, {})[kind] = alert.id
        state.open[alert.id] = {"kind": kind, "rule": rule, "accounts": list(accounts), "action": action}
        return alert

    def clear(self, state: AbuseState, alert: Alert, at: float) -> None:
        """A reviewer cleared `alert`: its accounts are no longer escalated, and they are not
        alerted again for the same kind until their counts start over."""
        info = state.open.pop(alert.id, None)
        accounts = info["accounts"] if info else alert.accounts
        for a in accounts:
            kinds = state.flagged.get(a)
            if kinds and kinds.get(alert.kind) == alert.id:
                del kinds[alert.kind]
                if not kinds:
                    del state.flagged[a]
            state.cleared[f"{alert.kind}:{a}"] = at

    # -- escalation --------------------------------------------------------------------------------

    def _escalate(self, state: AbuseState, account: str, reading: Reading, out_of_scope: bool, decision: Decision) -> Decision:
        kinds = state.flagged.get(account)
        if not kinds:
            return decision
        best: tuple[str, str, dict[str, Any]] | None = None
        for kind, alert_id in kinds.items():
            info = state.open.get(alert_id)
            if info is None:
                continue
            action = info["action"]
            if action != "suspend":
                matching = reading.distillation_like if kind == "distillation" else bool(reading.phases) or out_of_scope or reading.claim
                if not matching:
                    continue
            level = "review" if action == "review" else "block"
            if best is None or _RANK[level] > _RANK[best[0]]:
                best = (level, alert_id, info)
        if best is None or _RANK[best[0]] <= _RANK[decision.decision]:
            return decision
        level, alert_id, info = best
        rule = info["rule"] + (".suspended" if info["action"] == "suspend" else "")
        cited = self._cited.get(alert_id)
        if cited is None:  # one evidence entry per alert, shared by every request it escalates
            if len(self._cited) >= 4096:
                self._cited.clear()
            cited = self._cited[alert_id] = {
                "signal": "abuse",
                "source": info["kind"],
                "alert": alert_id,
                "rule": info["rule"],
                "action": info["action"],
                "text": f"open {info['kind']} alert {alert_id} names the account that sent this request",
            }
        evidence = [cited, *decision.evidence]
        # a frozen dataclass: a copy with three fields changed, without re-running __init__ (nor
        # `copy.copy`'s generic reduce protocol, several times slower)
        out: Decision = object.__new__(type(decision))
        out.__dict__.update(decision.__dict__, decision=level, rule=rule, evidence=evidence)
        return out


__all__ = ["RULES", "TENANT", "AbuseDetector", "AbuseState"]
