"""SPICE numbers at the edges: a suffixed value is the double nearest the decimal number it names."""

import numpy as np
import pytest

from stabkit.units import format_eng, parse_value

EXPONENTS = {"f": -15, "p": -12, "n": -9, "u": -6, "m": -3, "k": 3, "meg": 6, "g": 9, "t": 12}


@pytest.mark.parametrize("suffix, exponent", EXPONENTS.items())
def test_suffix_is_one_rounding_of_the_decimal_value(suffix, exponent):
    """`3n` must equal the literal 3e-9 (a float product 3 * 1e-9 is 3.0000000000000004e-09)."""
    rng = np.random.default_rng(abs(exponent) + len(suffix))
    mantissas = ["3", "2.2", "4.7", "1.1", "0.1", "33", "6.8", "47.5", "0.35", "1"]
    mantissas += [f"{x:.{d}f}" for x, d in zip(rng.uniform(0.1, 999, 200), rng.integers(0, 5, 200))]
    for m in mantissas:
        assert parse_value(f"{m}{suffix}") == float(f"{m}e{exponent}"), f"{m}{suffix}"
        assert parse_value(f"-{m}{suffix.upper()}") == -float(f"{m}e{exponent}")


def test_mil_and_units_after_the_suffix():
    assert parse_value("5mil") == float("127e-6")
    assert parse_value("10pF") == 10e-12 and parse_value("50ohm") == 50.0 and parse_value("1megohm") == 1e6


@pytest.mark.parametrize("text", ["1e999", "1e999k", "abc", "", "1..2", "k"])
def test_bad_numbers_are_refused_with_the_text(text):
    with pytest.raises(ValueError, match="expected"):
        parse_value(text)


@pytest.mark.parametrize("value, unit, text", [(4.8e-9, "H", "4.8 nH"), (3e-9, "H", "3 nH"), (0.0, "Hz", "0 Hz"),
                                               (1.592e9, "Hz", "1.592 GHz"), (-12.3e-6, "Hz", "-12.3 µHz")])
def test_format_eng(value, unit, text):
    assert format_eng(value, unit) == text
