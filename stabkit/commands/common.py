"""Shared pieces of the CLI commands."""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from stabkit.circuit.graph import Circuit
from stabkit.errors import NetlistError, StabkitError
from stabkit.units import format_eng, parse_value


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
    if not os.path.exists(path):
        raise NetlistError(f"no such file: {path}")
    circuit = Circuit.from_netlist(path)
    overrides = parse_sets(sets or [])
    return circuit.with_values(overrides) if overrides else circuit


def parse_freqs(spec: str) -> np.ndarray:
    """``START:STOP:N`` (log-spaced, N points) or a comma list ``1g,2g,3g`` (Hz, suffixes allowed)."""
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, n = parse_value(parts[0]), parse_value(parts[1]), int(parts[2])
            if start <= 0 or stop <= start or n < 1:
                raise ValueError
            return np.geomspace(start, stop, n)
        values = np.array([parse_value(x) for x in spec.split(",") if x.strip()])
        if values.size == 0 or np.any(values <= 0):
            raise ValueError
        return values
    except ValueError:
        raise NetlistError(f"--freqs {spec!r}: expected START:STOP:N (log-spaced) or a list like 1g,2g,3g of positive frequencies") from None


def emit_json(data: dict) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(x).rjust(w) for x, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def fmt_hz(x: float) -> str:
    return format_eng(x, "Hz")


__all__ = ["StabkitError", "add_common", "parse_sets", "load_circuit", "parse_freqs", "emit_json", "table", "fmt_hz"]
