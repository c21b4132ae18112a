"""Every action a human takes in the console becomes a `console` ledger record: who (user, role),
what (`event`), on what (ids, hashes) and why (the reviewer's reason). Never a password, a session
token, a key or request text. A failed login records the name only when such a user exists (a
password typed into the name field must not reach the ledger)."""

from __future__ import annotations

import asyncio
from typing import Any

from redline.ledger import Ledger, Record


class Audit:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def record(self, event: str, user: str | None, role: str | None, tenant: str | None = None, **details: Any) -> int:
        """Append one record and return its ledger id. Callers record an action right after doing it
        and report a failure to record as an error to the user."""
        payload: dict[str, Any] = {"event": event, "user": user, "role": role}
        payload.update({k: v for k, v in details.items() if v is not None})
        receipt = await asyncio.to_thread(self.ledger.append, Record(kind="console", payload=payload, tenant=tenant))
        return receipt.seq
