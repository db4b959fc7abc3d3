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


def parse_expression(text: str) -> ast.Expression:
    """Parse ``text`` (without braces) into an AST, raising ``ParameterError`` on bad syntax.

    Dotted names (``x1.r``, the scoped parameters of subcircuit instances) are single names.
    Trees are cached (sweeps evaluate the same expressions many times): treat the result as read-only.
    """
    if not isinstance(text, str):
        raise ParameterError(f"expected an expression string, got {text!r}")
    return _parse(text)


@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> ast.Expression:
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
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id.lower() in FUNCTIONS):
            name = node.func.id if isinstance(node.func, ast.Name) else "?"
            raise ParameterError(f"expression {{{text}}} calls unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
        if isinstance(node, (ast.Is, ast.IsNot, ast.In, ast.NotIn)):
            raise ParameterError(f"expression {{{text}}} uses {type(node).__name__}; compare with < <= > >= == !=")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ParameterError(f"expression {{{text}}} contains {node.value!r}; expected numbers")
    return tree


def names_in(text: str) -> set[str]:
    """Parameter names an expression refers to (lower case, functions and constants excluded)."""
    if not isinstance(text, str):
        raise ParameterError(f"expected an expression string, got {text!r}")
    return set(_names(text))


@functools.lru_cache(maxsize=8192)
def _names(text: str) -> frozenset[str]:
    tree = _parse(text)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return frozenset(n.id.lower() for n in ast.walk(tree)
                     if isinstance(n, ast.Name) and id(n) not in called and n.id.lower() not in CONSTANTS)


def rename(text: str, mapping: Mapping[str, str]) -> str:
    """Rewrite parameter names in an expression (used to scope subcircuit parameters)."""
    tree = copy.deepcopy(parse_expression(text))  # the parsed tree is cached and shared
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
