"""Infrastructure linking: accounts of a tenant joined into clusters (union-find) when they send
the same template, come from the same network, or carry the same payment / organization
reference. Each cluster keeps its suspicious members, so a network is judged as a whole."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any


class Linker:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parent: dict[str, str] = {}
        self.index: OrderedDict[str, str] = OrderedDict()  # link key -> first account seen with it
        self.suspicious: dict[str, list[str]] = {}  # cluster root -> its suspicious accounts
        self.via: dict[str, dict[str, int]] = {}  # cluster root -> links by kind (template, net, org)

    def find(self, account: str) -> str:
        parent = self.parent
        root = account
        while True:
            up = parent.get(root)
            if up is None or up == root:
                break
            root = up
        while account != root:  # path compression
            up = parent.get(account, root)
            parent[account] = root
            account = up
        return root

    def union(self, a: str, b: str, kind: str) -> str:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if len(self.suspicious.get(ra, ())) < len(self.suspicious.get(rb, ())):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.parent.setdefault(ra, ra)
        moved = self.suspicious.pop(rb, None)
        if moved:
            self.suspicious.setdefault(ra, []).extend(moved)
        via = self.via.setdefault(ra, {})
        for k, n in self.via.pop(rb, {}).items():
            via[k] = via.get(k, 0) + n
        via[kind] = via.get(kind, 0) + 1
        if len(self.parent) > 2 * self.limit:  # bounded: forget the oldest links (a cluster re-forms as it keeps sending)
            for stale in list(self.parent)[: self.limit]:
                if self.parent.get(stale) == stale and stale in self.suspicious:
                    continue
                self.parent.pop(stale, None)
        return ra

    def linked(self, keys: Iterable[str], account: str) -> set[str]:
        """The first account seen under each infrastructure key (`net:...`, `org:...`); `account`
        becomes the first for keys not seen before."""
        out = set()
        for key in keys:
            first = self.index.get(key)
            if first is None:
                self.index[key] = account
                if len(self.index) > self.limit:
                    self.index.popitem(last=False)
            elif first != account:
                self.index.move_to_end(key)
                out.add(first)
        return out

    def link(self, account: str, partners: Iterable[str], kind: str) -> str:
        """Join `account` with `partners` (`kind`: template, infrastructure); returns its cluster root."""
        self.parent.setdefault(account, account)
        root = self.find(account)
        for other in partners:
            if self.find(other) != root:
                root = self.union(account, other, kind)
        return root

    def mark(self, account: str) -> tuple[str, list[str]]:
        """`account` turned suspicious: its cluster root and the cluster's suspicious accounts."""
        root = self.find(account)
        members = self.suspicious.setdefault(root, [])
        if account not in members:
            members.append(account)
        return root, members

    def to_state(self) -> dict[str, Any]:
        return {
            "parent": self.parent,
            "index": list(self.index.items()),
            "suspicious": self.suspicious,
            "via": self.via,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.parent = {str(k): str(v) for k, v in state["parent"].items()}
        self.index = OrderedDict((str(k), str(v)) for k, v in state["index"])
        self.suspicious = {str(k): [str(x) for x in v] for k, v in state["suspicious"].items()}
        self.via = {str(k): {str(a): int(b) for a, b in v.items()} for k, v in state["via"].items()}
