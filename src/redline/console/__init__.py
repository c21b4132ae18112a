"""The console: the reviewers' web UI, served by `redline serve` under `/console/`.

Owns local accounts and roles (`accounts`), sessions and CSRF (`sessions`), login rate limiting
(`ratelimit`), the ledger records of what humans do in it (`audit`), the pages (`views`, `admin`, with
`templates/` and `static/`), the alerts chart (`chart`) and the wiring (`app`). Must not decide,
classify or verify signatures itself: it reads and answers the review queue (`redline.review`),
and the Gate's verifier checks every authorization. Never holds an approver's private key.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import Mount

from redline.console.accounts import ROLES, AccountError, Role, User, UserStore
from redline.console.admin import AdminViews
from redline.console.app import PREFIX, Shell
from redline.console.audit import Audit
from redline.console.sessions import SessionStore
from redline.console.views import Views
from redline.gate import GateStore
from redline.ledger import Ledger
from redline.monitor import Monitor
from redline.monitor.store import MonitorStore
from redline.policy import Policy
from redline.review import ReviewStore
from redline.screen.store import ListStore
from redline.store import DatabaseURL
from redline.tenants import TenantStore

__all__ = ["PREFIX", "ROLES", "AccountError", "Console", "Role", "User", "UserStore", "open_console"]


@dataclass
class Console:
    """The console's stores and its mount (`Mount("/console", ...)`) for the gateway's app."""

    mount: Mount
    users: UserStore
    sessions: SessionStore
    lists: ListStore | None

    def close(self) -> None:
        self.users.close()
        self.sessions.close()
        if self.lists is not None:
            self.lists.close()


def open_console(
    db: DatabaseURL,
    policy: Policy,
    ledger: Ledger,
    reviews: ReviewStore,
    *,
    gate_store: GateStore | None = None,
    tenants: TenantStore | None = None,
    monitor_store: MonitorStore | None = None,
    monitor: Monitor | None = None,
) -> Console:
    """The console on the gateway's database. `ledger`: a ledger handle of its own (console actions
    are appended from request handlers); the other stores are shared with the gateway."""
    users, sessions = UserStore(db), SessionStore(db)
    lists = ListStore(db)
    shell = Shell(users, sessions, Audit(ledger))
    views = Views(shell, policy, reviews, ledger, gate_store, tenants, monitor_store, monitor, lists)
    admin = AdminViews(shell, ledger, tenants, lists, gate_store)
    app = shell.app([*views.routes(), *admin.routes()])
    return Console(Mount(PREFIX, app=app), users, sessions, lists)
