"""resource.Quantity: parse, canonicalize and convert exactly as k8s.io/apimachinery does.

A quantity is an exact decimal: `<signedNumber><suffix>` with a binary suffix (Ki..Ei), a
decimal SI suffix (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e3, E-6). Parsing
rounds away from zero to nano ("0.9n" -> 1n), caps binary values at 2^63-1 ("8Ei"), and
remembers the suffix family. Serializing gives upstream's canonical form:

    1000m -> 1      0.5 -> 500m      1.5 -> 1500m      1024Mi -> 1Gi      1.5Gi -> 1536Mi
    1e3 -> 1e3 (the exponent family is kept; 1000 -> 1k only for plain decimals)

Like upstream, a string that is already "canonical enough" on the int64 fast path is echoed
verbatim (so "100m", "1Ki", even "+1" and "1.500k" come back unchanged); see `_fast_path_keeps`.

The value is held as `mantissa * 10**exponent` (ints), so "1e1000000000" parses in O(1) and
`to_int`/`to_milli` never build huge numbers: like Go's int64 accessors they only make sense
inside int64; beyond it we saturate instead of overflowing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
BINARY_SI = "BinarySI"  # 12Mi
DECIMAL_SI = "DecimalSI"  # 12M

SPLIT_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = "quantities must match the regular expression '" + SPLIT_RE + "'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

MAX_INT64 = (1 << 63) - 1
_NANO = -9
_MAX_INT64_FACTORS = 18

_DEC_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_BY_EXP = {e: s for s, e in _DEC_SUFFIXES.items()}
_BIN_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_BY_POWER = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")


class QuantityError(ValueError):
    """A string that is not a quantity; `message` is upstream's error text.

    kube-apiserver reports it while decoding the body (400 BadRequest,
    `Pod in version "v1" cannot be handled as a Pod: <message>`); validation can also use it
    as an Invalid cause's detail.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Quantity:
    """An exact decimal value (`mantissa * 10**exponent`) and the suffix family to print it in.

    `cached` is the input string when upstream would echo it back unchanged.
    """

    mantissa: int
    exponent: int
    format: str = DECIMAL_SI
    cached: str | None = None

    @property
    def value(self) -> Fraction:
        """The exact value (beware of absurd exponents like 1e1000000000)."""
        if self.exponent >= 0:
            return Fraction(self.mantissa * 10**self.exponent)
        return Fraction(self.mantissa, 10**-self.exponent)

    def sign(self) -> int:
        return (self.mantissa > 0) - (self.mantissa < 0)

    def is_zero(self) -> bool:
        return self.mantissa == 0

    def to_int(self) -> int:
        """Value(): the value rounded up (away from zero) to an integer, e.g. bytes."""
        return _scaled(self.mantissa, self.exponent, 0)

    def to_milli(self) -> int:
        """MilliValue(): value*1000 rounded up (away from zero), e.g. millicores."""
        return _scaled(self.mantissa, self.exponent, -3)

    def round_up(self, scale: int) -> "Quantity":
        """RoundUp(scale): round away from zero to a multiple of 10**scale.

        kube-apiserver does `RoundUp(-3)` on every container resource (defaulting), so "3.001n"
        is stored as "1m". A value already that coarse keeps its cached string.
        """
        if self.exponent >= scale:
            return self
        m, e = _round_away(self.mantissa, self.exponent, scale)
        return Quantity(m, e, self.format)

    def __add__(self, other: "Quantity") -> "Quantity":
        """Add(): exact; a zero receiver takes the other operand's format."""
        e = min(self.exponent, other.exponent)
        m = self.mantissa * 10 ** (self.exponent - e) + other.mantissa * 10 ** (other.exponent - e)
        return Quantity(m, e, other.format if self.mantissa == 0 else self.format)

    def __sub__(self, other: "Quantity") -> "Quantity":
        """Sub(): exact; a zero receiver takes the other operand's format."""
        return self + (-other) if self.mantissa else Quantity(-other.mantissa, other.exponent, other.format)

    def __neg__(self) -> "Quantity":
        return Quantity(-self.mantissa, self.exponent, self.format)

    def __str__(self) -> str:
        return self.cached if self.cached is not None else _canonical(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return _cmp(self, other) == 0

    def __hash__(self) -> int:
        m, e = _strip_zeros(self.mantissa, self.exponent)
        return hash((m, e))

    def __lt__(self, other: "Quantity") -> bool:
        return _cmp(self, other) < 0

    def __le__(self, other: "Quantity") -> bool:
        return _cmp(self, other) <= 0

    def __gt__(self, other: "Quantity") -> bool:
        return _cmp(self, other) > 0

    def __ge__(self, other: "Quantity") -> bool:
        return _cmp(self, other) >= 0


# --- parsing ----------------------------------------------------------------------------------


def _scan(s: str) -> tuple[bool, str, str, str, str]:
    """parseQuantityString: (positive, value, num, denom, suffix); num has leading zeros stripped."""
    positive, pos, end = True, 0, len(s)
    if pos < end and s[0] in "+-":
        positive = s[0] != "-"
        pos += 1
    while pos < end and s[pos] == "0":  # strip leading zeros
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    num = s[start:pos] or "0"
    if pos >= end:
        return positive, s, num, "", ""
    denom = ""
    if s[pos] == ".":
        pos += 1
        start = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[start:pos]
        if pos >= end:
            return positive, s, num, denom, ""
    value = s[:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT)
    return positive, value, num, denom, s[suffix_start:]


def _wrap_int32(v: int) -> int:
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def _interpret(suffix: str) -> tuple[int, int, str]:
    """suffixer.interpret: (base, exponent, format)."""
    if suffix in _DEC_SUFFIXES:
        return 10, _DEC_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BIN_SUFFIXES:
        return 2, _BIN_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        rest = suffix[1:]
        digits = rest[1:] if rest[:1] in ("+", "-") else rest
        if digits and all(c in _DIGITS for c in digits):
            parsed = int(rest)
            if -(1 << 63) <= parsed <= MAX_INT64:
                return 10, _wrap_int32(parsed), DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _fast_path_keeps(num: str, denom: str, base: int, exponent: int, fmt: str) -> bool:
    """Would upstream's int64 fast path cache the input string (so String() echoes it)?"""
    if fmt == BINARY_SI:
        if denom:
            return False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        scale = 0
    else:
        precision = _MAX_INT64_FACTORS - (len(num) + len(denom))
        scale = exponent
    if precision < 0:
        return False
    scale -= len(denom)
    if scale < _NANO:
        return False
    shifted = num + denom
    value = int(shifted)
    if value * (1 << exponent if base == 2 else 1) > MAX_INT64:
        return False
    if fmt == BINARY_SI:
        return exponent % 10 == 0 and value & 0x07 != 0
    return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def _round_away(mantissa: int, exponent: int, scale: int) -> tuple[int, int]:
    """Round away from zero to a whole multiple of 10**scale (inf.RoundUp)."""
    if exponent >= scale or mantissa == 0:
        return mantissa, exponent
    drop = scale - exponent
    sign = -1 if mantissa < 0 else 1
    m = abs(mantissa)
    if drop > len(str(m)):  # 0 < |value| < 10**scale: one unit
        return sign, scale
    q, r = divmod(m, 10**drop)
    return sign * (q + (1 if r else 0)), scale


def _round_to_nano(mantissa: int, exponent: int) -> tuple[int, int]:
    """Parsing keeps nano precision, rounding finer values away from zero ("0.9n" -> 1n)."""
    return _round_away(mantissa, exponent, _NANO)


@lru_cache(maxsize=4096)
def parse_quantity(s: str) -> Quantity:
    """ParseQuantity. Raises QuantityError with upstream's message."""
    if not s:
        raise QuantityError(ERR_FORMAT)
    if s == "0":
        return Quantity(0, 0, DECIMAL_SI, "0")
    positive, _, num, denom, suffix = _scan(s)
    base, exponent, fmt = _interpret(suffix)
    digits = int(num + denom)
    if base == 10:
        mantissa, exp10 = digits, exponent - len(denom)
    else:
        mantissa, exp10 = digits << exponent, -len(denom)
    if not positive:
        mantissa = -mantissa
    cached = s if _fast_path_keeps(num, denom, base, exponent, fmt) else None
    if cached is None:
        mantissa, exp10 = _round_to_nano(mantissa, exp10)
        if fmt == BINARY_SI and mantissa != 0:
            if abs(Fraction(mantissa) * Fraction(10) ** exp10) > MAX_INT64:
                mantissa, exp10 = (MAX_INT64 if mantissa > 0 else -MAX_INT64), 0
            elif exp10 < 0 and abs(mantissa) < 10**-exp10:
                fmt = DECIMAL_SI  # 0 < |v| < 1 can't be written in binary units
    return Quantity(mantissa, exp10, fmt, cached)


def quantity_from_json(v: object) -> Quantity:
    """A quantity as it appears in a decoded JSON body: a string, or a bare JSON number.

    Upstream parses the raw JSON token; a number decoded to int/float is re-spelled with
    Python's shortest repr ("0.5", "1e-05"), which parses to the same value.
    """
    if isinstance(v, str):
        return parse_quantity(v.strip())  # UnmarshalJSON trims surrounding whitespace
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise QuantityError(ERR_FORMAT)
    return parse_quantity(repr(v))


@lru_cache(maxsize=4096)
def canonical(s: str) -> str:
    """The string kube-apiserver stores and returns for the quantity `s`."""
    return str(parse_quantity(s))


def to_int(q: Quantity | str) -> int:
    """Value(): rounded up to a whole number (bytes, counts)."""
    return (parse_quantity(q) if isinstance(q, str) else q).to_int()


def to_milli(q: Quantity | str) -> int:
    """MilliValue(): thousandths, rounded up (millicores)."""
    return (parse_quantity(q) if isinstance(q, str) else q).to_milli()


def new_quantity(value: int, fmt: str = DECIMAL_SI) -> Quantity:
    """NewQuantity(value, format): e.g. new_quantity(1 << 30, BINARY_SI) prints "1Gi"."""
    return Quantity(value, 0, fmt)


def new_milli_quantity(milli: int, fmt: str = DECIMAL_SI) -> Quantity:
    """NewMilliQuantity(value, format): e.g. new_milli_quantity(1500) prints "1500m"."""
    return Quantity(milli, -3, fmt)


# --- canonical form -------------------------------------------------------------------------------


def _strip_zeros(mantissa: int, exponent: int) -> tuple[int, int]:
    if mantissa == 0:
        return 0, 0
    digits = str(abs(mantissa))
    stripped = digits.rstrip("0")
    if len(stripped) == len(digits):
        return mantissa, exponent
    m = int(stripped)
    return (m if mantissa > 0 else -m), exponent + len(digits) - len(stripped)


def _canonical(q: Quantity) -> str:
    """CanonicalizeBytes: the largest suffix that keeps the value exact, no fractional digits."""
    if q.mantissa == 0:
        return "0"
    fmt = q.format
    if fmt == BINARY_SI:
        if _abs_lt(q, 1024):
            fmt = DECIMAL_SI
        else:
            m, e = _strip_zeros(q.mantissa, q.exponent)
            if e < 0:
                fmt = DECIMAL_SI  # not a whole number: binary units would round
            else:
                return _binary_string(m * 10**e)
    elif fmt != DECIMAL_SI:
        fmt = DECIMAL_EXPONENT
    m, e = _strip_zeros(q.mantissa, q.exponent)
    shift = e % 3  # lower the exponent to a multiple of 3 (Python's % floors)
    m, e = m * 10**shift, e - shift
    if fmt == DECIMAL_SI and e in _DEC_BY_EXP:
        return f"{m}{_DEC_BY_EXP[e]}"
    # DecimalExponent, or a DecimalSI value beyond 'E' (upstream falls back to e-notation)
    return f"{m}e{e}" if e else str(m)


def _binary_string(n: int) -> str:
    power, a = 0, abs(n)
    while a >= 1024 and a % 1024 == 0 and power < len(_BIN_BY_POWER) - 1:
        a //= 1024
        power += 1
    return f"{'-' if n < 0 else ''}{a}{_BIN_BY_POWER[power]}"


def _abs_lt(q: Quantity, bound: int) -> bool:
    """|q| < bound without materializing huge exponents."""
    m, e = abs(q.mantissa), q.exponent
    if e >= 0:
        return len(str(m)) + e <= len(str(bound)) and m * 10**e < bound
    return m < bound * 10**-e


# --- comparison and conversion -------------------------------------------------------------------


def _cmp(a: Quantity, b: Quantity) -> int:
    if a.sign() != b.sign():
        return (a.sign() > b.sign()) - (a.sign() < b.sign())
    if a.mantissa == 0:
        return 0
    am, ae = _strip_zeros(a.mantissa, a.exponent)
    bm, be = _strip_zeros(b.mantissa, b.exponent)
    # compare magnitudes by order of magnitude first, so 1e1000000000 never gets built
    amag, bmag = len(str(abs(am))) + ae, len(str(abs(bm))) + be
    if amag != bmag:
        bigger = 1 if amag > bmag else -1
        return bigger if a.mantissa > 0 else -bigger
    e = min(ae, be)
    x, y = am * 10 ** (ae - e), bm * 10 ** (be - e)
    return (x > y) - (x < y)


def _scaled(mantissa: int, exponent: int, scale: int) -> int:
    """ceil(|v| / 10**scale) with v's sign: ScaledValue(scale), saturated to int64."""
    if mantissa == 0:
        return 0
    sign = -1 if mantissa < 0 else 1
    m = abs(mantissa)
    shift = exponent - scale
    if shift >= 0:
        if len(str(m)) + shift > 19:
            return sign * MAX_INT64
        return sign * min(m * 10**shift, MAX_INT64)
    if -shift > len(str(m)):
        return sign  # 0 < |v| < 10**scale rounds up to one unit
    q, r = divmod(m, 10**-shift)
    return sign * min(q + (1 if r else 0), MAX_INT64)
