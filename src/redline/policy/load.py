"""Load a policy file: parse YAML, validate, cross-check references, compute the version.

Every failure is a `PolicyError` naming the file, the line and the field, so an operator editing
a policy on a closed network can fix it without reading a stack trace.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import re2
import rfc8785
import yaml
from pydantic import ValidationError

from redline.policy.matcher import SignalMatcher
from redline.policy.schema import RED_LINES, PolicyDocument, RedLineName

DEFAULT_POLICY_NAME = "default.yaml"


class PolicyError(Exception):
    """A policy file that cannot be used, with where and why."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file, self.line, self.field, self.message = file, line, field, message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


@dataclass(frozen=True)
class CompiledSignal:
    """One signal of the policy, its patterns validated. Which signals fire, and where, is
    answered by the policy's matcher (`Policy.signal_set`)."""

    name: str
    red_line: RedLineName | None
    description: str


def _re2_options() -> re2.Options:
    opts = re2.Options()
    opts.max_mem = 64 << 20
    opts.log_errors = False
    return opts


@dataclass(frozen=True)
class Policy:
    """A validated policy: the document, its compiled signals, its version and where it came from."""

    document: PolicyDocument
    signals: tuple[CompiledSignal, ...]
    signal_set: SignalMatcher
    version: str
    source: str

    def threshold(self, red_line: RedLineName, which: str) -> float:
        t = self.document.thresholds[red_line]
        return t.block if which == "block" else t.review

    def resolve_score(self, red_line: RedLineName, value: float | str) -> float:
        """A rule score is a number or a reference such as `threshold.block`."""
        if isinstance(value, str):
            return self.threshold(red_line, value.split(".", 1)[1])
        return float(value)


def _line_index(node: yaml.Node, path: tuple[str | int, ...] = ()) -> dict[tuple[str | int, ...], int]:
    """Map every key path in the YAML tree to its 1-based line."""
    index = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index[(*path, key)] = key_node.start_mark.line + 1
            for sub, line in _line_index(value_node, (*path, key)).items():
                index.setdefault(sub, line)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_line_index(item, (*path, i)))
    return index


def _nearest_line(index: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in index:
            return index[loc[:cut]]
    return None


def _field(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(document)"


def version_of(data: Any) -> str:
    """SHA-256 over the RFC 8785 canonical JSON of the parsed policy."""
    return hashlib.sha256(rfc8785.dumps(data)).hexdigest()


_NON_ASCII_CLASS = re2.compile(r"\[[^\]]*[^\x00-\x7f][^\]]*\]")


def _check_patterns(patterns: list[str], file: str, lines: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> None:
    for i, p in enumerate(patterns):
        if _NON_ASCII_CLASS.search(p):
            # the matcher reads UTF-8 bytes; a class of multi-byte letters would match half a letter
            raise PolicyError(
                file, _nearest_line(lines, (*loc, i)), _field((*loc, i)), "non-ASCII letters inside [...]: write (?:a|b) instead"
            )
        try:
            re2.compile(p, _re2_options())
        except re2.error as e:
            why = "lookarounds and backreferences are not supported" if "(?=" in p or "(?<" in p or "(?!" in p else str(e)
            raise PolicyError(file, _nearest_line(lines, (*loc, i)), _field((*loc, i)), f"bad pattern (RE2 syntax): {why}") from None


def _compile(doc: PolicyDocument, file: str, lines: dict[tuple[str | int, ...], int]) -> tuple[tuple[CompiledSignal, ...], SignalMatcher]:
    home = doc.home_country
    compiled = []
    flat: list[tuple[str, str]] = []
    for name, spec in doc.signals.items():
        loc: tuple[str | int, ...] = ("signals", name, "patterns")
        patterns = spec.patterns
        if spec.from_home_country == "domestic":
            patterns, loc = home.domestic_indicators, ("home_country", "domestic_indicators")
        elif spec.from_home_country == "foreign":
            patterns, loc = home.foreign_indicators, ("home_country", "foreign_indicators")
        if not patterns:
            raise PolicyError(
                file, _nearest_line(lines, ("signals", name)), f"signals.{name}", "a signal needs patterns or from_home_country"
            )
        _check_patterns(patterns, file, lines, loc)
        compiled.append(CompiledSignal(name, spec.red_line, spec.description))
        flat.extend((name, p) for p in patterns)
    matcher = SignalMatcher(flat, _re2_options())
    bad = matcher.prepare()
    if bad is not None:
        name, pattern = flat[bad]
        spec = doc.signals[name]
        where: tuple[str | int, ...] = ("signals", name, "patterns")
        if spec.from_home_country:
            where = ("home_country", f"{spec.from_home_country}_indicators")
        source = (
            home.domestic_indicators
            if spec.from_home_country == "domestic"
            else home.foreign_indicators
            if spec.from_home_country
            else spec.patterns
        )
        idx = source.index(pattern)
        raise PolicyError(
            file,
            _nearest_line(lines, (*where, idx)),
            _field((*where, idx)),
            "pattern too complex for the signal matcher; shorten its bounded gaps",
        )
    return tuple(compiled), matcher


def _check_references(doc: PolicyDocument, file: str, lines: dict[tuple[str | int, ...], int]) -> None:
    known = set(doc.signals)

    def unknown(loc: tuple[str | int, ...], names: list[str]) -> None:
        for name in names:
            if name not in known:
                raise PolicyError(file, _nearest_line(lines, loc), _field(loc), f"unknown signal {name!r}")

    for rl_name, rl in doc.red_lines.items():
        unknown(("red_lines", rl_name, "signals"), rl.signals)
    for i, rule in enumerate(doc.rules):
        unknown(("rules", i, "when"), rule.when.signal_names())
    ids = [r.id for r in doc.rules]
    for i, rid in enumerate(ids):
        if rid in ids[:i]:
            raise PolicyError(file, _nearest_line(lines, ("rules", i, "id")), f"rules.{i}.id", f"duplicate rule id {rid!r}")
    if doc.rules[-1].when.model_dump(exclude_defaults=True):
        raise PolicyError(
            file,
            _nearest_line(lines, ("rules", len(ids) - 1)),
            f"rules.{len(ids) - 1}",
            "the last rule must be an unconditional default (when: {})",
        )
    for line_name in RED_LINES:
        t = doc.thresholds[line_name]
        if t.review > t.block:
            raise PolicyError(
                file,
                _nearest_line(lines, ("thresholds", line_name)),
                f"thresholds.{line_name}",
                "review threshold must not exceed block threshold",
            )
    for i, name in enumerate(doc.default_authorities):
        if name not in doc.authorities:
            raise PolicyError(
                file, _nearest_line(lines, ("default_authorities", i)), f"default_authorities.{i}", f"unknown authority {name!r}"
            )
    limits = doc.limits
    if limits.window_overlap >= limits.window_chars:
        raise PolicyError(
            file, _nearest_line(lines, ("limits", "window_overlap")), "limits.window_overlap", "must be smaller than window_chars"
        )


def _check_monitor(doc: PolicyDocument, file: str, lines: dict[tuple[str | int, ...], int]) -> None:
    """The monitor section names windows, signals and authorities that exist; its patterns are RE2."""
    mon = doc.monitor
    if mon is None:
        return

    def bad(loc: tuple[str | int, ...], message: str) -> PolicyError:
        return PolicyError(file, _nearest_line(lines, ("monitor", *loc)), _field(("monitor", *loc)), message)

    for key in ("surveillance_signals", "exempt_signals"):
        for i, name in enumerate(getattr(mon, key)):
            if name not in doc.signals:
                raise bad((key, i), f"unknown signal {name!r}")
    for category, patterns in mon.category_patterns.items():
        if category not in mon.categories:
            raise bad(("category_patterns", category), f"unknown category {category!r} (categories: {', '.join(mon.categories)})")
        _check_patterns(patterns, file, lines, ("monitor", "category_patterns", category))
    for category, names in mon.categories.items():
        for i, name in enumerate(names):
            if name not in doc.signals:
                raise bad(("categories", category, i), f"unknown signal {name!r}")
    for i, name in enumerate(mon.foreign_context_authorities):
        if name not in doc.authorities:
            raise bad(("foreign_context_authorities", i), f"unknown authority {name!r}")
    for i, (lat_min, lat_max, lon_min, lon_max) in enumerate(mon.home_regions):
        if not (-90 <= lat_min < lat_max <= 90 and -180 <= lon_min < lon_max <= 180):
            raise bad(("home_regions", i), "expected [lat_min, lat_max, lon_min, lon_max] within -90..90 / -180..180")
    ids: list[str] = []
    for i, rule in enumerate(mon.rules):
        if rule.window not in mon.windows:
            raise bad(("rules", i, "window"), f"unknown window {rule.window!r} (windows: {', '.join(mon.windows)})")
        if rule.id in ids:
            raise bad(("rules", i, "id"), f"duplicate monitor rule id {rule.id!r}")
        ids.append(rule.id)
    for key in ("surveillance_patterns", "device_context_patterns", "plate_context_patterns", "process_patterns"):
        _check_patterns(getattr(mon, key), file, lines, ("monitor", key))


def _check_abuse(doc: PolicyDocument, file: str, lines: dict[tuple[str | int, ...], int]) -> None:
    """The abuse section needs the monitor (its alerts and state live there), names authorities
    that exist, and its patterns are RE2."""
    abuse = doc.abuse
    if abuse is None:
        return
    if doc.monitor is None:
        raise PolicyError(file, _nearest_line(lines, ("abuse",)), "abuse", "the abuse detectors need a monitor section")
    dist, intr = abuse.distillation, abuse.intrusion
    _check_patterns(dist.elicitation_patterns, file, lines, ("abuse", "distillation", "elicitation_patterns"))
    for name, patterns in dist.capability_patterns.items():
        _check_patterns(patterns, file, lines, ("abuse", "distillation", "capability_patterns", name))
    for phase, patterns in intr.phase_patterns.items():
        _check_patterns(patterns, file, lines, ("abuse", "intrusion", "phase_patterns", phase))
    _check_patterns(intr.claim_patterns, file, lines, ("abuse", "intrusion", "claim_patterns"))
    _check_patterns(intr.defensive_patterns, file, lines, ("abuse", "intrusion", "defensive_patterns"))
    for i, name in enumerate(intr.cyber_authorities):
        if name not in doc.authorities:
            loc = ("abuse", "intrusion", "cyber_authorities", i)
            raise PolicyError(file, _nearest_line(lines, loc), _field(loc), f"unknown authority {name!r}")


def parse_policy(text: str, file: str) -> Policy:
    """Validate policy text; `file` names it in errors."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise PolicyError(file, mark.line + 1 if mark else None, "", f"not valid YAML: {getattr(e, 'problem', e)}") from None
    if root is None or not isinstance(data, dict):
        raise PolicyError(file, 1, "(document)", "a policy file must be a YAML mapping")
    lines = _line_index(root)
    try:
        doc = PolicyDocument.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        raise PolicyError(file, _nearest_line(lines, loc), _field(loc), err["msg"]) from None
    _check_references(doc, file, lines)
    _check_monitor(doc, file, lines)
    _check_abuse(doc, file, lines)
    signals, matcher = _compile(doc, file, lines)
    return Policy(document=doc, signals=signals, signal_set=matcher, version=version_of(data), source=file)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy file, or the packaged default when `path` is None."""
    if path is None:
        text = resources.files("redline.policy").joinpath(DEFAULT_POLICY_NAME).read_text(encoding="utf-8")
        return parse_policy(text, f"<default>/{DEFAULT_POLICY_NAME}")
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise PolicyError(str(p), None, "", f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError(str(p), raw[: e.start].count(b"\n") + 1, "", "not valid UTF-8") from None
    return parse_policy(text, str(p))
