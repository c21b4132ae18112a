"""Typed schema of the policy file (what POLICY.md says, as data).

Every model forbids unknown keys so that a typo in a policy file is an error, not a silently
ignored setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RedLineName = Literal["mass_domestic_surveillance", "autonomous_weapons"]
RED_LINES: tuple[RedLineName, ...] = ("mass_domestic_surveillance", "autonomous_weapons")
DecisionName = Literal["allow", "review", "block"]
EffectClass = Literal["observe", "recommend", "nonlethal", "lethal"]
ThresholdRef = Literal["threshold.block", "threshold.review"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HomeCountry(_Strict):
    code: str = Field(min_length=2, max_length=3)
    name: str
    phone_country_codes: list[str] = Field(min_length=1)
    unknown_subjects_are_domestic: bool = True
    domestic_indicators: list[str] = Field(min_length=1)
    foreign_indicators: list[str] = Field(min_length=1)


class RedLine(_Strict):
    title: str
    description: str
    signals: list[str] = Field(min_length=1)


class SignalSpec(_Strict):
    red_line: RedLineName | None
    description: str
    patterns: list[str] = Field(default_factory=list)
    from_home_country: Literal["domestic", "foreign"] | None = None


class Thresholds(_Strict):
    block: float = Field(gt=0.0, le=1.0)
    review: float = Field(gt=0.0, le=1.0)


class MinCount(_Strict):
    signals: list[str] = Field(min_length=1)
    n: int = Field(ge=1)


class When(_Strict):
    all: list[str] = Field(default_factory=list)
    any: list[str] = Field(default_factory=list)
    none: list[str] = Field(default_factory=list)
    score_at_least: dict[RedLineName, float | ThresholdRef] = Field(default_factory=dict)
    score_below: dict[RedLineName, float | ThresholdRef] = Field(default_factory=dict)
    min_count: MinCount | None = None

    def signal_names(self) -> list[str]:
        names = [*self.all, *self.any, *self.none]
        if self.min_count is not None:
            names.extend(self.min_count.signals)
        return names


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_.-]+$")
    red_line: RedLineName | None
    description: str
    when: When
    decision: DecisionName


class Limits(_Strict):
    max_input_chars: int = Field(gt=0)
    window_chars: int = Field(ge=200)
    window_overlap: int = Field(ge=0)


class ToolRule(_Strict):
    """One registry entry: tools whose name matches the glob `match` and/or whose MCP annotations
    (or `_meta` entries) equal every item of `annotations` get `effect`. A lethal entry names the
    role that may authorize it; `two_person` asks for two distinct operators; `target_arg` names the
    argument that holds the target, shown to the operator in the challenge."""

    match: str | None = Field(default=None, min_length=1)
    annotations: dict[str, str | bool | int] = Field(default_factory=dict)
    effect: EffectClass
    approver_role: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    two_person: bool = False
    target_arg: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ToolRule:
        if self.match is None and not self.annotations:
            raise ValueError("a tool rule needs `match` (a name pattern) or `annotations`")
        if self.effect == "lethal" and self.approver_role is None:
            raise ValueError("a lethal tool rule needs `approver_role`")
        if self.effect != "lethal" and (self.approver_role is not None or self.two_person):
            raise ValueError("`approver_role` and `two_person` apply to lethal tools only")
        return self


class Tools(_Strict):
    unknown_tool_effect: EffectClass
    registry: list[ToolRule]
    # How long a challenge (and so the authorization signed over it) stays valid.
    challenge_minutes: int = Field(default=15, ge=1, le=24 * 60)


class ClassifierConfig(_Strict):
    backend: Literal["builtin", "semantic", "judge"] = "builtin"
    model: str = "builtin-model.json"
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class Retention(_Strict):
    """What the ledger keeps of a request. By default only hashes and redacted excerpts; the full
    text only when `full_text` is set, and then for `full_text_days` at most (purged after)."""

    full_text: bool = False
    full_text_days: int = Field(default=30, ge=1, le=3650)
    excerpt_chars: int = Field(default=80, ge=0, le=400)


class Screening(_Strict):
    """Who may use the service (POLICY.md section 6): match thresholds and the ownership rule."""

    refuse_score: float = Field(default=0.9, gt=0.0, le=1.0)
    review_score: float = Field(default=0.7, gt=0.0, le=1.0)
    ownership_limit_percent: float = Field(default=50.0, gt=0.0, lt=100.0)
    unsupported_regions: list[str] = Field(default_factory=list)
    max_matches: int = Field(default=5, ge=1, le=100)

    @field_validator("unsupported_regions")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not (2 <= len(c) <= 3 and c.isalpha() and c.isupper())]
        if bad:
            raise ValueError(f"regions are upper-case ISO country codes such as CN, not {', '.join(map(repr, bad))}")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> Screening:
        if self.review_score > self.refuse_score:
            raise ValueError("review_score must not be above refuse_score")
        return self


# --- the cross-request monitor (POLICY.md section 3, "Across requests") -------------------------

MonitorMetric = Literal["domestic_subjects", "joined_subjects", "bulk_subjects", "process_refs", "surveillance_requests"]
MONITOR_METRICS: tuple[MonitorMetric, ...] = (
    "domestic_subjects",
    "joined_subjects",
    "bulk_subjects",
    "process_refs",
    "surveillance_requests",
)


class MonitorRule(_Strict):
    """Counts over one window that raise an alert when every threshold in `when` is reached."""

    id: str = Field(pattern=r"^monitor\.[a-z0-9_.-]+$")
    description: str
    window: str
    when: dict[MonitorMetric, int] = Field(min_length=1)
    escalate: Literal["review", "block"] = "review"

    @field_validator("when")
    @classmethod
    def _positive(cls, v: dict[str, int]) -> dict[str, int]:
        for name, n in v.items():
            if n < 1:
                raise ValueError(f"{name} must be at least 1")
        return v


class MonitorConfig(_Strict):
    """What the monitor counts per tenant, over which windows, and the rules that turn counts into alerts."""

    enabled: bool = True
    windows: dict[str, int] = Field(min_length=1)  # name -> seconds
    exact_subjects: int = Field(default=10_000, ge=1, le=1_000_000)
    sketch_precision: int = Field(default=12, ge=8, le=16)
    sketch_buckets: int = Field(default=24, ge=1, le=256)
    tracked_subjects: int = Field(default=20_000, ge=100, le=10_000_000)
    joined_categories: int = Field(default=3, ge=2, le=8)
    bulk_request_subjects: int = Field(default=20, ge=2)
    surveillance_signals: list[str] = Field(default_factory=list)
    surveillance_patterns: list[str] = Field(default_factory=list)
    device_context_patterns: list[str] = Field(default_factory=list)
    plate_context_patterns: list[str] = Field(default_factory=list)
    process_patterns: list[str] = Field(default_factory=list)
    categories: dict[str, list[str]] = Field(default_factory=dict)  # category -> signals that mark it
    category_patterns: dict[str, list[str]] = Field(default_factory=dict)  # category -> more patterns that mark it
    exempt_signals: list[str] = Field(default_factory=list)  # an allowed request with one of these is not counted
    foreign_context_authorities: list[str] = Field(default_factory=list)
    home_regions: list[tuple[float, float, float, float]] = Field(default_factory=list)  # lat_min, lat_max, lon_min, lon_max
    sample_request_ids: int = Field(default=5, ge=0, le=50)
    # Replicas share the counters in Redis. When it cannot be reached: `fail_closed` sends each
    # request the monitor would count to review (the gateway's monitor.unavailable rule); `local`
    # counts it in this replica's own state (a campaign split over replicas may then be missed)
    # and reports the degradation (log, metric).
    shared_state_down: Literal["fail_closed", "local"] = "fail_closed"
    rules: list[MonitorRule] = Field(default_factory=list)

    @field_validator("windows")
    @classmethod
    def _window_lengths(cls, v: dict[str, int]) -> dict[str, int]:
        for name, seconds in v.items():
            if seconds < 60:
                raise ValueError(f"window {name!r} must be at least 60 seconds")
        return v


# --- account-level abuse (distillation networks, AI-orchestrated intrusions) -----------------------

AbuseAction = Literal["review", "block", "suspend"]


class DistillationConfig(_Strict):
    """Networks of accounts extracting the model's capabilities: which requests elicit reasoning
    traces or rubrics, which capabilities count as narrow extraction targets, and when a linked
    group of accounts is a network."""

    enabled: bool = True
    action: AbuseAction = "review"
    # "provider": accounts of every tenant are linked together (a network spread over many
    # customer accounts is still one network); "tenant": each tenant's accounts on their own
    scope: Literal["provider", "tenant"] = "provider"
    window_seconds: int = Field(default=7 * 86400, ge=3600)  # an idle account's counts start over after this
    min_requests: int = Field(default=12, ge=2)  # an account is judged once it has sent this many
    min_elicitation: float = Field(default=0.3, gt=0.0, le=1.0)  # share of its requests eliciting reasoning traces or rubrics
    min_capability_share: float = Field(default=0.6, gt=0.0, le=1.0)  # share on one narrow capability
    min_template_share: float = Field(default=0.4, gt=0.0, le=1.0)  # share repeating a template other accounts use
    template_accounts: int = Field(default=3, ge=2)  # a template is shared once this many accounts sent it
    machine_rate_per_hour: float = Field(default=30.0, gt=0.0)  # requests per active hour beyond human use
    round_the_clock_hours: int = Field(default=14, ge=1, le=24)  # distinct hours of the day an account is active
    min_points: int = Field(
        default=1, ge=0, le=2
    )  # of: capability concentration, shared template (elicitation and volume/timing are required)
    min_accounts: int = Field(default=5, ge=2)  # suspicious accounts linked (template, network, payment) in one cluster
    min_accounts_unlinked: int = Field(default=10, ge=2)  # suspicious accounts in a tenant with no link between them
    tracked_accounts: int = Field(default=50_000, ge=100)
    tracked_templates: int = Field(default=50_000, ge=100)
    elicitation_patterns: list[str] = Field(min_length=1)
    capability_patterns: dict[str, list[str]] = Field(min_length=1)  # capability -> patterns


class IntrusionConfig(_Strict):
    """Agent-driven intrusions: the kill-chain phases read from requests and tool calls, the
    external targets they touch against the tenant's declared cyber scope, and when that is a campaign."""

    enabled: bool = True
    action: AbuseAction = "review"
    window_seconds: int = Field(default=86400, ge=600)
    attribution_seconds: int = Field(default=3600, ge=60)  # a step with no target continues the account's last out-of-scope one
    min_phases: int = Field(default=3, ge=2, le=6)  # distinct phases against out-of-scope targets
    fanout_orgs: int = Field(default=3, ge=2)  # out-of-scope organizations that alert with fewer phases
    fanout_phases: int = Field(default=2, ge=2, le=6)
    machine_requests_per_minute: int = Field(default=12, ge=2)  # beyond human pace
    tracked_accounts: int = Field(default=20_000, ge=100)
    phase_patterns: dict[
        Literal["recon", "exploitation", "credential_access", "lateral_movement", "exfiltration", "persistence"], list[str]
    ] = Field(min_length=2)
    claim_patterns: list[str] = Field(min_length=1)  # "we are an authorized penetration-testing firm"
    defensive_patterns: list[str] = Field(default_factory=list)  # reporting attacks seen against one's own systems
    ignore_domains: list[str] = Field(default_factory=list)  # references, not targets (docs, package indexes, example domains)
    cyber_authorities: list[str] = Field(default_factory=list)  # authorities under which a declared scope is honored


class AbuseConfig(_Strict):
    """Account-level detectors on the monitor's per-tenant state; their alerts use the monitor's alert path."""

    enabled: bool = True
    distillation: DistillationConfig
    intrusion: IntrusionConfig


class PolicyDocument(_Strict):
    policy_format: Literal[1]
    name: str
    home_country: HomeCountry
    red_lines: dict[RedLineName, RedLine]
    signals: dict[str, SignalSpec]
    thresholds: dict[RedLineName, Thresholds]
    rules: list[Rule] = Field(min_length=1)
    on_classifier_error: Literal["block", "allow"] = "block"
    limits: Limits
    authorities: dict[str, str]
    default_authorities: list[str] = Field(default_factory=list)
    tools: Tools
    classifier: ClassifierConfig = ClassifierConfig()
    retention: Retention = Retention()
    screening: Screening = Screening()

    monitor: MonitorConfig | None = None
    abuse: AbuseConfig | None = None

    @field_validator("red_lines", "thresholds")
    @classmethod
    def _both_red_lines(cls, v: dict[str, object]) -> dict[str, object]:
        missing = [name for name in RED_LINES if name not in v]
        if missing:
            raise ValueError(f"missing red line(s): {', '.join(missing)}")
        return v
