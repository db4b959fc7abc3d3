"""Parameter expressions: suffixes, functions, scoping, cycles, and that they can never run code."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stabkit.circuit import expr
from stabkit.errors import ParameterError


@pytest.mark.parametrize("text, expected", [
    ("2k*3", 6e3),
    ("1meg/4", 0.25e6),
    ("1MEG", 1e6),
    ("1M", 1e-3),          # SPICE: m and M are milli
    ("5mil", 5 * 25.4e-6),
    ("10n+5p", 10e-9 + 5e-12),
    ("2.2u", 2.2e-6),
    (".5k", 500.0),
    ("1e3k", 1e6),
    ("3f*2", 6e-15),
    ("1.5g", 1.5e9),
    ("2t", 2e12),
    ("1e-9", 1e-9),
    ("2^10", 1024.0),
    ("2**3**2", 512.0),
    ("-3^2", -9.0),
    ("7 % 4", 3.0),
])
def test_numbers_and_suffixes(text, expected):
    np.testing.assert_allclose(expr.evaluate(text, {}), expected, rtol=1e-15)


@pytest.mark.parametrize("text, expected", [
    ("sqrt(l/c)", math.sqrt(10e-9 / 4e-12)),
    ("1/(2*pi*sqrt(l*c))", 1 / (2 * math.pi * math.sqrt(10e-9 * 4e-12))),
    ("exp(1) - e", 0.0),
    ("log(e^2)", 2.0),
    ("ln(10)", math.log(10)),
    ("log10(1k)", 3.0),
    ("max(l, c, 1)", 1.0),
    ("min(l, c)", 4e-12),
    ("abs(-2)", 2.0),
    ("atan2(1, 1)", math.pi / 4),
    ("pow(2, 5)", 32.0),
    ("pwr(3, 2)", 9.0),
    ("sgn(-4)", -1.0),
    ("int(2.7)", 2.0),
    ("floor(-1.5) + ceil(1.2)", 0.0),
    ("SQRT(16)", 4.0),         # function names are case-insensitive
    ("L*1e9", 10.0),           # so are parameter names
    ("1 if l > c else 2", 1.0),
    ("(l < c) + (c <= c) + (l != c)", 2.0),
    ("not 0", 1.0),
    ("l > 0 and c > 0", 1.0),
])
def test_functions_constants_and_logic(text, expected):
    np.testing.assert_allclose(expr.evaluate(text, {"l": 10e-9, "c": 4e-12}), expected, rtol=1e-13, atol=1e-15)


def test_dotted_names_of_subcircuit_instances():
    assert expr.names_in("x1.r*2 + sqrt(X1.Xin.c) + pi") == {"x1.r", "x1.xin.c"}
    renamed = expr.rename("r*2 + c", {"r": "x1.r", "c": "x1.c"})
    assert expr.names_in(renamed) == {"x1.r", "x1.c"}
    twice = expr.rename(renamed, {"x1.r": "xo.x1.r"})
    assert expr.evaluate(twice, {"xo.x1.r": 3.0, "x1.c": 1.0}) == 7.0


@pytest.mark.parametrize("text, message", [
    ("r*2", r"unknown parameter 'r'"),
    ("foo(2)", r"unknown function 'foo'"),
    ("1/0", r"cannot evaluate"),
    ("log(-1)", r"cannot evaluate"),
    ("sqrt(-1)", r"cannot evaluate"),
    ("10^10^10", r"cannot evaluate"),
    ("1e308*10", r"evaluates to inf"),
    ("1e999k", r"out of range"),
    ("2*", r"cannot read expression"),
    ("", r"cannot read expression"),
    ("1 is 1", r"uses Is"),
    ("2 in 3", r"uses In"),
    ("(" * 300 + "1" + ")" * 300, r"cannot read expression|nested too deeply"),
    ("-" * 20000 + "1", r"longer than 10000 characters"),
    ("-" * 5000 + "1", r"nested too deeply"),
])
def test_errors_are_parameter_errors(text, message):
    with pytest.raises(ParameterError, match=message):
        expr.evaluate(text, {})


@pytest.mark.parametrize("text", [
    "__import__('os')",
    "__import__('os').system('echo hacked')",
    "open('/etc/passwd')",
    "exec('1')",
    "eval('1')",
    "(1).real",
    "().__class__",
    "[x for x in (1, 2)]",
    "(lambda: 1)()",
    "{'a': 1}",
    "'text'",
    "b'bytes'",
    "1j",
    "a[0]",
    "f'{1}'",
    "(x := 1)",
    "*a",
    "getattr(a, 'b')",
])
def test_no_code_can_run(text):
    with pytest.raises(ParameterError):
        expr.evaluate(text, {"a": 1.0})


def test_dunder_names_are_only_parameter_names():
    """``a.__class__`` is a (dotted) parameter name, never attribute access: it is simply unknown."""
    with pytest.raises(ParameterError, match=r"unknown parameter 'a\.__class__'"):
        expr.evaluate("a.__class__", {"a": 1.0})
    assert expr.evaluate("a.__class__", {"a.__class__": 5.0}) == 5.0


def test_resolve_all_orders_dependencies_and_applies_overrides():
    table = {"c": "b+a", "b": "a*3", "a": 2.0, "f0": "1/(2*pi*sqrt(l*cap))", "l": "10n", "cap": "1p*c"}
    values = expr.resolve_all(table)
    assert (values["a"], values["b"], values["c"]) == (2.0, 6.0, 8.0)
    np.testing.assert_allclose(values["f0"], 1 / (2 * math.pi * math.sqrt(10e-9 * 8e-12)), rtol=1e-14)
    assert expr.resolve_all(table, {"A": 1.0})["c"] == 4.0


@pytest.mark.parametrize("table, cycle", [
    ({"a": "a+1"}, "a -> a"),
    ({"a": "b", "b": "a"}, "a -> b -> a"),
    ({"x": 1.0, "a": "b*x", "b": "c", "c": "a"}, "a -> b -> c -> a"),
])
def test_cycles_are_reported(table, cycle):
    with pytest.raises(ParameterError, match=f"cycle: {cycle}"):
        expr.resolve_all(table)


def test_unknown_name_in_a_table():
    with pytest.raises(ParameterError, match=r"unknown parameter 'q'"):
        expr.resolve_all({"a": "q*2"})
