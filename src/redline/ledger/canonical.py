"""RFC 8785 canonical JSON, fast enough for the append path.

`rfc8785.dumps` is the reference but spends ~150 µs on a decision record; this encoder produces
the same bytes (a property test holds it to the reference) in ~20 µs. orjson escapes strings
exactly as RFC 8785 §3.2.2.2 asks and sorts ASCII keys as UTF-16 order would; numbers are the
one place the two differ (`0.0` vs `0`, exponent forms), so one walk swaps every float for its
ECMAScript form as a pre-serialized fragment. Anything outside that easy domain (non-ASCII keys,
integers beyond 2^53, unusual types) goes through a slower exact encoder, and floats that need
exponent notation through the reference implementation.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

_INT_MAX = 2**53 - 1


class _NeedsExactEncoderError(Exception):
    """The value needs the exact (slower) encoder."""


def _es6_float(x: float) -> str:
    if x.is_integer():
        if abs(x) <= _INT_MAX:
            return str(int(x))  # also turns -0.0 into "0"
        return bytes(rfc8785.dumps(x)).decode("ascii")  # large: ECMAScript pads shortest digits with zeros
    r = repr(x)
    # Python's repr and ECMAScript agree on plain decimal notation (1e-4 <= |x| < 1e16); exponent
    # forms, NaN and infinities are left to the reference (which rejects the last two).
    if "e" in r or "n" in r:
        return bytes(rfc8785.dumps(x)).decode("ascii")
    return r


def _prepare(obj: Any) -> Any:
    kind = type(obj)
    if kind is str or kind is bool or obj is None:
        return obj
    if kind is int:
        if -_INT_MAX <= obj <= _INT_MAX:
            return obj
        raise _NeedsExactEncoderError
    if kind is float:
        return orjson.Fragment(_es6_float(obj))
    if kind is dict:
        for key in obj:
            if type(key) is not str or not key.isascii():
                raise _NeedsExactEncoderError
        return {key: _prepare(value) for key, value in obj.items()}
    if kind is list or kind is tuple:
        return [_prepare(item) for item in obj]
    raise _NeedsExactEncoderError


def _utf16_key(key: str) -> bytes:
    # RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names.
    return key.encode("utf-16-be", "surrogatepass")


def _encode(obj: Any, out: list[bytes]) -> None:
    if isinstance(obj, str):
        out.append(orjson.dumps(obj))
    elif obj is None:
        out.append(b"null")
    elif obj is True:
        out.append(b"true")
    elif obj is False:
        out.append(b"false")
    elif isinstance(obj, int) and -_INT_MAX <= obj <= _INT_MAX:
        out.append(str(int(obj)).encode())
    elif isinstance(obj, dict):
        out.append(b"{")
        first = True
        if not all(isinstance(key, str) for key in obj):
            raise TypeError("object keys must be strings")
        # Code-point order equals UTF-16 order unless a key holds a character above U+FFFF.
        for key in sorted(obj) if all(key.isascii() for key in obj) else sorted(obj, key=_utf16_key):
            if not first:
                out.append(b",")
            first = False
            out.append(orjson.dumps(key))
            out.append(b":")
            _encode(obj[key], out)
        out.append(b"}")
    elif isinstance(obj, list | tuple):
        out.append(b"[")
        for i, item in enumerate(obj):
            if i:
                out.append(b",")
            _encode(item, out)
        out.append(b"]")
    else:
        # floats (ECMAScript number formatting), out-of-domain integers (an error) and anything
        # else: the reference implementation decides.
        out.append(bytes(rfc8785.dumps(obj)))


def dumps(obj: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON value."""
    try:
        return orjson.dumps(_prepare(obj), option=orjson.OPT_SORT_KEYS)
    except _NeedsExactEncoderError:
        pass
    out: list[bytes] = []
    _encode(obj, out)
    return b"".join(out)
