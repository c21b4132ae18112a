"""Redaction: what of a request reaches the ledger. The ledger must not become the surveillance
database it exists to prevent (POLICY.md), so by default a record holds keyed hashes of the
request and of identifiers, and short excerpts of the evidence spans with identifiers replaced by
their hashes. Full text only when the policy's retention setting asks for it, with a purge date."""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Mapping
from typing import Any

from redline.decide import Decision
from redline.ledger.canonical import dumps as canonical_json
from redline.ledger.record import Record
from redline.policy.schema import Retention

# Identifiers that must not be stored raw. Bounded quantifiers only: these run on untrusted text.
_IDENTIFIERS = re.compile(
    r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}"  # e-mail
    r"|https?://[^\s]{1,2048}"  # URLs (carry accounts, tokens, locations)
    r"|\b(?:\d{1,3}\.){3}\d{1,3}\b"  # IPv4
    r"|\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b"  # IPv6 (uncompressed and most compressed forms)
    r"|(?<!\w)@[A-Za-z0-9_]{2,30}"  # handles
    r"|\+?\d[\d\s().-]{5,24}\d"  # phone numbers, national ids, account and card numbers
)

_DAY_S = 86_400.0


class Redactor:
    """Keyed hashes (HMAC-SHA-256) so that nobody without the ledger key can confirm a guess such
    as "was this phone number in a request?", while the operator with the key still can."""

    def __init__(self, key: bytes, retention: Retention | None = None) -> None:
        self._key = key
        self.retention = retention or Retention()

    def pseudonym(self, value: str) -> str:
        return "h:" + hmac.digest(self._key, value.encode("utf-8"), "sha256").hex()[:24]  # one-shot: no HMAC object

    def request_hash(self, request: Any) -> str:
        """Keyed hash of the canonical JSON of the request as received."""
        return hmac.digest(self._key, canonical_json(request), "sha256").hex()

    def excerpt(self, text: str) -> str:
        """Identifiers replaced by their pseudonyms, then cut to the retention's excerpt length."""
        limit = self.retention.excerpt_chars
        if limit == 0:
            return ""
        clean = _IDENTIFIERS.sub(lambda m: "⟨" + self.pseudonym(m.group(0)) + "⟩", text[: limit * 4])
        return clean if len(clean) <= limit else clean[: limit - 1] + "…"

    def decision(
        self, decision: Decision, *, request: Any, tenant: str | None = None, request_id: Any = None, now: float | None = None
    ) -> Record:
        """The `decision` record for one request: the verdict in full, the request only as hashes,
        evidence as redacted excerpts; full text beside the chain when retention asks for it."""
        evidence = [
            {
                k: (self.excerpt(str(v)) if k == "text" else v)
                for k, v in item.items()
                if k in ("signal", "message", "source", "start", "end", "text")
            }
            for item in decision.evidence
        ]
        payload: dict[str, Any] = {
            "decision": decision.decision,
            "red_line": decision.red_line,
            "rule": decision.rule,
            "policy_version": decision.policy_version,
            "scores": {k: round(v, 4) for k, v in decision.scores.items()},
            "signals": list(decision.signals),
            "backend": decision.backend,
            "request_hash": self.request_hash(request),
            "request_id": None if request_id is None else self.pseudonym(str(request_id)),
            "evidence": evidence,
        }
        if decision.error is not None:
            payload["error"] = self.excerpt(decision.error)
        if not self.retention.full_text:
            return Record("decision", payload, tenant)
        now = time.time() if now is None else now
        full = request if isinstance(request, str) else canonical_json(request).decode("utf-8")
        return Record("decision", payload, tenant, full_text=full, retain_until=now + self.retention.full_text_days * _DAY_S)

    def alert(self, alert: Mapping[str, Any], tenant: str | None = None) -> Record:
        """The `alert` record of a monitor alert (its wire form: counts, categories, span, sample
        request ids; never identifiers). The sample request ids are pseudonymized as the decision
        records hold them, so an auditor can follow them there."""
        payload = dict(alert)
        payload["sample_request_ids"] = [self.pseudonym(str(r)) for r in alert.get("sample_request_ids") or []]
        return Record("alert", payload, tenant)
