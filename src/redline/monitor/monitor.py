"""`Monitor`: one call per request (`observe`) that counts it into its tenant's windows, raises
alerts when a policy rule's counts are reached, and escalates the tenant's further matching
requests while an alert is open; `clear_alert` for the reviewer. Thread-safe.

With a `RedisStore` the tenants' state is shared by gateway replicas: a request the monitor counts
is counted under the tenant's lock on the shared state (`redline.monitor.shared`); other requests
never touch Redis. When Redis cannot be used, the policy's `shared_state_down` says what happens.

When the policy has an `abuse` section, the account-level detectors (`redline.abuse`: distillation
networks, out-of-scope intrusions) run in the same call on the same per-tenant state, store and
alert path (with shared state: on each replica's own copy, see docs/deploy.md); with the policy's
`distillation.scope: provider` distillation is counted in one provider-wide state (`PROVIDER`)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from redline.decide import Decision
from redline.monitor.alerts import Alert
from redline.monitor.profile import Profiler, RequestProfile, Subject
from redline.monitor.shared import RedisStore
from redline.monitor.state import TenantState
from redline.monitor.store import MemoryStore, MonitorStore
from redline.policy import Policy
from redline.policy.schema import MonitorRule
from redline.store.redis import RedisUnavailable
from redline.text import Conversation

if TYPE_CHECKING:
    from redline.abuse import AbuseDetector, AbuseState

# Provider-wide account-level state is kept under a pseudo-tenant no tenant name can equal (tenant
# names are printable; SEPARATOR also joins tenant and account in that state's account keys); a
# network spanning tenants is alerted under ALL_TENANTS (reserved).
SEPARATOR = "\x1f"
PROVIDER = SEPARATOR + "provider"
ALL_TENANTS = "*"

_RANK = {"allow": 0, "review": 1, "block": 2}
_T = TypeVar("_T")
DEFAULT_FLUSH_SECONDS = 1.0


class MonitorError(ValueError):
    """A request the monitor cannot count (no tenant, a timestamp that is not a finite number)."""


@dataclass(frozen=True)
class Observation:
    """What `observe` returns: the decision to enforce (the input one, or escalated by an open
    alert), the alerts this request raised, and what the monitor counted."""

    decision: Decision
    alerts: list[Alert] = field(default_factory=list)
    escalated_by: str | None = None
    surveillance: bool = False
    domestic_subjects: int = 0
    degraded: str | None = None  # the shared state was unavailable: counted in this process only (why)


class Monitor:
    def __init__(
        self,
        policy: Policy,
        store: MonitorStore | None = None,
        *,
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        clock: Any = time.monotonic,
    ) -> None:
        if policy.document.monitor is None:
            raise MonitorError("the policy has no monitor section")
        self.policy = policy
        self.config = policy.document.monitor
        self.store: MonitorStore = store if store is not None else MemoryStore()
        self.abuse: AbuseDetector | None = None
        if policy.document.abuse is not None and policy.document.abuse.enabled:
            from redline.abuse import AbuseDetector  # imported here: the abuse package builds on this one

            self.abuse = AbuseDetector(policy)
        try:
            self.profiler = Profiler(policy, self.store.salt(), extra=self.abuse.patterns if self.abuse is not None else ())
        except ValueError as e:
            raise MonitorError(f"{policy.source}: monitor: {e}") from None
        self._rules: list[MonitorRule] = list(self.config.rules)
        self._tenants: dict[str, TenantState] = {}
        self._dirty: set[str] = set()
        self._alerts: dict[str, Alert] = {}  # open alerts by id (the store is read once per alert)
        self._shared = self.store if isinstance(self.store, RedisStore) else None
        self._versions: dict[str, tuple[str, int]] = {}  # shared state: (snapshot token, changes applied) of each cached state
        self._saved_at: dict[str, float] = {}  # shared state: when that version was written
        self._lock = threading.RLock()
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._last_flush = clock()

    # -- the per-request call ----------------------------------------------------------------------

    def observe(
        self,
        tenant: str,
        request_id: str,
        ts: float,
        request: Any,
        decision: Decision,
        *,
        conversation: Conversation | None = None,
        authorities: Iterable[str] = (),
        account: Mapping[str, Any] | None = None,
        cyber_scope: Iterable[str] = (),
    ) -> Observation:
        """Count one request of `tenant` at time `ts` (seconds since the epoch). `request` is what
        the client sent (text, or `{"text"}` / `{"messages"}`); pass the engine's `conversation`
        too when there is one (its normalized text is reused). `decision` is the engine's.
        `account`: `{"account", "client_ip", "org_ref"}` of the sender (a replay line will do);
        `cyber_scope`: the tenant's declared authorized targets (CIDR ranges, domain patterns)."""
        if not isinstance(tenant, str) or not tenant:
            raise MonitorError("a request needs a tenant")
        if tenant == ALL_TENANTS or SEPARATOR in tenant:
            raise MonitorError(f"tenant name {tenant!r} is reserved")
        if not isinstance(ts, int | float) or ts != ts or ts in (float("inf"), float("-inf")):
            raise MonitorError("ts must be a finite number of seconds")
        if not self.config.enabled:
            return Observation(decision)
        authorities = tuple(authorities)
        profile = self.profiler.profile(request, decision, conversation=conversation, authorities=authorities)
        abuse = self.abuse
        if abuse is not None:
            try:
                reading, sender, scope = abuse.inputs(
                    request, conversation, profile.fired, profile.raw or None, account, cyber_scope, authorities
                )
            except ValueError as e:  # a scope entry that is neither a CIDR range nor a domain pattern
                raise MonitorError(f"tenant {tenant}: {e}") from None
        degraded: str | None = None
        with self._lock:
            if self._shared is None:
                out, raised, counted = self._count(self._state(tenant), tenant, request_id, float(ts), profile, decision)
            elif profile.surveillance and profile.subjects:
                try:
                    out, raised, counted = self._shared_update(
                        tenant,
                        lambda state: _logged(
                            self._count(state, tenant, request_id, float(ts), profile, decision), profile, float(ts), request_id
                        ),
                    )
                except RedisUnavailable as e:
                    if self.config.shared_state_down != "local":
                        raise MonitorError(f"shared monitor state unavailable: {e}") from None
                    degraded = str(e)
                    self._saved_at[tenant] = time.time()
                    out, raised, counted = self._count(self._state(tenant), tenant, request_id, float(ts), profile, decision)
            else:  # nothing to count: the shared state is not touched
                out, raised, counted = decision, [], 0
            if abuse is not None:
                # account-level detectors read this process's copy of the tenant's state (with
                # shared state, each replica's own: they are not in the shared change log)
                state = self._tenants.get(tenant) or self._state(tenant)
                mine = state.abuse or self._abuse_state(state)
                if abuse.provider_wide:  # distillation counted over every tenant's accounts
                    provider = self._tenants.get(PROVIDER) or self._state(PROVIDER)
                    shared = provider.abuse or self._abuse_state(provider)
                else:
                    shared = mine
                found, out = abuse.observe(
                    mine,
                    shared,
                    tenant,
                    str(request_id),
                    float(ts),
                    request,
                    reading,
                    sender,
                    account,
                    scope,
                    out,
                )
                if found:
                    for alert in found:
                        self.store.save_alert(alert)
                        self._alerts[alert.id] = alert
                    raised = [*raised, *found]
                # snapshots follow what the detectors read (a plain request only moves an account's
                # counters: those are written with the tenant's next snapshot, and on close)
                if found or reading.elicit or reading.phases or reading.claim:
                    self._dirty.add(tenant)
                    if shared is not mine:
                        self._dirty.add(PROVIDER)
            self._maybe_flush()
        return Observation(
            out,
            raised,
            escalated_by=out.rule if out is not decision else None,
            surveillance=profile.surveillance,
            domestic_subjects=counted,
            degraded=degraded,
        )

    def _count(
        self, state: TenantState, tenant: str, request_id: str, ts: float, profile: RequestProfile, decision: Decision
    ) -> tuple[Decision, list[Alert], int]:
        state.advance(max(ts, state.last_ts))
        counted = 0
        raised: list[Alert] = []
        if profile.surveillance and profile.subjects:
            counted = state.record(ts, str(request_id), profile)
            self._dirty.add(tenant)
            if counted:
                raised = self._evaluate(tenant, state, ts)
        return self._escalate(state, decision, profile, counted), raised, counted

    def _shared_update(self, tenant: str, change: Callable[[TenantState], tuple[_T, dict[str, Any]]]) -> _T:
        """Under the tenant's cross-process lock: bring the cached state up to date with the shared
        log (or snapshot), run `change` on it, and append the change it returns to the log."""
        assert self._shared is not None
        try:
            with self._shared.hold(tenant, self._versions.get(tenant)) as held:
                if held.missing:  # Redis has nothing (new tenant, or Redis lost its data): the durable snapshot
                    state = self._load(tenant)
                elif held.snapshot is not None:
                    state = TenantState(self.config)
                    state.load_state(held.snapshot)
                else:
                    state = self._tenants[tenant]
                prev = self._tenants.get(tenant)
                if prev is not None and prev is not state and prev.abuse is not None:
                    state.abuse = prev.abuse  # the account-level detectors' state stays this replica's own
                for entry in held.changes:
                    _replay(state, entry)
                self._tenants[tenant] = state
                result, entry = change(state)
                self._versions[tenant] = held.append(entry, state)
                self._saved_at[tenant] = held.saved_at
        except BaseException:
            self._versions.pop(tenant, None)  # the cached state may hold a change that was not written
            raise
        return result

    def profile(self, request: Any, decision: Decision, conversation: Conversation | None = None) -> RequestProfile:
        """The monitor's reading of one request, without counting it (for tools and tests)."""
        return self.profiler.profile(request, decision, conversation=conversation)

    # -- rules and escalation ----------------------------------------------------------------------

    def _evaluate(self, tenant: str, state: TenantState, ts: float) -> list[Alert]:
        raised = []
        for rule in self._rules:
            if rule.id in state.open_alerts:
                continue
            values: dict[str, int] = {metric: state.value(metric, rule.window) for metric in rule.when}
            if any(values[m] < n for m, n in rule.when.items()):
                continue
            lead = next(iter(rule.when))
            cleared = state.cleared.get(rule.id)
            # a reviewer cleared this rule: it fires again only after a full window, or when the
            # activity has doubled since
            if cleared is not None and ts - cleared[0] < self.config.windows[rule.window] and values[lead] < 2 * cleared[1]:
                continue
            alert = self._alert(tenant, state, rule, ts, values)
            state.open_alerts[rule.id] = alert.id
            self.store.save_alert(alert)
            self._alerts[alert.id] = alert
            raised.append(alert)
        return raised

    def _alert(self, tenant: str, state: TenantState, rule: MonitorRule, ts: float, values: dict[str, int]) -> Alert:
        counter = state.counters[rule.window]
        span = counter.span() or (ts, ts)
        counts = {
            "domestic_subjects": state.value("domestic_subjects", rule.window),
            "surveillance_requests": state.value("surveillance_requests", rule.window),
            "bulk_subjects": state.value("bulk_subjects", rule.window),
            **values,
        }
        digest = hashlib.sha256(f"{tenant}\x00{rule.id}\x00{ts!r}\x00{len(self.store.alerts(tenant))}".encode()).hexdigest()
        return Alert(
            id="mon-" + digest[:20],
            tenant=tenant,
            rule=rule.id,
            description=rule.description,
            escalate=rule.escalate,
            window=rule.window,
            window_seconds=self.config.windows[rule.window],
            raised_at=ts,
            counts=counts,
            thresholds={str(k): v for k, v in rule.when.items()},
            categories=state.categories(rule.window),
            first_seen=span[0],
            last_seen=max(span[1], ts),
            sample_request_ids=[r for _, r in state.samples],
            policy_version=self.policy.version,
        )

    def _escalate(self, state: TenantState, decision: Decision, profile: RequestProfile, counted: int) -> Decision:
        """While an alert is open, a surveillance-type request touching domestic subjects goes to
        the strongest escalation of the open alerts (never weaker than the engine's decision)."""
        if not state.open_alerts or not profile.surveillance or not counted:
            return decision
        alerts = [a for a in (self._open_alert(i) for i in state.open_alerts.values()) if a is not None]
        if not alerts:
            return decision
        top = max(alerts, key=lambda a: (_RANK[a.escalate], a.raised_at))
        if _RANK[top.escalate] <= _RANK[decision.decision]:
            return decision
        evidence = [
            {
                "signal": "monitor",
                "source": "monitor",
                "alert": top.id,
                "rule": top.rule,
                "text": f"open alert {top.id}: {top.description}",
                "counts": dict(top.counts),
            },
            *decision.evidence,
        ]
        return replace(
            decision,
            decision=top.escalate,
            red_line="mass_domestic_surveillance",
            rule=top.rule,
            evidence=evidence,
        )

    # -- reviewers ---------------------------------------------------------------------------------

    def clear_alert(self, alert_id: str, reviewer: str, at: float | None = None) -> Alert:
        """A reviewer clears an alert: its escalation ends, and its rule fires again for the tenant
        only after a full window or when the activity doubles. KeyError when there is no such open alert."""
        if not reviewer:
            raise MonitorError("clearing an alert needs a reviewer")
        with self._lock:
            alert = self.store.alert(alert_id)
            if alert is None or not alert.open:
                raise KeyError(alert_id)
            found = alert

            def clear(state: TenantState) -> tuple[float, dict[str, Any]]:
                when = at if at is not None else max(state.last_ts, found.raised_at)
                lead = next(iter(found.thresholds))
                entry = {"clear": found.rule, "at": when, "value": float(state.value(lead, found.window) or found.counts.get(lead, 0))}
                _replay(state, entry)
                return when, entry

            held_by = alert.tenant  # the state the alert's accounts are flagged in
            if alert.kind != "mosaic":  # account-level alerts live in this process's detector state
                if alert.kind == "distillation" and self.abuse is not None and self.abuse.provider_wide:
                    held_by = PROVIDER
                state = self._state(held_by)
                when = at if at is not None else max(state.last_ts, alert.raised_at)
                if self.abuse is not None:
                    self.abuse.clear(self._abuse_state(state), alert, when)
            elif self._shared is not None:
                when = self._shared_update(alert.tenant, clear)
            else:
                when = clear(self._state(alert.tenant))[0]
            cleared = alert.cleared(reviewer, when)
            self.store.save_alert(cleared)
            self._alerts.pop(alert_id, None)
            self._dirty.add(held_by)
            self.flush()
        return cleared

    def _open_alert(self, alert_id: str) -> Alert | None:
        alert = self._alerts.get(alert_id)
        if alert is None:
            alert = self.store.alert(alert_id)
            if alert is not None and alert.open:
                self._alerts[alert_id] = alert
        return alert if alert is not None and alert.open else None

    def open_alerts(self, tenant: str | None = None) -> list[Alert]:
        return self.store.alerts(tenant, open_only=True)

    # -- state -------------------------------------------------------------------------------------

    def _state(self, tenant: str) -> TenantState:
        state = self._tenants.get(tenant)
        if state is None:
            state = self._tenants[tenant] = self._load(tenant)
        return state

    def _load(self, tenant: str) -> TenantState:
        state = TenantState(self.config)
        saved = self.store.load_tenant(tenant)
        if saved is not None:
            state.load_state(saved)
        return state

    def _abuse_state(self, state: TenantState) -> AbuseState:
        if state.abuse is None:
            from redline.abuse import AbuseState

            assert self.policy.document.abuse is not None
            fresh = AbuseState(self.policy.document.abuse)
            if state.abuse_saved is not None:
                fresh.load_state(state.abuse_saved)
                state.abuse_saved = None
            state.abuse = fresh
        return state.abuse  # type: ignore[no-any-return]

    def _maybe_flush(self) -> None:
        if self._dirty and self._clock() - self._last_flush >= self._flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the changed tenants' snapshots (done every `flush_seconds` and on close)."""
        with self._lock:
            if self._dirty and self._shared is not None:
                # each tenant stamped with when its state was written to Redis: a replica's older
                # copy never replaces a newer snapshot
                now = time.time()
                for t in self._dirty:
                    self.store.save_tenants({t: self._tenants[t].to_state()}, self._saved_at.get(t, now))
                self._dirty.clear()
            elif self._dirty:
                self.store.save_tenants({t: self._tenants[t].to_state() for t in self._dirty}, time.time())
                self._dirty.clear()
            self._last_flush = self._clock()

    @property
    def shares_state(self) -> bool:
        """Whether tenants' state lives in Redis, shared with other replicas (calls may then wait
        for another replica's lock)."""
        return self._shared is not None

    def ping_shared_state(self) -> None:
        """One round trip to the replicas' shared state (`RedisUnavailable` when it fails); nothing
        to do without it. Whether a failure refuses requests is the policy's `shared_state_down`."""
        if self._shared is not None:
            self._shared.ping()

    def close(self) -> None:
        with self._lock:
            self._dirty.update(t for t, st in self._tenants.items() if st.abuse is not None)
        self.flush()
        self.store.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the shared log: one entry per change of a tenant's state, replayed by the other replicas -------


def _logged(
    result: tuple[Decision, list[Alert], int], profile: RequestProfile, ts: float, request_id: str
) -> tuple[tuple[Decision, list[Alert], int], dict[str, Any]]:
    """A counted request's log entry: what `TenantState.record` read of its profile, and the
    alerts it raised (so a replica replaying it opens them too, without raising them again)."""
    entry = {
        "ts": ts,
        "id": str(request_id),
        "subjects": [list(s.hashes) for s in profile.counted()],
        "categories": sorted(profile.categories),
        "refs": sorted(profile.process_refs),
        "raised": {a.rule: a.id for a in result[1]},
    }
    return result, entry


def _replay(state: TenantState, entry: dict[str, Any]) -> None:
    if "clear" in entry:
        state.cleared[entry["clear"]] = (float(entry["at"]), float(entry["value"]))
        state.open_alerts.pop(entry["clear"], None)
        return
    ts = float(entry["ts"])
    state.advance(max(ts, state.last_ts))
    subjects = tuple(Subject(tuple(int(h) for h in hashes), "domestic") for hashes in entry["subjects"])
    profile = RequestProfile(True, frozenset(entry["categories"]), frozenset(entry["refs"]), subjects, 0, False)
    state.record(ts, str(entry["id"]), profile)
    state.open_alerts.update(entry["raised"])
