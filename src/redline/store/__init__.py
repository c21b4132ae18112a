"""Storage: the `--db` URL and connections to the two databases redline runs on.

Owns parsing `sqlite:///path` / `postgresql://...` and opening a connection configured the way
every caller needs it (SQLite in WAL mode with a busy timeout; psycopg 3 for PostgreSQL). Must not
hold any table layout or domain logic: each capability (ledger, tenants, approvals) owns its own
tables and talks SQL through these connections.
"""

from redline.store.url import DatabaseURL, StoreError, parse_db_url

__all__ = ["DatabaseURL", "StoreError", "parse_db_url"]
