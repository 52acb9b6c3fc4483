"""resource.Quantity: tables ported from apimachinery's quantity_test.go."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubeling.api.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    ERR_FORMAT,
    ERR_SUFFIX,
    MAX_INT64,
    Quantity,
    QuantityError,
    canonical,
    new_milli_quantity,
    new_quantity,
    parse_quantity,
    quantity_from_json,
    to_int,
    to_milli,
)


def dec(m: int, exp: int, fmt: str = DECIMAL_SI) -> Quantity:
    """decQuantity(i, exponent, format) from the Go tests: value m * 10**exp."""
    return Quantity(m, exp, fmt)


# --- TestQuantityParse --------------------------------------------------------------------------

PARSE_TABLE = [
    ("0", dec(0, 0)), ("0n", dec(0, 0)), ("0u", dec(0, 0)), ("0m", dec(0, 0)),
    ("0Ki", dec(0, 0, BINARY_SI)), ("0k", dec(0, 0)), ("0Mi", dec(0, 0, BINARY_SI)), ("0M", dec(0, 0)),
    ("0Gi", dec(0, 0, BINARY_SI)), ("0G", dec(0, 0)), ("0Ti", dec(0, 0, BINARY_SI)), ("0T", dec(0, 0)),
    ("1", dec(1, 0)),
    # binary suffixes
    ("1Ki", dec(1024, 0, BINARY_SI)), ("8Ki", dec(8 * 1024, 0, BINARY_SI)), ("7Mi", dec(7 * 1024**2, 0, BINARY_SI)),
    ("6Gi", dec(6 * 1024**3, 0, BINARY_SI)), ("5Ti", dec(5 * 1024**4, 0, BINARY_SI)),
    ("4Pi", dec(4 * 1024**5, 0, BINARY_SI)), ("3Ei", dec(3 * 1024**6, 0, BINARY_SI)),
    ("10Ti", dec(10 * 1024**4, 0, BINARY_SI)), ("100Ti", dec(100 * 1024**4, 0, BINARY_SI)),
    # decimal suffixes
    ("5n", dec(5, -9)), ("4u", dec(4, -6)), ("3m", dec(3, -3)), ("9", dec(9, 0)), ("8k", dec(8, 3)),
    ("50k", dec(5, 4)), ("7M", dec(7, 6)), ("6G", dec(6, 9)), ("5T", dec(5, 12)), ("40T", dec(4, 13)),
    ("300T", dec(3, 14)), ("2P", dec(2, 15)), ("1E", dec(1, 18)),
    # decimal exponents
    ("1E-3", dec(1, -3, DECIMAL_EXPONENT)), ("1e3", dec(1, 3, DECIMAL_EXPONENT)), ("1E6", dec(1, 6, DECIMAL_EXPONENT)),
    ("1e9", dec(1, 9, DECIMAL_EXPONENT)), ("1E12", dec(1, 12, DECIMAL_EXPONENT)), ("1e15", dec(1, 15, DECIMAL_EXPONENT)),
    ("1E18", dec(1, 18, DECIMAL_EXPONENT)),
    # nonstandard but still parsable
    ("1e14", dec(1, 14, DECIMAL_EXPONENT)), ("1e13", dec(1, 13, DECIMAL_EXPONENT)), ("100.035k", dec(100035, 0)),
    # things that look like floating point
    ("0.001", dec(1, -3)), ("0.0005k", dec(5, -1)), ("0.005", dec(5, -3)), ("0.05", dec(5, -2)), ("0.5", dec(5, -1)),
    ("0.00050k", dec(5, -1)), ("0.00500", dec(5, -3)), ("0.05000", dec(5, -2)), ("0.50000", dec(5, -1)),
    ("0.5e0", dec(5, -1, DECIMAL_EXPONENT)), ("0.5e-1", dec(5, -2, DECIMAL_EXPONENT)),
    ("0.5e-2", dec(5, -3, DECIMAL_EXPONENT)), ("10.035M", dec(10035, 3)),
    ("1.2e3", dec(12, 2, DECIMAL_EXPONENT)), ("1.3E+6", dec(13, 5, DECIMAL_EXPONENT)),
    ("1.40e9", dec(14, 8, DECIMAL_EXPONENT)), ("1.53E12", dec(153, 10, DECIMAL_EXPONENT)),
    ("1.6e15", dec(16, 14, DECIMAL_EXPONENT)), ("1.7E18", dec(17, 17, DECIMAL_EXPONENT)),
    ("9.01", dec(901, -2)), ("8.1k", dec(81, 2)), ("7.123456M", dec(7123456, 0)), ("6.987654321G", dec(6987654321, 0)),
    ("5.444T", dec(5444, 9)), ("40.1T", dec(401, 11)), ("300.2T", dec(3002, 11)), ("2.5P", dec(25, 14)),
    ("1.01E", dec(101, 16)),
    # things that saturate/round
    ("3.001n", dec(4, -9)), ("1.1E-9", dec(2, -9, DECIMAL_EXPONENT)), ("0.0000000001", dec(1, -9)),
    ("0.0000000005", dec(1, -9)), ("0.00000000050", dec(1, -9)), ("0.5e-9", dec(1, -9, DECIMAL_EXPONENT)),
    ("0.9n", dec(1, -9)), ("0.00000012345", dec(124, -9)), ("0.00000012354", dec(124, -9)),
    ("9Ei", dec(MAX_INT64, 0, BINARY_SI)), ("9223372036854775807Ki", dec(MAX_INT64, 0, BINARY_SI)),
    ("12E", dec(12, 18)),
    # fractional binary
    ("100.035Ki", dec(10243584, -2, BINARY_SI)), ("0.5Mi", dec(512 * 1024, 0, BINARY_SI)),
    ("0.05Gi", dec(536870912, -1, BINARY_SI)), ("0.025Ti", dec(274877906944, -1, BINARY_SI)),
    # things written by trolls
    ("0.000000000001Ki", dec(2, -9)),  # rounds up, changes format
    (".001", dec(1, -3)), (".0001k", dec(100, -3)), ("1.", dec(1, 0)), ("1.G", dec(1, 9)),
]


@pytest.mark.parametrize("s,want", PARSE_TABLE)
def test_parse(s, want):
    got = parse_quantity(s)
    assert got == want and got.format == want.format
    neg = parse_quantity("-" + s)
    assert neg == -want and neg.format == want.format
    plus = parse_quantity("+" + s)
    assert plus == want and plus.format == want.format


@pytest.mark.parametrize("s,msg", [
    ("", ERR_FORMAT), ("1.1.M", ERR_FORMAT), ("1+1.0M", ERR_FORMAT), ("0.1mi", ERR_SUFFIX), ("0.1am", ERR_FORMAT),
    ("aoeu", ERR_FORMAT), (".5i", ERR_SUFFIX), ("1i", ERR_SUFFIX), ("-3.01i", ERR_SUFFIX), ("-3.01e-", ERR_SUFFIX),
    (" 1", ERR_FORMAT), ("1 ", ERR_FORMAT), ("1e", ERR_SUFFIX), ("1ki", ERR_SUFFIX), ("1KI", ERR_FORMAT),
    ("1e99999999999999999999", ERR_SUFFIX), ("Non-Numeric", ERR_FORMAT),
])
def test_parse_invalid(s, msg):
    with pytest.raises(QuantityError) as e:
        parse_quantity(s)
    assert e.value.message == msg
    assert isinstance(e.value, ValueError)


def test_error_text_is_upstream():
    assert ERR_FORMAT == "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


# --- TestQuantityString: canonical form, and which strings parse back verbatim ------------------

STRING_TABLE = [
    (dec(1024 * 1024 * 1024, 0, BINARY_SI), "1Gi", "1024Mi"),
    (dec(300 * 1024 * 1024, 0, BINARY_SI), "300Mi", "307200Ki"),
    (dec(6 * 1024, 0, BINARY_SI), "6Ki", ""),
    (dec(1001 * 1024**3, 0, BINARY_SI), "1001Gi", "1025024Mi"),
    (dec(1024**4, 0, BINARY_SI), "1Ti", "1024Gi"),
    (dec(5, 0, BINARY_SI), "5", "5000m"),
    (dec(500, -3, BINARY_SI), "500m", "0.5"),
    (dec(1, 9), "1G", "1000M"),
    (dec(1000, 6), "1G", "0.001T"),
    (dec(1000000, 3), "1G", ""),
    (dec(1000000000, 0), "1G", ""),
    (dec(1, -3), "1m", "1000u"),
    (dec(80, -3), "80m", ""),
    (dec(1080, -3), "1080m", "1.08"),
    (dec(108, -2), "1080m", "1080000000n"),
    (dec(10800, -4), "1080m", ""),
    (dec(300, 6), "300M", ""),
    (dec(1, 12), "1T", ""),
    (dec(1, 18), "1E", ""),
    (dec(1, 21), "1e21", "1000E"),
    (dec(5, 21), "5e21", "5000E"),
    (dec(1, 24), "1e24", "1000000E"),
    (dec(1234567, 6), "1234567M", ""),
    (dec(1234567, -3, BINARY_SI), "1234567m", ""),
    (dec(3, 3), "3k", ""),
    (dec(1025, 0, BINARY_SI), "1025", ""),
    (dec(0, 0), "0", ""),
    (dec(0, 0, BINARY_SI), "0", ""),
    (dec(1, 9, DECIMAL_EXPONENT), "1e9", ".001e12"),
    (dec(1, -3, DECIMAL_EXPONENT), "1e-3", "0.001e0"),
    (dec(1, -9, DECIMAL_EXPONENT), "1e-9", "1000e-12"),
    (dec(80, -3, DECIMAL_EXPONENT), "80e-3", ""),
    (dec(300, 6, DECIMAL_EXPONENT), "300e6", ""),
    (dec(1, 12, DECIMAL_EXPONENT), "1e12", ""),
    (dec(1, 3, DECIMAL_EXPONENT), "1e3", ""),
    (dec(3, 3, DECIMAL_EXPONENT), "3e3", ""),
    (dec(3, 3), "3k", ""),
    (dec(0, 0, DECIMAL_EXPONENT), "0", "00"),
    (dec(1, -9), "1n", ""),
    (dec(80, -9), "80n", ""),
    (dec(1080, -9), "1080n", ""),
    (dec(108, -8), "1080n", ""),
    (dec(10800, -10), "1080n", ""),
    (dec(1, -6), "1u", ""),
    (dec(80, -6), "80u", ""),
    (dec(1080, -6), "1080u", ""),
]


@pytest.mark.parametrize("q,expect,alternate", STRING_TABLE)
def test_string(q, expect, alternate):
    assert str(q) == expect
    assert parse_quantity(expect).cached == expect  # canonical strings are kept verbatim
    if alternate:
        alt = parse_quantity(alternate)
        assert alt.cached is None
        assert str(alt) == expect == canonical(alternate)
    if not q.is_zero():
        assert str(-q) == "-" + expect


@pytest.mark.parametrize("s,expect", [
    ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"), (".001Ki", "1024m"),
    (".000001Ki", "1024u"), (".000000001Ki", "1024n"), (".000000000001Ki", "2n"),
])
def test_parse_emit(s, expect):
    assert canonical(s) == expect
    assert canonical("-" + s) == "-" + expect


@pytest.mark.parametrize("s,expect", [
    # the examples from the design notes and what kubectl users see
    ("1000m", "1"), ("0.5", "500m"), ("1.5", "1500m"), ("1.5Gi", "1536Mi"), ("1e3", "1e3"), ("1000", "1k"),
    ("100m", "100m"), ("250m", "250m"), ("128974848", "128974848"), ("129e6", "129e6"), ("129M", "129M"),
    ("123Mi", "123Mi"), ("0.1", "100m"), ("1.5Ki", "1536"), ("0.5Mi", "512Ki"), ("100.035Ki", "102435840m"),
    ("8Ei", "9223372036854775807"), ("0Ki", "0"), ("-0", "0"), ("000", "0"), (".", "0"),
    ("1e1000000000", "10e999999999"), ("1e-1000000000", "1e-9"),
    # strings the int64 fast path echoes back unchanged, quirks included
    ("+1", "+1"), ("01", "01"), ("1.500k", "1.500k"), ("1E3", "1E3"), ("1e+3", "1e+3"), ("3Ki", "3Ki"),
    ("1.0", "1"), ("1000k", "1M"), ("8Ki", "8Ki"), ("1024Ki", "1Mi"),
])
def test_canonical(s, expect):
    assert canonical(s) == expect


# --- New / NewMilli / Set ------------------------------------------------------------------------

@pytest.mark.parametrize("value,fmt,expect", [
    (1, DECIMAL_SI, "1m"), (1000, DECIMAL_SI, "1"), (1234000, DECIMAL_SI, "1234"), (1024, BINARY_SI, "1024m"),
    (1000000, "invalidFormatDefaultsToExponent", "1e3"), (1024 * 1024, BINARY_SI, "1048576m"),
])
def test_new_milli(value, fmt, expect):
    q = new_milli_quantity(value, fmt)
    assert str(q) == expect
    if fmt == DECIMAL_SI:
        assert parse_quantity(str(q)).to_milli() == value


@pytest.mark.parametrize("value,fmt,expect", [
    (1, DECIMAL_SI, "1"), (1000, DECIMAL_SI, "1k"), (1234000, DECIMAL_SI, "1234k"), (1024, BINARY_SI, "1Ki"),
    (1000000, "invalidFormatDefaultsToExponent", "1e6"), (1024 * 1024, BINARY_SI, "1Mi"),
])
def test_new(value, fmt, expect):
    q = new_quantity(value, fmt)
    assert str(q) == expect
    assert parse_quantity(str(q)).to_int() == value


# --- Value / MilliValue / ScaledValue ------------------------------------------------------------

@pytest.mark.parametrize("s,value,milli", [
    ("1Gi", 1 << 30, (1 << 30) * 1000), ("100m", 1, 100), ("0.5", 1, 500), ("1.1m", 1, 2), ("3.001n", 1, 1),
    ("2", 2, 2000), ("1500m", 2, 1500), ("1k", 1000, 1000000), ("0", 0, 0), ("-1.5", -2, -1500),
    ("1e-3", 1, 1), ("12E", MAX_INT64, MAX_INT64), ("9223372036854775807", MAX_INT64, MAX_INT64),
    ("1e1000000000", MAX_INT64, MAX_INT64),
])
def test_value_and_milli(s, value, milli):
    assert to_int(s) == value and to_milli(s) == milli
    assert parse_quantity(s).to_int() == value


@pytest.mark.parametrize("from_scale,to_scale,expected", [
    (-9, -9, 1), (-9, -6, 1), (-9, -3, 1), (-9, 0, 1), (-6, -9, 1000), (-6, -6, 1), (-6, -3, 1), (-6, 0, 1),
    (-3, -9, 1000 * 1000), (-3, -6, 1000), (-3, -3, 1), (-3, 0, 1), (0, -9, 1000**3), (0, -6, 1000**2),
    (0, -3, 1000), (0, 0, 1), (2, -2, 100 * 100),
])
def test_scaled_value(from_scale, to_scale, expected):
    from kubeling.api.quantity import _scaled
    assert _scaled(1, from_scale, to_scale) == expected


# --- Cmp, RoundUp, Add/Sub -------------------------------------------------------------------------

@pytest.mark.parametrize("x,y,expect", [("0", "0", 0), ("100m", "50m", 1), ("50m", "100m", -1), ("10000T", "100Gi", 1),
                                        ("1Gi", "1024Mi", 0), ("1k", "1e3", 0), ("-1", "1", -1), ("1e1000", "1Ei", 1)])
def test_cmp(x, y, expect):
    a, b = parse_quantity(x), parse_quantity(y)
    assert ((a > b) - (a < b)) == expect
    assert (a == b) is (expect == 0)


@pytest.mark.parametrize("s,scale,expect,exact", [
    ("9.01", -3, dec(901, -2), True), ("9.01", -2, dec(901, -2), True), ("9.01", -1, dec(91, -1), False),
    ("9.01", 0, dec(10, 0), False), ("9.01", 1, dec(10, 0), False), ("9.01", 2, dec(100, 0), False),
    ("-9.01", -3, dec(-901, -2), True), ("-9.01", -2, dec(-901, -2), True), ("-9.01", -1, dec(-91, -1), False),
    ("-9.01", 0, dec(-10, 0), False), ("-9.01", 1, dec(-10, 0), False), ("-9.01", 2, dec(-100, 0), False),
])
def test_round_up(s, scale, expect, exact):
    q = parse_quantity(s)
    r = q.round_up(scale)
    assert r == expect
    assert (r == q) is exact


def test_round_up_to_milli_like_resource_defaulting():
    assert str(parse_quantity("3.001n").round_up(-3)) == "1m"
    assert str(parse_quantity("1u").round_up(-3)) == "1m"
    assert str(parse_quantity("100m").round_up(-3)) == "100m"
    assert str(parse_quantity("1.500k").round_up(-3)) == "1.500k"  # coarse enough: cached string kept
    assert str(parse_quantity("1Gi").round_up(-3)) == "1Gi"


@pytest.mark.parametrize("a,b,expected,fmt", [
    (dec(10, 0), dec(1, 1), dec(20, 0), DECIMAL_SI),
    (dec(10, 0), dec(1, 0, BINARY_SI), dec(11, 0), DECIMAL_SI),
    (dec(10, 0, BINARY_SI), dec(1, 0), dec(11, 0), BINARY_SI),
    (dec(0, 0), dec(50, 0), dec(50, 0), DECIMAL_SI),
    (dec(0, 0, DECIMAL_SI), dec(1, 0, BINARY_SI), dec(1, 0), BINARY_SI),  # zero adopts the other format
])
def test_add(a, b, expected, fmt):
    r = a + b
    assert r == expected and r.format == fmt


def test_sub_and_sums():
    assert dec(10, 0) - dec(1, 1) == dec(0, 0)
    assert dec(10, 0, BINARY_SI) - dec(1, 0) == dec(9, 0)
    assert (dec(0, 0) - dec(50, 0)) == dec(-50, 0)
    total = sum((parse_quantity(s) for s in ("100m", "250m", "1")), Quantity(0, 0))
    assert str(total) == "1350m" and total.to_milli() == 1350
    mem = parse_quantity("1Gi") + parse_quantity("512Mi")
    assert str(mem) == "1536Mi"


def test_value_fraction_and_hash():
    assert parse_quantity("1.5").value == Fraction(3, 2)
    assert parse_quantity("1Ki").value == 1024
    assert len({parse_quantity("1k"), parse_quantity("1000"), parse_quantity("1e3")}) == 1


def test_parse_is_cached():
    assert parse_quantity("100m") is parse_quantity("100m")


@pytest.mark.parametrize("v,expect", [("100m", "100m"), (" 1 ", "1"), (1, "1"), (0.5, "500m"), (1e-05, "10e-6"),
                                      (1000, "1k"), (-2, "-2")])
def test_quantity_from_json(v, expect):
    assert str(quantity_from_json(v)) == expect


@pytest.mark.parametrize("v", [None, True, [], float("nan"), float("inf"), "abc"])
def test_quantity_from_json_invalid(v):
    with pytest.raises(QuantityError):
        quantity_from_json(v)
