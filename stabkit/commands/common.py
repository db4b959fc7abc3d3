"""Shared pieces of the CLI commands."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from typing import TYPE_CHECKING

from stabkit.errors import NetlistError, StabkitError
from stabkit.units import format_eng, parse_value

if TYPE_CHECKING:  # numpy, scipy and networkx are imported when a command runs, not for --help
    import numpy as np

    from stabkit.circuit.graph import Circuit


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                   help="override a .param (or an element's value); repeatable; suffixes allowed (20n, 1k)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout instead of tables")


def parse_sets(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise NetlistError(f"--set {item!r}: expected NAME=VALUE, e.g. --set rl=20 or --set lext=8n")
        try:
            out[name.strip().lower()] = parse_value(value)
        except ValueError as exc:
            raise NetlistError(f"--set {item!r}: {exc}") from None
    return out


def load_circuit(path: str, sets: list[str] | None = None) -> Circuit:
    """Read a netlist file and apply ``--set`` overrides (returns a new circuit)."""
    from stabkit.circuit.graph import Circuit

    if not os.path.exists(path):
        raise NetlistError(f"no such file: {path}")
    circuit = Circuit.from_netlist(path)
    if not len(circuit):
        raise NetlistError("no circuit elements: the first line is the title, elements (R1 a 0 50 ...) follow it "
                           "(a file of .subckt/.model definitions is a library: .include it from a netlist)", file=path)
    overrides = parse_sets(sets or [])
    return circuit.with_values(overrides) if overrides else circuit


#: most frequencies ``--freqs`` may ask for
MAX_FREQS = 100_000


def parse_freqs(spec: str) -> np.ndarray:
    """``START:STOP:N`` (log-spaced, N points, at most :data:`MAX_FREQS`) or a comma list ``1g,2g,3g`` (Hz,
    suffixes allowed)."""
    import numpy as np

    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, n = parse_value(parts[0]), parse_value(parts[1]), int(parts[2])
            if start <= 0 or stop <= start or not 1 <= n <= MAX_FREQS:
                raise ValueError
            return np.geomspace(start, stop, n)
        items = spec.split(",")
        values = np.array([parse_value(x) for x in items])
        if values.size == 0 or values.size > MAX_FREQS or np.any(values <= 0):
            raise ValueError
        return values
    except ValueError:
        raise NetlistError(f"--freqs {spec!r}: expected START:STOP:N (log-spaced, N from 1 to {MAX_FREQS}) or a list "
                           "like 1g,2g,3g of positive frequencies") from None


def add_point(p: argparse.ArgumentParser) -> None:
    p.add_argument("--point", type=_point_index, metavar="K",
                   help="circuits with several DC operating points: judge only the K-th (1-based; default: every point)")


def _point_index(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (1 is the first point), got {text!r}")
    return k


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--workers``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def relative_tolerance(text: str) -> float:
    """argparse type: a relative tolerance ``0 < RTOL < 0.5`` (``--rtol``; suffixes allowed)."""
    try:
        value = float(parse_value(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1e-4, got {text!r}") from None
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"expected 0 < RTOL < 0.5 (a relative tolerance such as 1e-4), got {text!r}")
    return value


def finish(verdict, args, payload: dict | None = None) -> int:
    """Print ``payload`` as JSON (with ``--json``), say why on stderr when the verdict is uncertain (also under
    ``--json``), and return the verdict's exit code (0 stable, 1 unstable, 3 uncertain)."""
    if getattr(args, "json", False) and payload is not None:
        emit_json(payload)
    if verdict.verdict == "uncertain":
        reasons = verdict.reasons or ["numerical doubt"]
        print(f"stabkit: uncertain: {reasons[0]}" + (f" (+{len(reasons) - 1} more reason(s))" if len(reasons) > 1 else ""),
              file=sys.stderr)
    return verdict.exit_code


def print_warnings(messages) -> None:
    """``warning: ...`` lines on stderr (text mode). The same warning at many values of a sweep
    (``lext=1e-08: text``, ``lext=2e-08: text``) is printed once, with the number of values."""
    for msg in group_warnings(messages):
        print(f"warning: {msg}", file=sys.stderr)


_AT_VALUE = re.compile(r"^([A-Za-z_][\w.]*)=([^:\s]+): (.+)$", re.S)


def group_warnings(messages) -> list[str]:
    """Distinct ``messages`` in order; those that differ only in a leading ``NAME=VALUE: `` become one line,
    ``text (at N values of NAME, first NAME=VALUE)``."""
    groups: dict[tuple, list[str]] = {}
    for msg in dict.fromkeys(messages):
        m = _AT_VALUE.match(msg)
        key = (m.group(1), m.group(3)) if m else (None, msg)
        groups.setdefault(key, []).append(msg if m is None else m.group(2))
    out = []
    for (name, text), values in groups.items():
        if name is None:
            out.append(text)
        elif len(values) == 1:
            out.append(f"{name}={values[0]}: {text}")
        else:
            out.append(f"{text} (at {len(values)} values of {name}, first {name}={values[0]})")
    return out


def emit_json(data: dict) -> None:
    json.dump(_finite(data), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def _finite(x):
    """JSON has no NaN or infinity: such floats become ``null``; numpy scalars become Python numbers."""
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(x).rjust(w) for x, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def fmt_hz(x: float) -> str:
    return format_eng(x, "Hz")


__all__ = ["MAX_FREQS", "StabkitError", "positive_int", "relative_tolerance", "add_common", "add_point", "parse_sets", "load_circuit", "parse_freqs", "emit_json", "finish",
           "print_warnings", "group_warnings", "table", "fmt_hz"]
