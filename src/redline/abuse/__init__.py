"""Account-level abuse detection: distillation networks (many accounts extracting the model's
capabilities) and AI-orchestrated intrusions (an agent run against targets outside the tenant's
declared cyber scope). Neither is visible in one request; both are read across a tenant's accounts.

Owns account metadata, template near-duplicates, distillation signals, account linking, intrusion
targets and scope, kill-chain phases, and the glue that turns them into monitor alerts and
escalations. Its state lives in the monitor's per-tenant state and its alerts go through the
monitor's alert path (`Alert.kind` = `distillation` | `intrusion`). Must not classify text for the
red lines, decide single requests on its own, write the ledger or speak HTTP.
"""

from redline.abuse.account import AccountMeta
from redline.abuse.detector import AbuseDetector, AbuseState
from redline.abuse.targets import CyberScope, ScopeError, Target, extract_targets

__all__ = ["AbuseDetector", "AbuseState", "AccountMeta", "CyberScope", "ScopeError", "Target", "extract_targets"]
