"""``stabkit ndf NET [--fmin F] [--fmax F]``: NDF/Nyquist stability verdict with per-source diagnosis."""

from __future__ import annotations

import argparse

from stabkit.analysis.verdict import BAND_LIMITS
from stabkit.commands.common import add_common, add_point, finish, load_circuit, print_warnings, table
from stabkit.errors import NetlistError
from stabkit.units import format_eng, parse_value

EPILOG = """\
The verdict is the one every stabkit command gives (NDF cross-checked with the exact poles where the circuit
is lumped): exit 0 stable, 1 unstable, 3 uncertain (reason on stderr), 2 bad input.

examples:
  stabkit ndf cases/hidden_mode.cir               a mode no port sees: which source's loop
  stabkit ndf cases/line_negres.cir --json        a transmission line: the NDF is the method
  stabkit ndf cases/ntype_smallsignal.cir --fmin 1meg --fmax 100g
"""


def _frequency(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        value = parse_value(text)
    except ValueError as exc:
        raise NetlistError(f"{option} {text!r}: {exc}") from None
    if value <= 0:
        raise NetlistError(f"{option} {text!r}: expected a positive frequency in Hz, e.g. 1k or 10g")
    lo, hi = BAND_LIMITS
    if not lo <= value <= hi:
        raise NetlistError(f"{option} {text!r}: expected a frequency between {format_eng(lo, 'Hz')} and "
                           f"{format_eng(hi, 'Hz')}")
    return value


def register(sub) -> None:
    p = sub.add_parser("ndf", help="normalized determinant function: encirclements and the unstable device loop",
                       description="Counts the clockwise encirclements of the origin by NDF(jω) = det M / det M0 "
                                   "(every dependent source and negative R/L/C off): the number of unstable natural "
                                   "frequencies, hidden modes included. Each source's return difference F_k (sources "
                                   "1..k-1 on, the rest off) says which device loop is unstable.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("netlist", help="SPICE netlist")
    p.add_argument("--fmin", help="lowest frequency of the sweep (Hz, suffixes allowed); default from the circuit")
    p.add_argument("--fmax", help="top of the dense sweep (Hz); the tail is extended until the NDF settles")
    add_point(p)
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from stabkit.analysis.verdict import decide

    fmin, fmax = _frequency(args.fmin, "--fmin"), _frequency(args.fmax, "--fmax")
    if fmin is not None and fmax is not None and not fmin < fmax:
        raise NetlistError(f"--fmin {args.fmin} must be below --fmax {args.fmax}")
    circuit = load_circuit(args.netlist, args.set)
    verdict = decide(circuit, fmin=fmin, fmax=fmax, point=args.point)
    d = verdict.deciding
    payload = {**(d.ndf.to_dict() if d.ndf is not None else {}), **verdict.to_dict()}
    if not args.json:
        print(circuit.summary())
        for pv in verdict.points:
            res = pv.ndf
            if len(verdict.points) > 1:
                print(f"\n{pv.point.label}: {pv.verdict.upper()}")
            if res is None:  # the NDF gave no count (the reason is the verdict's)
                continue
            rows = [[src.name, src.kind, str(src.encirclements), f"{src.raw_count:.3f}"] for src in res.sources]
            if rows:
                print(table(rows, ["source", "kind", "encirclements", "raw"]))
            print(f"swept {format_eng(res.fmin, 'Hz')} .. {format_eng(float(res.freq_hz.max()), 'Hz')} "
                  f"({res.s.size} points): {res.encirclements} clockwise encirclement(s)")
        print(verdict.summary())
        print_warnings(verdict.warnings)
    return finish(verdict, args, payload)
