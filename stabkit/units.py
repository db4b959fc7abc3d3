"""Engineering notation at the edges (netlist, CLI, reports). Inside stabkit everything is SI floats."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

#: SPICE suffixes, longest first so ``meg`` and ``mil`` win over ``m``.
SUFFIXES: dict[str, float] = {
    "meg": 1e6,
    "mil": 25.4e-6,
    "f": 1e-15,
    "p": 1e-12,
    "n": 1e-9,
    "u": 1e-6,
    "µ": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "g": 1e9,
    "t": 1e12,
}

_DECIMAL_SUFFIXES = {k: Decimal(repr(v)) for k, v in SUFFIXES.items()}

_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(meg|mil|[fpnuµmkgt])?([a-zA-Z]*)$")


def parse_value(text: str) -> float:
    """Parse a SPICE number: ``10k`` -> 1e4, ``2.2n`` -> 2.2e-9, ``1meg`` -> 1e6, ``5mil``.

    Letters after the suffix are units and are ignored, as in SPICE (``10pF``, ``5nH``, ``50ohm``).
    Raises ``ValueError`` naming the text when it is not a number.
    """
    s = text.strip().lower()
    m = _NUMBER.match(s)
    if not m:
        raise ValueError(f"expected a number such as 10k, 2.2n or 1e-9, got {text!r}")
    suffix = m.group(2)
    try:  # decimal arithmetic, one rounding: "3n" is the double nearest 3e-9, as "3e-9" is
        value = float(Decimal(m.group(1)) * _DECIMAL_SUFFIXES[suffix]) if suffix else float(m.group(1))
    except (InvalidOperation, OverflowError):
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text!r} (beyond double precision)")
    return value


def is_number(text: str) -> bool:
    try:
        parse_value(text)
    except ValueError:
        return False
    return True


_PREFIXES = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"),
             (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a")]


def format_eng(value: float, unit: str = "", digits: int = 4) -> str:
    """``format_eng(4.8e-9, 'H')`` -> ``'4.8 nH'``; ``digits`` significant digits."""
    if value is None or not math.isfinite(value):
        return f"{value} {unit}".strip()
    if value == 0:
        return f"0 {unit}".strip()
    mag = abs(value)
    for scale, prefix in _PREFIXES:
        if mag >= scale * 0.9995:
            break
    text = f"{value / scale:.{digits}g}"
    return f"{text} {prefix}{unit}".strip()
