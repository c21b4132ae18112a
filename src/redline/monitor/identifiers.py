"""Identifiers in the raw text of one request: phone numbers (with country), e-mail addresses,
SSNs, license plates, IP and MAC addresses, IMEIs, advertising IDs, coordinates, street addresses
and person names (a cue-based heuristic; see docs/monitor.md for its limits).

Every pattern is RE2 (linear time on untrusted text). The whole text is scanned, so a pasted list
of a thousand numbers yields a thousand identifiers: bulk inputs are counted, not sampled.
Phone candidates are confirmed with `phonenumbers`; numbers in the North American plan are
recognized without it when the home region is in that plan (measured: ~100 µs per
`phonenumbers.parse`, which a pasted list of 500 numbers would pay 500 times).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import phonenumbers
import re2

IdentifierKind = Literal["phone", "email", "ssn", "plate", "ip", "mac", "imei", "ad_id", "coordinates", "address", "name"]

MAX_IDENTIFIERS = 100_000  # per request; past this the request is counted as this many


@dataclass(frozen=True, slots=True)
class Identifier:
    """One identifier: its kind, a normalized value (the subject key is derived from it), the
    country it points to when it says so (ISO code or "" for unknown), and where it was found."""

    kind: IdentifierKind
    value: str
    country: str
    line: int
    start: int


def _options() -> re2.Options:
    opts = re2.Options()
    opts.max_mem = 64 << 20
    opts.log_errors = False
    return opts


_OPTS = _options()

# One pass over the text; the alternation order is the priority where two kinds could match the
# same characters (an IMEI before a phone number, a MAC before an IPv6 address).
_SCAN = re2.compile(
    r"(?P<email>[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,6}\.[A-Za-z]{2,24})"
    r"|(?P<adid>\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b)"
    r"|(?P<mac>\b[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}\b)"
    r"|(?P<coord>[-+]?\b\d{1,2}\.\d{3,8}\s{0,3},\s{0,3}[-+]?\d{1,3}\.\d{3,8}\b)"
    r"|(?P<ipv4>\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b)"
    r"|(?P<ipv6>\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}\b)"
    r"|(?P<ssn>\b\d{3}-\d{2}-\d{4}\b)"
    r"|(?P<imei>\b\d{2}[- ]?\d{6}[- ]?\d{6}[- ]?\d\b)"
    r"|(?P<address>\b\d{1,6}\s(?:[A-Za-z0-9][A-Za-z0-9'.-]{0,24}\s){1,4}(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|ter|circle|cir|parkway|pkwy|highway|hwy|trail|trl|square|sq)\b\.?(?:,?\s(?i:apt|unit|suite|ste|#)\.?\s?[A-Za-z0-9-]{1,6})?)"
    r"|(?P<phone>\+\d{1,3}(?:[\s.-]{0,2}\(?\d{1,5}\)?){1,6}|(?:\b1[\s.-]{0,2})?(?:\(\d{3}\)|\b\d{3})[\s.-]{0,2}\d{3}[\s.-]{0,2}\d{4}\b|\b\d{10,15}\b)"
    r"|(?P<name>\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sgt|Lt|Capt|Det|Officer|Judge|Rev)\.?\s[A-Z][a-z'-]{1,24}(?:\s[A-Z][a-z'-]{1,24})?\b)"
    r"|(?P<cuename>\b(?i:named|name:|name is|of|for|on|about|is|subject|suspect|target|person|individual|resident|customer|employee|driver|owner|user|contact|applicant|patient|tenant|member|client|caller)\s{1,3}[A-Z][a-z'-]{1,24}\s(?:[A-Z]\.?\s)?[A-Z][a-z'-]{1,24}(?:-[A-Z][a-z'-]{1,24})?\b)",
    _OPTS,
)
# A separate pass, run only when the request speaks of vehicles: in the main scan a plate-shaped
# token would swallow the start of an SSN or a MAC address.
_PLATES = re2.compile(r"\b[A-Z0-9]{0,3}(?:[A-Z][- ]?\d|\d[- ]?[A-Z])[A-Z0-9]{0,5}\b", _OPTS)
_ZIP_LIKE = re.compile(r"^[A-Z]{2}\d{5}$")
_KINDS: dict[int, str] = {index: name for name, index in _SCAN.groupindex.items()}
# Helpers on short, bounded strings (a candidate already found, or 48 characters after it): the
# standard library is cheaper per call here than the RE2 wrapper, and nothing can backtrack far.
_DIGIT_RUNS = re.compile(r"\d+")
_NANP_SHAPES = frozenset({(3, 3, 4), (1, 3, 3, 4), (10,), (11,), (3, 7)})
_STATE_PLATE = re.compile(r"\b([A-Z]{2})[ -]{1,2}$")
_ZIP_AFTER = re.compile(r"^,?\s{0,3}(?:[A-Za-z .]{2,30},\s{0,3})?(?:[A-Z]{2})\s{1,3}\d{5}(?:-\d{4})?\b")

_US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "PR",
    ]
)
# Capitalized words that start organization, place and title phrases, not person names.
_NOT_GIVEN_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "and",
        "or",
        "of",
        "for",
        "on",
        "in",
        "at",
        "to",
        "by",
        "with",
        "from",
        "new",
        "north",
        "south",
        "east",
        "west",
        "united",
        "san",
        "los",
        "las",
        "santa",
        "saint",
        "st",
        "fort",
        "lake",
        "mount",
        "port",
        "upper",
        "lower",
        "greater",
        "central",
        "national",
        "federal",
        "state",
        "county",
        "city",
        "department",
        "agency",
        "bureau",
        "office",
        "police",
        "court",
        "district",
        "university",
        "college",
        "school",
        "hospital",
        "bank",
        "company",
        "group",
        "inc",
        "corp",
        "llc",
        "ltd",
        "human",
        "resources",
        "help",
        "desk",
        "service",
        "services",
        "support",
        "team",
        "project",
        "operation",
        "program",
        "ministry",
        "army",
        "navy",
        "air",
        "force",
        "marine",
        "general",
        "admiral",
        "colonel",
        "major",
        "captain",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "please",
        "thanks",
        "hello",
        "dear",
        "hi",
        "i",
        "we",
        "you",
        "he",
        "she",
        "they",
        "it",
        "my",
        "our",
        "your",
        "his",
        "her",
        "their",
        "all",
        "any",
        "each",
        "every",
        "some",
        "no",
        "not",
        "one",
        "two",
        "three",
        "first",
        "second",
        "last",
        "next",
        "previous",
        "street",
        "avenue",
        "road",
        "drive",
        "lane",
        "boulevard",
        "district",
        "republic",
        "kingdom",
        "people",
        "peoples",
        "islamic",
        "democratic",
        "foreign",
        "domestic",
        "policy",
        "intelligence",
        "security",
        "defense",
        "defence",
        "homeland",
        "public",
        "private",
        "joint",
        "special",
        "task",
        "force",
    ]
)
_PLATE_STOP = frozenset({"AND", "THE", "FOR", "VIN", "ALPR", "LPR", "ANPR", "DMV", "SUV"})


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@lru_cache(maxsize=65_536)
def _parse_phone(candidate: str, region: str) -> tuple[str, str] | None:
    """(E.164, ISO region) of a phone candidate, or None when it is not a possible number."""
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = f"+{number.country_code}{number.national_number}"
    return e164, phonenumbers.region_code_for_number(number) or ""


_CHUNK = 2048


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """The text in pieces of about `_CHUNK` characters cut at line ends. The RE2 wrapper converts
    byte offsets to character offsets from the start of the string for every match, so one scan
    over a long pasted list costs quadratic time; pieces keep it linear."""
    if len(text) <= _CHUNK:
        yield 0, text
        return
    start = 0
    while start < len(text):
        cut = text.find("\n", start + _CHUNK)
        end = len(text) if cut < 0 else cut + 1
        yield start, text[start:end]
        start = end


def _shift(ident: Identifier, offset: int, line_offset: int = 0) -> Identifier:
    return Identifier(ident.kind, ident.value, ident.country, ident.line + line_offset, ident.start + offset)


class IdentifierExtractor:
    """Finds identifiers in raw request text for one home region (the policy's home country)."""

    def __init__(self, home_region: str, home_phone_codes: list[str], home_regions: list[tuple[float, float, float, float]]) -> None:
        self.home_region = home_region.upper()
        self.home_phone_codes = frozenset(home_phone_codes)
        self.home_regions = list(home_regions)
        self._nanp_home = "1" in self.home_phone_codes

    def extract(self, text: str, *, plates: bool, devices: bool) -> list[Identifier]:
        """All identifiers in `text`. Plates are read only when the request speaks of vehicles,
        advertising IDs and MAC addresses only when it speaks of device IDs (`plates` / `devices`):
        without that context a token such as "7ABC123", a UUID or a MAC is far more often a part
        number, a request id or an asset on the organization's own network than a person."""
        found: list[Identifier] = []
        line = 0
        for offset, chunk in _chunks(text):
            pos = 0
            for m in _SCAN.finditer(chunk):
                if len(found) >= MAX_IDENTIFIERS:
                    break
                kind = _KINDS[m.lastindex or 0]  # the wrapper's lastgroup rebuilds the group index per match
                start, end = m.span()
                line += chunk.count("\n", pos, start)
                pos = start
                ident = self._identify(kind, chunk[start:end], chunk, start, end, line, devices=devices)
                if ident is not None:
                    found.append(ident if offset == 0 else _shift(ident, offset))
            line += chunk.count("\n", pos)
        if plates:
            taken = {i.start for i in found}
            for offset, chunk in _chunks(text):
                for m in _PLATES.finditer(chunk):
                    start, end = m.span()
                    if len(found) >= MAX_IDENTIFIERS:
                        break
                    if start + offset in taken:
                        continue
                    plate = self._plate(chunk[start:end], chunk, start, end)
                    if plate is not None:
                        found.append(_shift(plate, offset, text.count("\n", 0, offset)))
        return found

    def _identify(self, kind: str, raw: str, text: str, start: int, end: int, line: int, *, devices: bool) -> Identifier | None:
        if kind == "phone":
            return self._phone(raw, line, start)
        if kind == "email":
            return Identifier("email", raw.lower(), "", line, start)
        if kind == "ssn":
            area = raw[:3]
            if area in ("000", "666") or area[0] == "9" or raw[4:6] == "00" or raw[7:] == "0000":
                return None
            return Identifier("ssn", raw.replace("-", ""), self.home_region if self.home_region == "US" else "", line, start)
        if kind == "imei":
            digits = "".join(ch for ch in raw if ch.isdigit())
            if _luhn(digits):
                return Identifier("imei", digits, "", line, start)
            return self._phone(raw, line, start)
        if kind in ("ipv4", "ipv6"):
            # private, loopback and link-local addresses name hosts on an organization's own
            # network, not people; only global addresses can lead to a subscriber
            try:
                addr = ipaddress.ip_address(raw)
            except ValueError:
                return None
            return Identifier("ip", addr.compressed, "", line, start) if addr.is_global else None
        if kind == "mac":
            return Identifier("mac", raw.lower().replace("-", ":"), "", line, start) if devices else None
        if kind == "adid":
            return Identifier("ad_id", raw.lower(), "", line, start) if devices else None
        if kind == "coord":
            return self._coordinates(raw, line, start)
        if kind == "address":
            return self._address(raw, text, end, line, start)
        if kind == "name":
            return self._name(raw.split(None, 1)[1] if " " in raw else raw, line, start, titled=True)
        if kind == "cuename":
            return self._name(raw.split(None, 1)[1], line, start, titled=False)
        return None

    def _phone(self, raw: str, line: int, start: int) -> Identifier | None:
        digits = "".join(ch for ch in raw if ch.isdigit())
        international = raw.lstrip().startswith("+")
        if len(digits) < 7 or len(digits) > 15:
            return None
        if not international and len(digits) < 10:
            return None  # a short local number, a date or an amount: too ambiguous to be a subject
        if not international and self._nanp_home:
            groups = tuple(len(g) for g in _DIGIT_RUNS.findall(raw))
            if groups not in _NANP_SHAPES:
                return None  # dates, times, amounts and case numbers are digit runs too
            if len(digits) == 11 and digits[0] != "1":
                return None
            national = digits[-10:]
            if national[0] in "01" or national[3] in "01":
                return None
            return Identifier("phone", "+1" + national, "US", line, start)
        parsed = _parse_phone(raw, self.home_region)
        if parsed is None:
            return None
        return Identifier("phone", parsed[0], parsed[1], line, start)

    def _coordinates(self, raw: str, line: int, start: int) -> Identifier | None:
        lat_s, lon_s = (p.strip() for p in raw.split(",", 1))
        lat, lon = float(lat_s), float(lon_s)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        home = any(a <= lat <= b and c <= lon <= d for a, b, c, d in self.home_regions)
        # ~100 m cells: the same place written with more digits is the same place
        return Identifier("coordinates", f"{lat:.3f},{lon:.3f}", self.home_region if home else "foreign", line, start)

    def _address(self, raw: str, text: str, end: int, line: int, start: int) -> Identifier | None:
        words = raw.split()
        if len(words) < 3:
            return None
        value = " ".join(w.strip(".,").lower() for w in words)
        tail = text[end : end + 48]
        zm = _ZIP_AFTER.search(tail)
        country = ""
        if zm is not None:
            state = zm.group().replace(",", " ").split()[-2].upper()
            if state in _US_STATES:
                country = "US"
        return Identifier("address", value, country, line, start)

    def _name(self, raw: str, line: int, start: int, *, titled: bool) -> Identifier | None:
        parts = [p.strip(".").lower() for p in raw.split()]
        parts = [p for p in parts if len(p) > 1]
        if not parts or parts[0] in _NOT_GIVEN_NAMES or parts[-1] in _NOT_GIVEN_NAMES:
            return None
        if not titled and len(parts) < 2:
            return None
        return Identifier("name", " ".join(parts), "", line, start)

    def _plate(self, raw: str, text: str, start: int, end: int) -> Identifier | None:
        compact = raw.replace("-", "").replace(" ", "")
        if not 5 <= len(compact) <= 8 or compact in _PLATE_STOP or _ZIP_LIKE.search(compact):
            return None
        if (start > 0 and text[start - 1] in "-/:.#") or (end < len(text) and text[end] in "-/:.@"):
            return None  # part of a case number, a date, an address or an e-mail
        digits = sum(ch.isdigit() for ch in compact)
        if digits == 0 or digits == len(compact):
            return None
        sm = _STATE_PLATE.search(text[max(0, start - 4) : start])
        country = "US" if sm is not None and sm.group(1) in _US_STATES else ""
        return Identifier("plate", compact, country, text.count("\n", 0, start), start)
