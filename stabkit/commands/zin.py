"""``stabkit zin NET --port NODE[,NODE2] --freqs ...``: port impedance."""

from __future__ import annotations

import argparse

import numpy as np

from stabkit.commands.common import (add_common, add_point, emit_json, fmt_hz, load_circuit, parse_freqs,
                                     print_warnings, table)
from stabkit.units import format_eng

EPILOG = """\
Nonlinear devices are linearized at each DC operating point (--point K picks one). The impedance is that of
the small-signal circuit with every independent source off; it says nothing about stability by itself
(exit 0 when every value is finite, 1 when the port is singular at some frequency, 2 bad input).

examples:
  stabkit zin cases/stype_smallsignal.cir --port out --freqs 1meg:1g:4
  stabkit zin cases/linvill_nic.cir --port in --freqs 100meg:3g:11 --json
"""


def register(sub) -> None:
    p = sub.add_parser("zin", help="impedance seen between two nodes",
                       description="Impedance between NODE and NODE2 (default ground), all sources off, "
                                   "with L_eq = Im Z/ω and C_eq = −1/(ω Im Z).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("netlist")
    p.add_argument("--port", required=True, help="NODE or NODE,NODE2")
    p.add_argument("--freqs", default="1meg:10g:21", help="START:STOP:N (log) or f1,f2,... (default 1meg:10g:21)")
    add_point(p)
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from stabkit.analysis.points import linear_points
    from stabkit.analysis.ports import zin

    freqs = parse_freqs(args.freqs)
    points = linear_points(load_circuit(args.netlist, args.set))
    if args.point is not None:
        if args.point > len(points):
            from stabkit.errors import CircuitError

            raise CircuitError(f"--point {args.point}: the circuit has {len(points)} operating point(s)")
        points = [points[args.point - 1]]
    results = [(pt, zin(pt.circuit, args.port, freqs)) for pt in points]
    finite = all(np.all(np.isfinite(res.z)) for _, res in results)
    if args.json:
        first = results[0][1].to_dict()
        if len(results) > 1 or points[0].kind != "linear":
            first["points"] = [{**pt.to_dict(), **res.to_dict()} for pt, res in results]
        emit_json(first)
        return 0 if finite else 1
    for pt, res in results:
        if len(results) > 1:
            print(f"\n{pt.label}")
        rows = [[fmt_hz(f), f"{z.real:.6g}", f"{z.imag:.6g}", format_eng(ind, "H")]
                for f, z, ind in zip(res.freq_hz, res.z, res.inductance)]
        print(table(rows, ["f", "Re Z [Ω]", "Im Z [Ω]", "L_eq = Im Z/ω"]))
    print_warnings(w for pt in points for w in pt.warnings)
    return 0 if finite else 1
