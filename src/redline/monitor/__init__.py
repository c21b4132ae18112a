"""The monitor: cross-request detection of mass domestic surveillance (the mosaic, POLICY.md
section 3 "Across requests"). Per tenant and time window it counts the distinct domestic subjects
touched by surveillance-type requests, the data categories joined per subject, bulk inputs and
cited legal process; the policy's monitor rules turn counts into alerts and escalate the tenant's
further matching requests until a reviewer clears them.

Owns identifier extraction, subject resolution, windows and sketches, monitor rules, alerts and
its own state tables. Must not classify text, decide single requests (it only escalates the
engine's `Decision`), write the ledger or speak HTTP.
"""

from redline.monitor.alerts import Alert
from redline.monitor.identifiers import Identifier, IdentifierExtractor
from redline.monitor.monitor import Monitor, MonitorError, Observation
from redline.monitor.profile import RequestProfile, Subject, raw_text
from redline.monitor.store import MemoryStore, MonitorStore, SqlStore, open_store

__all__ = [
    "Alert",
    "Identifier",
    "IdentifierExtractor",
    "MemoryStore",
    "Monitor",
    "MonitorError",
    "MonitorStore",
    "Observation",
    "RequestProfile",
    "SqlStore",
    "Subject",
    "open_store",
    "raw_text",
]
