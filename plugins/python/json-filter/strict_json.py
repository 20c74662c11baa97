"""JSON read exactly as Rust's `serde_json` (1.0, default features) reads it into a `Value`,
so that this plugin gives the Rust `json-filter`'s answers byte for byte.

Python's `json` module does most of the work (its C scanner has the same grammar: no
leading zeros, no trailing commas, no single quotes, no control characters in strings,
nothing but blanks after the value, the last of duplicate keys wins). What differs is
handled here:

* `NaN`, `Infinity` and `-Infinity` are errors.
* Numbers become what serde_json makes of them, by its own algorithm: an integer that fits
  `u64` (or, negative, `i64`) stays an int; anything else becomes an f64 computed the way
  serde_json computes it without its `float_roundtrip` feature (significand times or over a
  power of ten), and out-of-range values (`1e400`) are errors. `-0` is the float -0.0.
* Strings with a lone UTF-16 surrogate escape (`"\\ud800"`) are errors.
* Nesting deeper than 127 arrays/objects is an error (serde_json's recursion limit).
* Values compare as serde_json `Value`s do (:func:`same`): `42` (int) is not `42.0`
  (float), `true` is not `1`, objects compare as maps.
"""

import json
import re

__all__ = ["JsonError", "loads", "lookup", "same"]

U64_MAX = (1 << 64) - 1
I32_MAX = (1 << 31) - 1
I32_MIN = -(1 << 31)
_POW10 = [float(f"1e{i}") for i in range(309)]  # serde_json's POW10 table
MAX_DEPTH = 127


class JsonError(ValueError):
    """Not JSON as serde_json reads it."""


def _number(s):
    """A JSON number literal (already checked against the grammar by the scanner) as
    serde_json's `Value` holds it: int (u64 / i64) or float."""
    positive = s[0] != "-"
    if not positive:
        s = s[1:]
    n = len(s)
    i = 0
    significand = 0
    exponent = 0
    # Integer digits, as u64 until the next digit would overflow; the rest count as
    # powers of ten (`parse_long_integer`).
    while i < n and "0" <= s[i] <= "9":
        d = ord(s[i]) - 48
        if significand * 10 + d > U64_MAX:
            while i < n and "0" <= s[i] <= "9":
                exponent += 1
                i += 1
            break
        significand = significand * 10 + d
        i += 1
    if i == n and exponent == 0:  # an integer (`parse_number`)
        if positive:
            return significand
        if significand == 0:
            return -0.0
        if significand <= 1 << 63:
            return -significand
        return -float(significand)
    if i < n and s[i] == ".":  # `parse_decimal`
        i += 1
        while i < n and "0" <= s[i] <= "9":
            d = ord(s[i]) - 48
            if significand * 10 + d > U64_MAX:  # `parse_decimal_overflow`: ignore the rest
                while i < n and "0" <= s[i] <= "9":
                    i += 1
                break
            significand = significand * 10 + d
            exponent -= 1
            i += 1
    if i < n and s[i] in "eE":  # `parse_exponent`
        i += 1
        positive_exp = True
        if s[i] in "+-":
            positive_exp = s[i] == "+"
            i += 1
        exp = 0
        while i < n:
            d = ord(s[i]) - 48
            if exp * 10 + d > I32_MAX:  # `parse_exponent_overflow`
                if significand != 0 and positive_exp:
                    raise JsonError(f"number out of range: {s}")
                return 0.0 if positive else -0.0
            exp = exp * 10 + d
            i += 1
        exponent = exponent + exp if positive_exp else exponent - exp
        exponent = max(I32_MIN, min(I32_MAX, exponent))  # i32 saturating arithmetic
    return _f64_from_parts(positive, significand, exponent, s)


def _f64_from_parts(positive, significand, exponent, s):
    f = float(significand)
    while True:
        e = abs(exponent)
        if e <= 308:
            if exponent >= 0:
                f *= _POW10[e]
                if f == float("inf"):
                    raise JsonError(f"number out of range: {s}")
            else:
                f /= _POW10[e]
            break
        if f == 0.0:
            break
        if exponent >= 0:
            raise JsonError(f"number out of range: {s}")
        f /= 1e308
        exponent += 308
    return f if positive else -f


def _constant(name):
    raise JsonError(f"{name} is not JSON")


_decoder = json.JSONDecoder(parse_int=_number, parse_float=_number, parse_constant=_constant)
# Strings (skipped whole) and brackets: enough to measure the nesting of a valid document.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _too_deep(text):
    depth = 0
    for m in _TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif c in "]}":
            depth -= 1
    return False


def _check_strings(v):
    t = type(v)
    if t is str:
        if _SURROGATE.search(v):
            raise JsonError("lone leading surrogate in hex escape")
    elif t is list:
        for x in v:
            _check_strings(x)
    elif t is dict:
        for k, x in v.items():
            _check_strings(k)
            _check_strings(x)


def loads(data):
    """Parses `data` (bytes, strictly UTF-8, or str) as serde_json would; `JsonError` when
    serde_json would refuse it."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JsonError(f"invalid UTF-8 at byte {e.start}") from None
    else:
        text = data
    # Deep nesting is refused before the C scanner recurses into it.
    if (text.count("[") + text.count("{")) > MAX_DEPTH and _too_deep(text):
        raise JsonError("recursion limit exceeded")
    try:
        value = _decoder.decode(text)
    except JsonError:
        raise
    except (ValueError, RecursionError) as e:
        raise JsonError(str(e)) from None
    if "\\u" in text:
        _check_strings(value)
    return value


_INDEX = re.compile("[0-9]+")


def lookup(value, ptr):
    """`(True, value at ptr)` or `(False, None)`, as serde_json's `Value::pointer`."""
    if ptr == "":
        return True, value
    if not ptr.startswith("/"):
        return False, None
    target = value
    for token in ptr.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        t = type(target)
        if t is dict:
            if token not in target:
                return False, None
            target = target[token]
        elif t is list:
            if token.startswith("+") or (token.startswith("0") and len(token) != 1) or not _INDEX.fullmatch(token):
                return False, None
            i = int(token)
            if i >= len(target):
                return False, None
            target = target[i]
        else:
            return False, None
    return True, target


def same(a, b):
    """Equality of serde_json `Value`s: types must match (`bool` is not a number, an int is
    not a float), objects compare as maps, floats by IEEE equality (0.0 == -0.0)."""
    t = type(a)
    if t is not type(b):
        return False
    if t is dict:
        return a.keys() == b.keys() and all(same(x, b[k]) for k, x in a.items())
    if t is list:
        return len(a) == len(b) and all(map(same, a, b))
    return a == b
