"""The review queue: requests the gateway held (review or block) and lethal tool calls waiting for a
human authorization, with what reviewers and approvers decided about them.

Owns its own tables (`review_holds`, `review_challenges`) through `redline.store`, holding only what
the ledger's `Redactor` allows (hashes, redacted excerpts; full text only when the policy's
retention keeps it). Must not decide, classify, verify signatures or speak HTTP: the gateway fills
it (`redline.gateway.reviewing`), the console reads and answers it, the Gate verifies.
"""

from redline.review.store import Hold, HoldStatus, PendingChallenge, ReviewError, ReviewStore

__all__ = ["Hold", "HoldStatus", "PendingChallenge", "ReviewError", "ReviewStore"]
