"""Name normalization: one name -> comparable tokens, and the list of transformations applied.

Case folding, Unicode compatibility forms, ASCII folding of other scripts (anyascii), Chinese read
as English words and pinyin (`zh`), legal-form suffixes removed, abbreviations and plurals
unified. The notes say what was done, so a match can show its evidence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz.distance import OSA

from redline.screen.errors import InvalidNameError
from redline.screen.zh import read_run, simplify, strip_suffixes

MAX_NAME_CHARS = 400

# Legal forms and filler words: dropped wherever they stand (they say nothing about who it is).
LEGAL_FORMS = frozenset(
    """co company companies corp corporation corporations inc incorporated ltd limited llc lp llp plc pty pte pvt
    gmbh ag sa sas sarl srl spa bv nv ab oy as kk jsc pjsc ojsc oao ooo zao slu sl
    group holding the of and for de coltd corpn ltda limitada sdn bhd oyj asa sro zrt kft bhd""".split()  # noqa: SIM905 - a word list reads best as words
)
ABBREVIATIONS: dict[str, str] = {
    "tech": "technology",
    "techs": "technology",
    "technologies": "technology",
    "technological": "technology",
    "hi": "high",
    "hitech": "high technology",
    "hightech": "high technology",
    "intl": "international",
    "natl": "national",
    "mfg": "manufacturing",
    "mfr": "manufacturing",
    "eng": "engineering",
    "engg": "engineering",
    "sci": "science",
    "ind": "industry",
    "inds": "industry",
    "indus": "industry",
    "industries": "industry",
    "industrial": "industry",
    "elec": "electronic",
    "electronics": "electronic",
    "comm": "communication",
    "comms": "communication",
    "telecommunication": "telecom",
    "telecommunications": "telecom",
    "sys": "system",
    "svc": "service",
    "svcs": "service",
    "info": "information",
    "inst": "institute",
    "res": "research",
    "acad": "academy",
    "univ": "university",
    "equip": "equipment",
    "mach": "machinery",
    "semi": "semiconductor",
    "semicon": "semiconductor",
    "aero": "aerospace",
    "intel": "intelligence",
    "dev": "development",
    "mgmt": "management",
    "invest": "investment",
    "us": "usa",
    "america": "usa",
    "americas": "usa",
    "american": "usa",
    "hk": "hong kong",
    "hongkong": "hong kong",
    "first": "1",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "fifth": "5",
    "sixth": "6",
    "no": "",
    "nr": "",
    "&": "",
    "grp": "group",
    "chn": "china",
    "shipbldg": "shipbuilding",
    "bldg": "building",
    "constr": "construction",
    "const": "construction",
    "cons": "construction",
    "weapon": "ordnance",
    "weapons": "ordnance",
    "armament": "ordnance",
    "armaments": "ordnance",
    "storage": "memory",
}
# Pinyin of the generic words `zh.WORDS` translates, so that "Zhongguo Dianzi Keji" reads like
# 中国电子科技 and like "China Electronics Technology".
PINYIN_WORDS: dict[str, str] = {
    "zhongguo": "china",
    "zhonghua": "china",
    "guojia": "national",
    "guoji": "international",
    "keji": "technology",
    "jishu": "technology",
    "gaokeji": "high technology",
    "dianzi": "electronic",
    "weidianzi": "microelectronic",
    "xinxi": "information",
    "tongxin": "communication",
    "tongxun": "communication",
    "wangluo": "network",
    "hangkong": "aviation",
    "hangtian": "aerospace",
    "kegong": "science industry",
    "gongye": "industry",
    "chanye": "industry",
    "shiye": "industrial",
    "zhonggong": "heavy industry",
    "konggu": "holding",
    "touzi": "investment",
    "yanjiusuo": "research institute",
    "yanjiuyuan": "research institute",
    "kexue": "science",
    "fazhan": "development",
    "shuzi": "digital",
    "zhineng": "intelligent",
    "xitong": "system",
    "shebei": "equipment",
    "jixie": "machinery",
    "dianqi": "electric",
    "nengyuan": "energy",
    "xinnengyuan": "new energy",
    "guangdian": "optoelectronic",
    "guangxue": "optical",
    "bandaoti": "semiconductor",
    "jicheng": "integrated",
    "dianlu": "circuit",
    "zhizao": "manufacturing",
    "cunchu": "memory",
    "chuanbo": "shipbuilding",
    "haiyang": "ocean",
    "haiyun": "shipping",
    "hangyun": "shipping",
    "wuliu": "logistic",
    "jianshe": "construction",
    "jianzhu": "construction",
    "gongcheng": "engineering",
    "sheji": "design",
    "feiji": "aircraft",
    "wurenji": "uav",
    "yidong": "mobile",
    "dianxin": "telecom",
    "liantong": "unicom",
    "weixing": "satellite",
    "anquan": "security",
    "ruanjian": "software",
    "zidonghua": "automation",
    "daohang": "navigation",
    "jingmi": "precision",
    "cailiao": "material",
    "huagong": "chemical",
    "shiyou": "petroleum",
    "hegongye": "nuclear industry",
    "dianli": "power",
    "jiyin": "genomic",
    "maoyi": "trading",
    "guanli": "management",
    "fuwu": "service",
    "binqi": "ordnance",
    "jiqiren": "robotic",
    "changjiang": "yangtze",
    "jituan": "group",
    "youxian": "limited",
    "gongsi": "company",
    "gufen": "company",
    "zerenyouxian": "limited",
}
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_TOKEN = re.compile(r"[a-z0-9]+")
_HAN_RUNS = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_APOSTROPHES = str.maketrans("", "", "'’‘`´ʼ")


@dataclass(frozen=True)
class NormalName:
    """A name as tokens, with the transformations that produced them (for evidence)."""

    text: str
    tokens: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def key(self) -> str:
        return " ".join(self.tokens)

    @property
    def compact(self) -> str:
        return "".join(self.tokens)


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF or 0xF900 <= o <= 0xFAFF


def _script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    if _is_han(ch):
        return "HAN"
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else None


def check_name(name: object, *, what: str = "name") -> str:
    """The name if it can be screened or listed; a `InvalidNameError` saying why not otherwise."""
    if not isinstance(name, str):
        raise InvalidNameError(f"{what} must be a string, not {type(name).__name__}")
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        raise InvalidNameError(f"{what} is empty")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidNameError(f"{what} is {len(text)} characters long (at most {MAX_NAME_CHARS})")
    if text.isascii():
        bad = _ASCII_CONTROL.search(text)
        if bad:
            raise InvalidNameError(f"{what} contains a control character U+{ord(bad.group()):04X} at position {bad.start()}")
        if not any(ch.isalnum() for ch in text):
            raise InvalidNameError(f"{what} has no letters or digits")
        return text
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in " ":
            raise InvalidNameError(f"{what} contains a control or invisible character U+{ord(ch):04X} at position {i}")
    for word in text.split():
        scripts = {s for s in map(_script, word) if s is not None}
        # Han next to Latin is normal ("AVIC中航"); Latin with Cyrillic or Greek in one word is a homoglyph trick.
        if len(scripts - {"HAN"}) > 1:
            raise InvalidNameError(f"{what} mixes scripts ({', '.join(sorted(scripts))}) in the word {word!r}")
    if not any(ch.isalnum() for ch in text):
        raise InvalidNameError(f"{what} has no letters or digits")
    return text


def fold_mixed_scripts(name: str) -> str:
    """A query whose words mix scripts is read as its ASCII folding (homoglyphs become letters)."""
    return " ".join(anyascii(w) if len({s for s in map(_script, w) if s} - {"HAN"}) > 1 else w for w in name.split())


_PINYIN_STARTS = frozenset(w[:n] for w in PINYIN_WORDS for n in range(1, 7))


def _join_syllables(tokens: list[str], notes: list[str]) -> list[str]:
    """Pinyin written one syllable per word: "dian zi ke ji" -> "dianzi keji" where the joined
    syllables are a known pinyin word (longest first, up to four syllables)."""
    if len(tokens) < 2:
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] not in _PINYIN_STARTS:
            out.append(tokens[i])
            i += 1
            continue
        for size in (4, 3, 2):
            joined = "".join(tokens[i : i + size])
            if i + size <= len(tokens) and joined in PINYIN_WORDS:
                notes.append(f"pinyin syllables {' '.join(tokens[i : i + size])}→{joined}")
                out.append(joined)
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def _latin_tokens(part: str, notes: list[str]) -> list[str]:
    part = part.translate(_APOSTROPHES)
    folded = anyascii(part) if not part.isascii() else part
    if folded != part:
        notes.append(f"ascii {part.strip()}→{folded.strip()}")
    folded = folded.lower().replace("&", " and ").replace("+", " and ")
    out: list[str] = []
    for raw in _join_syllables(_TOKEN.findall(folded), notes):
        tok = raw
        if m := _ORDINAL.match(tok):
            tok = m.group(1)
        if tok in ABBREVIATIONS or tok in PINYIN_WORDS:
            mapped = ABBREVIATIONS.get(tok) or PINYIN_WORDS.get(tok, "")
            if mapped != tok and mapped:
                notes.append(f"{'pinyin word' if tok in PINYIN_WORDS else 'abbreviation'} {tok}→{mapped}")
            out.extend(mapped.split())
            continue
        out.append(tok)
    return out


_LONG_LEGAL = ("company", "corporation", "limited", "incorporated", "holding", "holdings", "group")


@lru_cache(maxsize=1 << 16)
def _legal_typo(tok: str) -> str | None:
    """The legal-form word a misspelled token stands for ("corportion" -> "corporation"), if any."""
    if len(tok) < 5 or tok in LEGAL_FORMS or tok.isdigit():
        return None
    for word in _LONG_LEGAL:
        if abs(len(word) - len(tok)) <= 2 and OSA.distance(tok, word, score_cutoff=2) <= (1 if len(word) <= 8 else 2):
            return word
    return None


@lru_cache(maxsize=1 << 16)
def _stem(tok: str) -> str:
    if len(tok) > 4 and not tok.isdigit():
        if tok.endswith("ies"):
            return tok[:-3] + "y"
        if tok.endswith("s") and not tok.endswith(("ss", "us", "is")):
            return tok[:-1]
    return tok


def normalize(name: str) -> NormalName:
    """Tokens of a checked name (see `check_name`), legal forms removed, with the notes of what changed."""
    text = unicodedata.normalize("NFKC", name).casefold()
    notes: list[str] = []
    raw: list[str] = []
    # split into runs of Han characters and the rest
    for run in (text,) if text.isascii() else _HAN_RUNS.split(text):
        if not run:
            continue
        if _is_han(run[0]):
            simple = simplify(run)
            if simple != run:
                notes.append(f"traditional {run}→{simple}")
            core, removed = strip_suffixes(simple)
            if removed:
                notes.append(f"legal form {'+'.join(removed)} removed")
            toks, how = read_run(core)
            raw.extend(toks)
            notes.extend(how)
        else:
            raw.extend(_latin_tokens(run, notes))
    for i, t in enumerate(raw):
        if (fixed := _legal_typo(t)) is not None:
            notes.append(f"misspelled legal form {t}→{fixed}")
            raw[i] = fixed
    dropped = [t for t in raw if t in LEGAL_FORMS]
    tokens = [_stem(t) for t in raw if t not in LEGAL_FORMS]
    if dropped:
        notes.append(f"legal form {' '.join(dropped)} removed")
    if not tokens:  # a name made only of legal words ("The Group Co."): keep what there is
        tokens = [_stem(t) for t in raw]
    stemmed = [f"{a}→{b}" for a, b in zip([t for t in raw if t not in LEGAL_FORMS], tokens, strict=False) if a != b]
    if stemmed:
        notes.append(f"plural {' '.join(stemmed)}")
    return NormalName(name, tuple(tokens), tuple(notes))
