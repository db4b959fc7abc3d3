"""Safe evaluation of ``.param`` expressions (``{2*pi*f0}``, ``{sqrt(l/c)}``).

Expressions are parsed with :mod:`ast` and walked by hand: only numbers, names, arithmetic,
comparisons, the conditional operator and a fixed set of functions are allowed, so a netlist can never
run code. Numbers may carry SPICE suffixes (``10n``, ``2meg``).
"""

from __future__ import annotations

import ast
import copy
import functools
import math
import operator
import re
import warnings
from collections.abc import Mapping

from stabkit.errors import ParameterError
from stabkit.units import SUFFIXES

FUNCTIONS = {
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "ln": math.log, "log10": math.log10,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "arcsin": math.asin, "arccos": math.acos, "arctan": math.atan,
    "atan2": math.atan2, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh,
    "abs": abs, "min": min, "max": max, "pow": math.pow, "pwr": math.pow,
    "floor": math.floor, "ceil": math.ceil, "int": lambda x: float(int(x)),
    "sgn": lambda x: float((x > 0) - (x < 0)),
}
CONSTANTS = {"pi": math.pi, "e": math.e}
#: functions of behavioural-source expressions (``B`` elements): the ones above plus the ngspice/LTspice
#: ``limit(x, y, z)`` (the middle value of the three), ``ifelse(c, a, b)`` (what ``if(c, a, b)`` is read as),
#: the step ``u(x)`` and the ramp ``uramp(x)``
BEHAVIOURAL_FUNCTIONS = {**FUNCTIONS, "limit": None, "ifelse": None, "u": None, "uramp": None}

__all__ = ["FUNCTIONS", "BEHAVIOURAL_FUNCTIONS", "CONSTANTS", "parse_expression", "names_in", "rename", "evaluate",
           "resolve_all", "evaluate_dual"]

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod}
_CMPOPS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
           ast.Eq: operator.eq, ast.NotEq: operator.ne}

_SUFFIXED = re.compile(
    r"(?<![A-Za-z_\d.])((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(meg|mil|[fpnumkgt])(?![A-Za-z_\d])",
    re.IGNORECASE,
)


def _replace_suffix(m: re.Match) -> str:
    value = float(m.group(1)) * SUFFIXES[m.group(2).lower()]
    if not math.isfinite(value):
        raise OverflowError(m.group(0))
    return repr(value)


class _DottedNames(ast.NodeTransformer):
    """Turn ``x1.rload`` (an attribute chain on a name) into one name ``x1.rload``.

    Subcircuit instances scope their parameters as ``INSTANCE.param``; without this, the scoped name
    would parse as attribute access, which is (rightly) forbidden.
    """

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name):
            return ast.copy_location(ast.Name(id=f"{node.value.id}.{node.attr}", ctx=node.ctx), node)
        return node


def parse_expression(text: str, *, behavioural: bool = False) -> ast.Expression:
    """Parse ``text`` (without braces) into an AST, raising ``ParameterError`` on bad syntax.

    Dotted names (``x1.r``, the scoped parameters of subcircuit instances) are single names.
    Trees are cached (sweeps evaluate the same expressions many times): treat the result as read-only.
    ``behavioural`` admits the functions of behavioural sources (:data:`BEHAVIOURAL_FUNCTIONS`) as well.
    """
    if not isinstance(text, str):
        raise ParameterError(f"expected an expression string, got {text!r}")
    return _parse(text, behavioural)


@functools.lru_cache(maxsize=8192)
def _parse(text: str, behavioural: bool = False) -> ast.Expression:
    known = BEHAVIOURAL_FUNCTIONS if behavioural else FUNCTIONS
    try:
        src = _SUFFIXED.sub(_replace_suffix, text.strip())
    except OverflowError:
        raise ParameterError(f"expression {{{text}}} contains a number out of range") from None
    src = src.replace("^", "**")
    if len(src) > 10_000:
        raise ParameterError(f"expression {{{text[:40]}...}} is longer than 10000 characters")
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning for '1 is 1': the walk below rejects those anyway
            warnings.simplefilter("ignore")
            tree = _DottedNames().visit(ast.parse(src, mode="eval"))
    except (SyntaxError, ValueError):  # ValueError: e.g. a NUL character
        raise ParameterError(f"cannot read expression {{{text}}}: expected arithmetic on numbers and parameter names") from None
    except (RecursionError, MemoryError):
        raise ParameterError(f"expression {{{text[:40]}...}} is nested too deeply") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Lambda, ast.Starred, ast.keyword,
                             ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.GeneratorExp,
                             ast.NamedExpr, ast.JoinedStr)):
            raise ParameterError(f"expression {{{text}}} uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id.lower() in known):
            name = node.func.id if isinstance(node.func, ast.Name) else "?"
            raise ParameterError(f"expression {{{text}}} calls unknown function {name!r}; known: {', '.join(sorted(known))}")
        if isinstance(node, (ast.Is, ast.IsNot, ast.In, ast.NotIn)):
            raise ParameterError(f"expression {{{text}}} uses {type(node).__name__}; compare with < <= > >= == !=")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ParameterError(f"expression {{{text}}} contains {node.value!r}; expected numbers")
    return tree


def names_in(text: str, *, behavioural: bool = False) -> set[str]:
    """Parameter names an expression refers to (lower case, functions and constants excluded)."""
    if not isinstance(text, str):
        raise ParameterError(f"expected an expression string, got {text!r}")
    return set(_names(text, behavioural))


@functools.lru_cache(maxsize=8192)
def _names(text: str, behavioural: bool = False) -> frozenset[str]:
    tree = _parse(text, behavioural)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return frozenset(n.id.lower() for n in ast.walk(tree)
                     if isinstance(n, ast.Name) and id(n) not in called and n.id.lower() not in CONSTANTS)


def rename(text: str, mapping: Mapping[str, str], *, behavioural: bool = False) -> str:
    """Rewrite parameter names in an expression (used to scope subcircuit parameters)."""
    tree = copy.deepcopy(parse_expression(text, behavioural=behavioural))  # the parsed tree is cached and shared
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and id(n) not in called and n.id.lower() in mapping:
            n.id = mapping[n.id.lower()]
    return ast.unparse(tree)


def evaluate(text: str, scope: Mapping[str, float]) -> float:
    """Evaluate an expression with parameter values from ``scope`` (keys lower case)."""
    tree = parse_expression(text)

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            key = node.id.lower()
            if key in scope:
                return float(scope[key])
            if key in CONSTANTS:
                return CONSTANTS[key]
            raise ParameterError(f"unknown parameter {node.id!r} in {{{text}}}")
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.UAdd):
                return v
            if isinstance(node.op, ast.Not):
                return float(not v)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return float(_BINOPS[type(node.op)](ev(node.left), ev(node.right)))
        if isinstance(node, ast.BoolOp):
            vals = [ev(v) for v in node.values]
            return float(all(vals) if isinstance(node.op, ast.And) else any(vals))
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = ev(comp)
                if type(op) not in _CMPOPS or not _CMPOPS[type(op)](left, right):
                    return 0.0
                left = right
            return 1.0
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if isinstance(node, ast.Call):
            fn = FUNCTIONS[node.func.id.lower()]
            return float(fn(*[ev(a) for a in node.args]))
        raise ParameterError(f"expression {{{text}}}: {type(node).__name__} is not allowed")

    try:
        value = ev(tree)
    except ParameterError:
        raise
    except RecursionError:
        raise ParameterError(f"expression {{{text[:40]}...}} is nested too deeply") from None
    except (ArithmeticError, ValueError, TypeError, OverflowError) as exc:
        raise ParameterError(f"cannot evaluate {{{text}}}: {exc}") from None
    if not math.isfinite(value):
        raise ParameterError(f"expression {{{text}}} evaluates to {value}")
    return value


def resolve_all(params: Mapping[str, float | str], overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Evaluate a table of parameters that may refer to each other; detect cycles.

    ``params`` maps lower-case names to numbers or expression strings; ``overrides`` replace entries
    (they must name known parameters: the caller checks).
    """
    table: dict[str, float | str] = dict(params)
    for k, v in (overrides or {}).items():
        table[k.lower()] = float(v)
    done: dict[str, float] = {}
    visiting: list[str] = []

    def get(name: str) -> float:
        if name in done:
            return done[name]
        if name in visiting:
            cycle = " -> ".join(visiting[visiting.index(name):] + [name])
            raise ParameterError(f"parameters refer to each other in a cycle: {cycle}")
        raw = table[name]
        if isinstance(raw, (int, float)):
            done[name] = float(raw)
            return done[name]
        visiting.append(name)
        deps = {d: get(d) for d in names_in(raw) if d in table}
        visiting.pop()
        done[name] = evaluate(raw, deps)
        return done[name]

    for key in table:
        get(key)
    return done


# ---------------------------------------------------------------------------------------------------------
# behavioural expressions: values and exact derivatives (forward-mode dual numbers on arrays)


def evaluate_dual(text: str, scope: Mapping[str, float], variables: Mapping[str, int], values) -> tuple:
    """Value and exact gradient of a behavioural expression on arrays of its variables.

    Parameters
    ----------
    text : str
        The expression (``behavioural`` functions allowed), e.g. ``ip*exp(-vpp/vt)*(exp(_v0/vt)-1)``.
    scope : mapping
        Parameter values (lower-case names), constants for the derivative.
    variables : mapping
        Lower-case name → column of ``values``: the independent variables (controlling voltages, currents).
    values : array_like, shape (T, n)
        ``T`` points at which to evaluate, one column per variable.

    Returns
    -------
    value : ndarray, shape (T,)
    gradient : ndarray, shape (T, n)
        ``∂value/∂values[:, k]``, exact: every operation of the AST walker carries its derivative (forward mode).
        At the kinks of ``abs``, ``min``, ``max``, ``limit`` and the comparisons the one-sided derivative of the
        branch taken is returned; steps (``u``, ``sgn``, ``floor``) have derivative 0.

    Raises
    ------
    ParameterError
        Unknown names, or a value that is not finite at some point.
    """
    import numpy as np

    tree = parse_expression(text, behavioural=True)
    x = np.atleast_2d(np.asarray(values, dtype=float))
    t_count, n = x.shape
    zero = np.zeros((t_count, n))

    def const(c):
        return np.full(t_count, float(c)), zero

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return const(node.value)
        if isinstance(node, ast.Name):
            key = node.id.lower()
            if key in variables:
                k = variables[key]
                grad = zero.copy()
                grad[:, k] = 1.0
                return x[:, k].copy(), grad
            if key in scope:
                return const(scope[key])
            if key in CONSTANTS:
                return const(CONSTANTS[key])
            raise ParameterError(f"unknown parameter {node.id!r} in {{{text}}}")
        if isinstance(node, ast.UnaryOp):
            v, d = ev(node.operand)
            if isinstance(node.op, ast.USub):
                return -v, -d
            if isinstance(node.op, ast.UAdd):
                return v, d
            if isinstance(node.op, ast.Not):
                return (v == 0).astype(float), zero
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            (a, da), (b, db) = ev(node.left), ev(node.right)
            op = type(node.op)
            if op is ast.Add:
                return a + b, da + db
            if op is ast.Sub:
                return a - b, da - db
            if op is ast.Mult:
                return a * b, da * b[:, None] + a[:, None] * db
            if op is ast.Div:
                return a / b, (da * b[:, None] - a[:, None] * db) / (b * b)[:, None]
            if op is ast.Mod:
                return np.mod(a, b), da
            value = a ** b
            if not np.any(db):  # constant exponent: d(a^b) = b·a^(b−1)·da, also for a <= 0
                return value, (b * a ** (b - 1.0))[:, None] * da
            return value, value[:, None] * (db * np.log(a)[:, None] + (b / a)[:, None] * da)
        if isinstance(node, ast.BoolOp):
            vals = [ev(v)[0] != 0 for v in node.values]
            out = np.logical_and.reduce(vals) if isinstance(node.op, ast.And) else np.logical_or.reduce(vals)
            return out.astype(float), zero
        if isinstance(node, ast.Compare):
            left = ev(node.left)[0]
            ok = np.ones(t_count, dtype=bool)
            for op, comp in zip(node.ops, node.comparators):
                right = ev(comp)[0]
                if type(op) not in _CMPOPS:
                    raise ParameterError(f"expression {{{text}}}: comparison {type(op).__name__} is not allowed")
                ok &= _CMPOPS[type(op)](left, right)
                left = right
            return ok.astype(float), zero
        if isinstance(node, ast.IfExp):
            test = ev(node.test)[0] != 0
            return _choose(test, ev(node.body), ev(node.orelse))
        if isinstance(node, ast.Call):
            return _call(node.func.id.lower(), [ev(a) for a in node.args])
        raise ParameterError(f"expression {{{text}}}: {type(node).__name__} is not allowed")

    def _choose(mask, first, second):
        return np.where(mask, first[0], second[0]), np.where(mask[:, None], first[1], second[1])

    def chain(v, d, value, slope):
        return value, slope[:, None] * d

    def _call(name, args):
        if name in ("min", "max") and len(args) >= 2:
            out = args[0]
            for other in args[1:]:
                take = (other[0] < out[0]) if name == "min" else (other[0] > out[0])
                out = _choose(take, other, out)
            return out
        if name == "limit" and len(args) == 3:  # the middle one of three values (LTspice/ngspice)
            (a, b, c) = args
            lo = _choose(a[0] <= b[0], a, b)
            hi = _choose(a[0] <= b[0], b, a)
            mid = _choose(c[0] < lo[0], lo, _choose(c[0] > hi[0], hi, c))
            return mid
        if name == "ifelse" and len(args) == 3:
            return _choose(args[0][0] != 0, args[1], args[2])
        if name in ("pow", "pwr") and len(args) == 2:
            (a, da), (b, db) = args
            value = a ** b
            if not np.any(db):
                return value, (b * a ** (b - 1.0))[:, None] * da
            return value, value[:, None] * (db * np.log(a)[:, None] + (b / a)[:, None] * da)
        if name == "atan2" and len(args) == 2:
            (y, dy), (xx, dx) = args
            r2 = xx * xx + y * y
            return np.arctan2(y, xx), (xx[:, None] * dy - y[:, None] * dx) / r2[:, None]
        if len(args) != 1:
            raise ParameterError(f"expression {{{text}}}: {name}() takes one argument here, got {len(args)}")
        (v, d), = args
        unary = {
            "exp": (np.exp, np.exp),
            "log": (np.log, lambda t: 1.0 / t), "ln": (np.log, lambda t: 1.0 / t),
            "log10": (np.log10, lambda t: 1.0 / (t * math.log(10.0))),
            "sqrt": (np.sqrt, lambda t: 0.5 / np.sqrt(t)),
            "sin": (np.sin, np.cos), "cos": (np.cos, lambda t: -np.sin(t)),
            "tan": (np.tan, lambda t: 1.0 / np.cos(t) ** 2),
            "asin": (np.arcsin, lambda t: 1.0 / np.sqrt(1.0 - t * t)),
            "arcsin": (np.arcsin, lambda t: 1.0 / np.sqrt(1.0 - t * t)),
            "acos": (np.arccos, lambda t: -1.0 / np.sqrt(1.0 - t * t)),
            "arccos": (np.arccos, lambda t: -1.0 / np.sqrt(1.0 - t * t)),
            "atan": (np.arctan, lambda t: 1.0 / (1.0 + t * t)), "arctan": (np.arctan, lambda t: 1.0 / (1.0 + t * t)),
            "sinh": (np.sinh, np.cosh), "cosh": (np.cosh, np.sinh),
            "tanh": (np.tanh, lambda t: 1.0 - np.tanh(t) ** 2),
            "abs": (np.abs, np.sign),
            "floor": (np.floor, np.zeros_like), "ceil": (np.ceil, np.zeros_like),
            "int": (np.trunc, np.zeros_like), "sgn": (np.sign, np.zeros_like),
            "u": (lambda t: (t > 0).astype(float), np.zeros_like),
            "uramp": (lambda t: np.maximum(t, 0.0), lambda t: (t > 0).astype(float)),
        }
        if name not in unary:
            raise ParameterError(f"expression {{{text}}}: {name}() is not available in behavioural sources")
        fn, slope = unary[name]
        return chain(v, d, fn(v), slope(v))

    with np.errstate(all="ignore"):
        try:
            value, grad = ev(tree)
        except RecursionError:
            raise ParameterError(f"expression {{{text[:40]}...}} is nested too deeply") from None
    if not np.all(np.isfinite(value)):
        bad = int(np.flatnonzero(~np.isfinite(value))[0])
        raise ParameterError(f"expression {{{text}}} is not finite at {dict(zip(variables, x[bad]))}")
    grad = np.where(np.isfinite(grad), grad, 0.0)
    return value, grad
