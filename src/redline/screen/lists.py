"""Read restricted-entity list files: the §1260H CSV layout and OpenSanctions / FollowTheMoney JSON lines.

Reading is all-or-nothing: every problem in every file is collected with its `file:line`, and
if there is any, a `ListFormatError` lists them and nothing is returned. Rows naming the same
entity (same clean name) merge, so a second file can add aliases (e.g. Chinese names).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from anyascii import anyascii

from redline.screen.errors import InvalidNameError, ListFormatError
from redline.screen.model import ListedName, ListEntry, NameKind
from redline.screen.normalize import check_name, normalize

CSV_COLUMNS = ("name", "clean_name", "alias", "previous_name", "parent_name", "listed")
FTM_SCHEMAS = frozenset({"Company", "Organization", "LegalEntity", "PublicBody", "Person"})
MAX_FILE_BYTES = 64 << 20
_DATE_SUFFIX = re.compile(r"[_-]\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ParsedList:
    """Entries read from one or more files, with a digest of their bytes and non-fatal notes."""

    name: str
    entries: tuple[ListEntry, ...]
    sha256: str
    sources: tuple[str, ...]
    warnings: tuple[str, ...]


def default_list_name(path: str) -> str:
    """`dod_1260h_2026-06-08.csv` -> `dod_1260h`: a list keeps its name across editions."""
    return _DATE_SUFFIX.sub("", Path(path).stem) or Path(path).stem


def _entity_id(name: str) -> str:
    """A stable id from the exact name (punctuation and case aside): distinct legal entities such as
    "China Telecom Group Co., Ltd." and "China Telecom Corporation Limited" stay distinct."""
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(name).casefold().replace("'", "")).strip("-")
    return slug or hashlib.sha256(name.encode()).hexdigest()[:16]


class _Builder:
    def __init__(self, list_name: str) -> None:
        self.list_name = list_name
        self.rows: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def name(self, where: str, value: Any, what: str) -> str | None:
        try:
            return check_name(value, what=what)
        except InvalidNameError as e:
            self.problems.append(f"{where}: {e}")
            return None

    def add(self, where: str, line: int, key: str, main: str, names: list[tuple[str, NameKind]], **extra: Any) -> None:
        row = self.rows.get(key)
        if row is None:
            row = {"main": main, "names": [], "line": line, "parent_name": None, "parent_ref": None, "listed": None, "countries": []}
            self.rows[key] = row
            self.order.append(key)
        for text, kind in [(main, "name"), *names]:
            if all(text != t for t, _ in row["names"]):
                row["names"].append((text, kind))
        for field, value in extra.items():
            if value and not row.get(field):
                row[field] = value
            elif value and row[field] != value and field in ("parent_name", "parent_ref"):
                self.warnings.append(f"{where}: {main!r} already has parent {row[field]!r}; {value!r} ignored")

    def entries(self) -> list[ListEntry]:
        by_norm = {normalize(row["main"]).key: k for k, row in self.rows.items()}
        out: list[ListEntry] = []
        for key in self.order:
            row = self.rows[key]
            parent_id = None
            if row["parent_ref"]:
                parent_id = row["parent_ref"] if row["parent_ref"] in self.rows else None
            elif row["parent_name"]:
                slug = _entity_id(row["parent_name"])
                parent_id = slug if slug in self.rows else by_norm.get(normalize(row["parent_name"]).key)
                if parent_id is None:
                    self.warnings.append(f"line {row['line']}: parent {row['parent_name']!r} of {row['main']!r} is not on the list")
            parent_name = row["parent_name"] or (self.rows[parent_id]["main"] if parent_id else None)
            out.append(
                ListEntry(
                    list_name=self.list_name,
                    entity_id=key,
                    name=row["main"],
                    names=tuple(ListedName(t, k) for t, k in row["names"]),
                    parent_id=parent_id,
                    parent_name=parent_name,
                    listed=row["listed"],
                    countries=tuple(row["countries"]),
                    source_line=row["line"],
                )
            )
        return out


_TRAILING_PAREN = re.compile(r"^(?P<base>.+?)\s*\((?P<inner>[^()]+)\)\s*$")


def _parenthetical(name: str) -> list[tuple[str, NameKind]]:
    """ "Dawning Information Industry Co., Ltd. (Sugon)": the part in brackets at the end is an alias
    and the rest a name, unless the brackets hold only generic words ("(Group)", "(Shenzhen)")."""
    from redline.screen.matcher import GENERIC

    m = _TRAILING_PAREN.match(name)
    if not m:
        return []
    inner = normalize(m.group("inner")).tokens
    if not inner or all(t in GENERIC for t in inner):
        return []
    return [(m.group("base"), "name"), (m.group("inner"), "alias")]


def _read_csv(b: _Builder, label: str, text: str) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        b.problems.append(f"{label}:1: empty file")
        return
    except csv.Error as e:
        b.problems.append(f"{label}:1: not CSV: {e}")
        return
    header = [h.strip().lstrip("\ufeff").lower() for h in header]
    missing = [c for c in ("clean_name",) if c not in header] if "name" not in header else []
    if "name" not in header and "clean_name" not in header:
        missing = ["name"]
    if missing:
        b.problems.append(f"{label}:1: missing column(s) {', '.join(missing)} (expected {', '.join(CSV_COLUMNS)})")
        return
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        b.warnings.append(f"{label}:1: column(s) ignored: {', '.join(unknown)}")
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                b.problems.append(f"{label}:{line}: {len(row)} fields, the header has {len(header)}")
                continue
            rec = dict(zip(header, (c.strip() for c in row), strict=True))
            where = f"{label}:{line}"
            main_raw = rec.get("clean_name") or rec.get("name", "")
            main = b.name(where, main_raw, "clean_name" if rec.get("clean_name") else "name")
            if main is None:
                continue
            names: list[tuple[str, NameKind]] = _parenthetical(main)
            for column, kind in (("alias", "alias"), ("previous_name", "previous_name")):
                for part in filter(None, (p.strip() for p in (rec.get(column) or "").split(";"))):
                    checked = b.name(where, part, column)
                    if checked is not None:
                        names.append((checked, kind))  # type: ignore[arg-type]
            parent = None
            if rec.get("parent_name"):
                parent = b.name(where, rec["parent_name"], "parent_name")
            b.add(where, line, _entity_id(main), main, names, parent_name=parent, listed=rec.get("listed") or None)
    except csv.Error as e:
        b.problems.append(f"{label}:{reader.line_num}: not CSV: {e}")


def _read_ftm(b: _Builder, label: str, text: str) -> None:
    ownerships: list[tuple[str, int, str, str]] = []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{label}:{line}"
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            b.problems.append(f"{where}: not JSON: {e}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("properties", {}), dict):
            b.problems.append(f"{where}: not a FollowTheMoney entity (an object with id, schema, properties)")
            continue
        schema, ident, props = obj.get("schema"), obj.get("id"), obj.get("properties") or {}
        if not isinstance(ident, str) or not ident:
            b.problems.append(f"{where}: entity without an id")
            continue
        if schema == "Ownership":
            owner, asset = props.get("owner") or [], props.get("asset") or []
            if owner and asset:
                ownerships.append((where, line, str(owner[0]), str(asset[0])))
            continue
        if schema not in FTM_SCHEMAS:
            continue
        values: dict[str, list[str]] = {}
        for prop in ("name", "alias", "previousName", "weakAlias", "country", "parent", "createdAt"):
            v = props.get(prop) or []
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                b.problems.append(f"{where}: properties.{prop} must be a list of strings")
                v = []
            values[prop] = v
        if not values["name"]:
            b.problems.append(f"{where}: entity {ident!r} has no name")
            continue
        main = b.name(where, values["name"][0], "name")
        if main is None:
            continue
        names: list[tuple[str, NameKind]] = []
        for prop, kind in (("name", "name"), ("alias", "alias"), ("previousName", "previous_name"), ("weakAlias", "weak_alias")):
            for text_ in values[prop][1 if prop == "name" else 0 :]:
                checked = b.name(where, text_, f"{prop}")
                if checked is not None:
                    names.append((checked, kind))  # type: ignore[arg-type]
        listed = obj.get("first_seen") if isinstance(obj.get("first_seen"), str) else None
        parent_ref = values["parent"][0] if values["parent"] else None
        b.add(where, line, ident, main, names, parent_ref=parent_ref, listed=listed, countries=[c.upper() for c in values["country"]])
    for where, _line, owner, asset in ownerships:
        if asset in b.rows and owner in b.rows:
            b.rows[asset]["parent_ref"] = b.rows[asset]["parent_ref"] or owner
        else:
            b.warnings.append(f"{where}: ownership between entities not on the list ignored")


def read_lists(paths: list[str], list_name: str | None = None) -> ParsedList:
    """Read and merge list files; raise `ListFormatError` with every `file:line` problem found."""
    if not paths:
        raise ListFormatError(["no list file given"])
    name = list_name or default_list_name(paths[0])
    b = _Builder(name)
    digest = hashlib.sha256()
    for path in paths:
        p = Path(path)
        try:
            size = p.stat().st_size
            if size > MAX_FILE_BYTES:
                b.problems.append(f"{path}: {size} bytes, larger than the {MAX_FILE_BYTES >> 20} MB a list file may have")
                continue
            data = p.read_bytes()
        except OSError as e:
            b.problems.append(f"{path}: cannot read: {e.strerror or e}")
            continue
        digest.update(hashlib.sha256(data).digest())
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            b.problems.append(f"{path}:{line}: not valid UTF-8 (byte {e.start})")
            continue
        if "\x00" in text:
            line = text[: text.index("\x00")].count("\n") + 1
            b.problems.append(f"{path}:{line}: NUL byte (binary file?)")
            continue
        if p.suffix.lower() in (".json", ".jsonl", ".ndjson", ".ftm") or text.lstrip().startswith("{"):
            _read_ftm(b, path, text)
        else:
            _read_csv(b, path, text)
    entries = b.entries() if not b.problems else []
    if not b.problems and not entries:
        b.problems.append(f"{', '.join(paths)}: no entities found")
    if b.problems:
        raise ListFormatError(b.problems)
    return ParsedList(name, tuple(entries), digest.hexdigest(), tuple(paths), tuple(b.warnings))
