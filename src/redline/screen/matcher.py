"""Candidate generation and fuzzy scoring of one name against every listed name.

An index over the listed names' tokens (and joined neighbours, so "hik vision" meets "hikvision")
finds candidates; a deletion index finds tokens one or two typos away without comparing the whole
vocabulary. Each candidate is scored by aligning tokens (rapidfuzz OSA similarity, joined spans
allowed) weighted by how distinctive each token is: a shared "China" or "Technology" counts for
little, a shared "Hikvision" for a lot. The score is the harmonic mean of how much of the query
and how much of the listed name the alignment covers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from redline.screen.model import ListEntry, NameKind
from redline.screen.normalize import NormalName, normalize

# Words too common in company names to identify anyone (after normalization).
GENERIC = frozenset(
    """china chinese technology international industry science national development investment electronic information
    communication system service engineering manufacturing research institute academy digital network intelligent
    global usa north south east west new 1 2 3 energy solution trading shipping construction resource material equipment
    machinery power electric product device precision design logistic supply chain capital management asset security
    software data cloud optical marine ocean heavy general united state central pacific asia hong kong beijing shanghai
    shenzhen guangzhou hangzhou chengdu wuhan tianjin xian xiamen nanjing chongqing shenyang harbin changsha suzhou
    qingdao dalian hefei zhejiang jiangsu guangdong sichuan fujian hubei hunan shandong enterprise partner venture
    aerospace aviation aircraft automotive motor telecom mobile application commercial consulting center centre trust
    bank financial finance media entertainment health medical pharmaceutical biotech life care food chemical oil gas
    mining metal steel auto transport transportation airline air sea ocean port harbor real estate property land
    high advanced smart creative first royal standard universal unified union alliance associate associated partner
    star sun sky blue red green golden gold great grand bvi cayman island islands macau river""".split()  # noqa: SIM905 - a word list reads best as words
)
GENERIC_WEIGHT = 0.15
UNSEEN_NUMBER_WEIGHT = 0.3
MAX_SPAN = 3  # listed side: tokens joined into index keys
QUERY_SPAN = 4  # query side: syllables written apart ("Zhong Xin Guo Ji") join up to four
CANDIDATES = 8
MIN_EVIDENCE = 0.4
MIN_COVER = 0.35
PRUNE = 0.4  # candidates sharing less than this fraction of the best one's distinctive weight are not scored


def _allowed_edits(a: str, b: str) -> int:
    shortest = min(len(a), len(b))
    if shortest < 3 or max(len(a), len(b)) < 4 or any(c.isdigit() for c in a + b):
        return 0
    return 1 if max(len(a), len(b)) <= 8 else 2


def _fuzzable(key: str) -> bool:
    """Keys looked up with typos: 3 to 16 letters (longer joined spans only match exactly)."""
    return 3 <= len(key) <= 16 and not any(c.isdigit() for c in key)


def _depth(key: str) -> int:
    # one deletion on each side finds substitutions, insertions, deletions and swaps of neighbours
    return 1


def _deletions(token: str, depth: int) -> set[str]:
    out = {token}
    frontier = {token}
    for _ in range(depth):
        nxt = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= nxt
        frontier = nxt
    return out


@dataclass(frozen=True)
class _Name:
    entry: int
    kind: NameKind
    text: str
    norm: NormalName


@dataclass(frozen=True)
class Candidate:
    """A listed name's alignment with the query: score (for review), strict score (for refusal),
    coverage both ways, aligned token pairs."""

    name: _Name
    score: float
    strict: float
    query_coverage: float
    name_coverage: float
    pairs: tuple[tuple[str, str, float], ...]


class NameIndex:
    """Listed names, normalized and indexed for candidate generation and scoring."""

    def __init__(self, entries: Sequence[ListEntry]) -> None:
        self.entries = list(entries)
        self.names: list[_Name] = []
        seen: set[tuple[int, str]] = set()
        for i, entry in enumerate(self.entries):
            for listed in entry.names:
                norm = normalize(listed.text)
                if not norm.tokens or (i, norm.key) in seen:
                    continue
                seen.add((i, norm.key))
                self.names.append(_Name(i, listed.kind, listed.text, norm))
        self.names.extend(self._expanded(seen))
        df: dict[str, int] = defaultdict(int)
        postings: dict[str, list[int]] = defaultdict(list)
        fuzzy_keys: set[str] = set()
        for n, name in enumerate(self.names):
            keys = set(name.norm.tokens)
            toks = name.norm.tokens
            fuzzy_keys.update(toks)
            for size in range(2, MAX_SPAN + 1):
                keys.update("".join(toks[i : i + size]) for i in range(len(toks) - size + 1))
            for key in keys:
                postings[key].append(n)
            for tok in set(toks):
                df[tok] += 1
        self.postings = {k: np.asarray(v, dtype=np.int32) for k, v in postings.items()}
        total = max(len(self.names), 1)
        self.max_idf = math.log(1 + total)
        self.weights = {t: self._weight(t, c) for t, c in df.items()}
        self.block_limit = max(200, total // 200)
        self.name_weight = np.array([sum(self.weights[t] for t in set(name.norm.tokens)) for name in self.names], dtype=np.float64)
        self._scratch = np.zeros(len(self.names), dtype=np.float64)
        self._deletes: dict[str, list[str]] = defaultdict(list)
        for key in fuzzy_keys:
            if _fuzzable(key):
                for d in _deletions(key, _depth(key)):
                    self._deletes[d].append(key)
        self._fuzzy_cache: dict[str, list[tuple[str, float]]] = {}
        self._span_cache: dict[int, tuple[list[tuple[int, int, str]], list[float]]] = {}

    def _expanded(self, seen: set[tuple[int, str]]) -> list[_Name]:
        """Listed names that use another entry's acronym, with the acronym spelled out:
        "14th Research Institute of CETC" also reads "14 research institute china electronic technology"."""
        acronyms: dict[str, tuple[int, tuple[str, ...]]] = {}
        firsts: dict[int, _Name] = {}
        for name in self.names:
            firsts.setdefault(name.entry, name)
        for name in self.names:
            toks = name.norm.tokens
            acronym = name.text.strip().isupper() and name.text.strip().isalpha()
            if name.kind == "alias" and acronym and len(toks) == 1 and 2 <= len(toks[0]) <= 6 and toks[0] not in GENERIC:
                full = firsts[name.entry].norm.tokens
                if len(full) > 1:
                    acronyms.setdefault(toks[0], (name.entry, full))
        out: list[_Name] = []
        for name in self.names:
            for i, tok in enumerate(name.norm.tokens):
                hit = acronyms.get(tok)
                if hit is None or hit[0] == name.entry or len(name.norm.tokens) == 1:
                    continue
                toks = (*name.norm.tokens[:i], *hit[1], *name.norm.tokens[i + 1 :])
                norm = NormalName(name.text, toks, (*name.norm.notes, f"acronym {tok}→{' '.join(hit[1])}"))
                if (name.entry, norm.key) not in seen:
                    seen.add((name.entry, norm.key))
                    out.append(_Name(name.entry, name.kind, name.text, norm))
                break
        return out

    def _spans_of(self, n: int) -> tuple[list[tuple[int, int, str]], list[float]]:
        cached = self._span_cache.get(n)
        if cached is None:
            toks = self.names[n].norm.tokens
            cached = self._span_cache[n] = (_spans(toks), [self.weights[t] for t in toks])
        return cached

    def _weight(self, token: str, count: int) -> float:
        idf = math.log(1 + (len(self.names) or 1) / (count + 1)) / self.max_idf
        return min(idf, GENERIC_WEIGHT) if token in GENERIC else max(idf, 0.05)

    def weight(self, token: str) -> float:
        """How much a token identifies a listed entity (0..1): rare tokens high, generic words low,
        a number not on the list ("38th" institute) a little."""
        found = self.weights.get(token)
        if found is not None:
            return found
        if token in GENERIC:
            return GENERIC_WEIGHT
        return UNSEEN_NUMBER_WEIGHT if token.isdigit() else 1.0

    def similar_keys(self, unit: str) -> list[tuple[str, float]]:
        """Index keys equal to the unit or a typo or two away from it, with their similarity."""
        cached = self._fuzzy_cache.get(unit)
        if cached is not None:
            return cached
        out: list[tuple[str, float]] = [(unit, 1.0)] if unit in self.postings else []
        if _fuzzable(unit):
            seen = {unit}
            for d in _deletions(unit, _depth(unit)):
                for key in self._deletes.get(d, ()):
                    if key in seen:
                        continue
                    seen.add(key)
                    limit = _allowed_edits(unit, key)
                    if limit and OSA.distance(unit, key, score_cutoff=limit) <= limit:
                        out.append((key, OSA.normalized_similarity(unit, key)))
        if len(self._fuzzy_cache) > 200_000:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[unit] = out
        return out

    def candidates(self, query: NormalName, limit: int = CANDIDATES) -> list[int]:
        """Listed names sharing distinctive tokens (exactly, joined, or with typos) with the query."""
        toks = query.tokens
        units: dict[str, float] = {}
        for size in range(1, QUERY_SPAN + 1):
            for i in range(len(toks) - size + 1):
                unit = "".join(toks[i : i + size])
                units[unit] = max(units.get(unit, 0.0), min(1.0, sum(self.weight(t) for t in toks[i : i + size])))
        hits: list[tuple[np.ndarray, float]] = []
        fallback: list[tuple[int, str, float]] = []
        for unit, unit_w in units.items():
            short = len(unit) <= 16
            found = self.similar_keys(unit) if short else ([(unit, 1.0)] if unit in self.postings else [])
            for key, sim in found:
                post = self.postings[key]
                w = self.weights.get(key, unit_w) * sim
                if len(post) > self.block_limit:
                    fallback.append((len(post), key, w))
                else:
                    hits.append((post, w))
        if not hits and fallback:  # only very common words: look at the rarest one, capped
            _, key, w = min(fallback)
            hits.append((self.postings[key][: self.block_limit * 5], w))
        if not hits:
            return []
        scores = self._scratch
        for post, w in hits:
            scores[post] += w  # a name appears once per posting list
        ids = np.sort(np.concatenate([post for post, _ in hits]))
        ids = ids[np.concatenate(([True], ids[1:] != ids[:-1]))]  # unique (np.unique is slower here)
        got = scores[ids]
        scores[ids] = 0.0
        # keep the leaders, and every name the query holds entirely ("CCCC" in "CCCC Second Harbor")
        # ... and never a name whose listed tokens the query barely touches (it cannot reach review)
        nw = self.name_weight[ids]
        held = got >= 0.97 * nw
        keep = ((got >= PRUNE * got.max()) | held) & (got >= MIN_COVER * nw)
        ids, got, held = ids[keep], got[keep], held[keep]
        order = np.lexsort((-got, ~held))[:limit]  # names the query holds entirely first, then by weight
        return [int(i) for i in ids[order]]

    def score(self, query: NormalName, ids: Iterable[int]) -> list[Candidate]:
        """Align the query with each listed name and score it; best first."""
        ids = list(ids)
        if not ids or not query.tokens:
            return []
        q_units = _spans(query.tokens, QUERY_SPAN)
        c_spans = [self._spans_of(n) for n in ids]
        flat = [s[2] for spans, _ in c_spans for s in spans]
        matrix = process.cdist([u[2] for u in q_units], flat, scorer=OSA.normalized_similarity, score_cutoff=0.7, dtype=np.float32)
        q_w = [self.weight(t) for t in query.tokens]
        out: list[Candidate] = []
        col = 0
        for n, (spans, c_w) in zip(ids, c_spans, strict=True):
            block = matrix[:, col : col + len(spans)]
            col += len(spans)
            out.append(self._align(query, q_units, q_w, self.names[n], spans, c_w, block))
        out.sort(key=lambda c: c.score, reverse=True)
        return out

    def _align(
        self,
        query: NormalName,
        q_units: list[tuple[int, int, str]],
        q_w: list[float],
        name: _Name,
        c_units: list[tuple[int, int, str]],
        c_w: list[float],
        block: np.ndarray,
    ) -> Candidate:
        options: list[tuple[float, float, int, int]] = []
        rows, cols = np.nonzero(block)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            qa, qb, qs = q_units[r]
            ca, cb, cs = c_units[c]
            if qb - qa > 1 and cb - ca > 1:
                continue  # span against span is covered by token pairs
            sim = float(block[r, c])
            if sim < 1.0:
                limit = _allowed_edits(qs, cs)
                if not limit or OSA.distance(qs, cs, score_cutoff=limit) > limit:
                    continue
            gain = sim * (sum(q_w[qa:qb]) + sum(c_w[ca:cb]))
            options.append((gain, sim, r, c))
        options.sort(reverse=True)
        used_q = [False] * len(query.tokens)
        used_c = [False] * len(name.norm.tokens)
        got_q = got_c = 0.0
        pairs: list[tuple[str, str, float]] = []
        for _, sim, r, c in options:
            qa, qb, qs = q_units[r]
            ca, cb, cs = c_units[c]
            if any(used_q[qa:qb]) or any(used_c[ca:cb]):
                continue
            used_q[qa:qb] = [True] * (qb - qa)
            used_c[ca:cb] = [True] * (cb - ca)
            got_q += sim * sum(q_w[qa:qb])
            got_c += sim * sum(c_w[ca:cb])
            pairs.append((" ".join(query.tokens[qa:qb]), " ".join(name.norm.tokens[ca:cb]), sim))
        p = got_q / (sum(q_w) or 1.0)
        r_ = got_c / (sum(c_w) or 1.0)
        # a match made of generic words only ("China ... Technology") is damped: it identifies nobody
        damp = min(1.0, got_c / (min(MIN_EVIDENCE, sum(c_w)) or 1.0))
        score = damp * _harmonic(p, r_)
        # The strict score, which a refusal needs, counts a generic word left unmatched double:
        # "Dahua Bank" is not "Dahua" as surely as "Dahua" is (it still goes to review).
        extra_q = sum(GENERIC_WEIGHT for t, u in zip(query.tokens, used_q, strict=True) if not u and t in GENERIC)
        extra_c = sum(GENERIC_WEIGHT for t, u in zip(name.norm.tokens, used_c, strict=True) if not u and t in GENERIC)
        strict = damp * _harmonic(got_q / ((sum(q_w) + extra_q) or 1.0), got_c / ((sum(c_w) + extra_c) or 1.0))
        return Candidate(name, score, strict, p, r_, tuple(pairs))


def _harmonic(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def _spans(tokens: Sequence[str], longest: int = MAX_SPAN) -> list[tuple[int, int, str]]:
    out = [(i, i + 1, t) for i, t in enumerate(tokens)]
    for size in range(2, longest + 1):
        out.extend((i, i + size, "".join(tokens[i : i + size])) for i in range(len(tokens) - size + 1))
    return out
