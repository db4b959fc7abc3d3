"""``stabkit equiv NET --port P[,P2] --band A:B --target X``: equivalent L or C at a port, and the design steps.

``L_eq(f) = Im Zin/ω`` (or ``C_eq = −1/(ω Im Zin)``) over the band; with ``--tune NAME`` the load element
that makes the deviation symmetric (``--mode center``, step 4 of the negative-inductor paper) or the ±tol
band widest (``--mode widest``); ``--compensate NAME`` a load resistor that makes ``Re Zin`` symmetric about
zero (step 5); ``--line NAME=Z0`` a transmission-line section instead of the load inductor ``NAME`` (step 3);
``--loads NAME=A:B`` the admissible range of the external element ``NAME`` (the stability verdicts are
stabkit's one verdict; ``--fmin``/``--fmax`` their NDF band); ``--by Q=v1,..`` one design per value (re-biased, re-tuned: Tables 2–3);
``--target`` and ``--tol`` lists one design per pair (Table 4). ``--external`` names the elements that form
the external load (removed for the port impedance, kept for the stability sweep).
"""

from __future__ import annotations

import argparse
import re
import sys

from stabkit.analysis.equiv import design, design_columns, design_rows
from stabkit.commands.common import add_common, add_point, emit_json, load_circuit, parse_sets, print_warnings
from stabkit.commands.common import positive_int, relative_tolerance
from stabkit.commands.loads import _points  # one --points type for loads and equiv
from stabkit.commands.ndf import _frequency  # one --fmin/--fmax type for ndf and equiv
from stabkit.errors import NetlistError
from stabkit.units import format_eng, parse_value

__all__ = ['register', 'run']

EPILOG = """\
examples:
  stabkit equiv cases/linvill_bfr840.cir --port in --band 0.5g:2g --target -5n --external LEXT,RSRC
  stabkit equiv cases/linvill_bfr840.cir --port in --band 0.5g:2g --target -5n --external LEXT,RSRC --tune lload --compensate rload   steps 4-5
  stabkit equiv cases/linvill_bfr840.cir --port in --band 0.5g:2g --target -5n --external LEXT,RSRC --tune lload --by u=5,9 --loads lext=6n:18n --points 8 --rtol 1e-2   Table 2's form, two columns

The paper's whole Table 2 is --tune lload --mode widest --by u=5,6,7,8,9 --loads lext=1n:100n (a minute or so
on two cores: designs of --by or of --target/--tol lists run on a process per core, see --workers; docs/paper.md
has it, Table 3 with --by rc=0,2,4,6,8, Table 4 with --target and --tol lists and --fmax 1t, which ends the NDF
sweep behind the verdicts of the line designs at 1 THz instead of where the element values put it).

Exit status: 0 done (with --loads: some design has a stable interval), 1 (--loads) no design has one,
3 a stability verdict was uncertain, 2 bad input.
"""


def register(sub) -> None:
    p = sub.add_parser("equiv", help="equivalent L/C at a port; tune, compensate, admissible external load",
                       description="Equivalent inductance (or capacitance) at a port over a band, with the design "
                                   "steps of the negative-inductor paper as options.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("netlist", help="SPICE netlist")
    p.add_argument("--port", required=True, metavar="P[,P2]", help="port node (to ground) or two nodes")
    p.add_argument("--band", required=True, metavar="A:B", help="design band, Hz (suffixes allowed: 0.5g:2g)")
    p.add_argument("--target", required=True, metavar="X[,X2..]",
                   help="target L (H) or C (F), e.g. -5n; a list gives one design per target")
    p.add_argument("--kind", choices=["L", "C"], default="L", help="equivalent inductance or capacitance")
    p.add_argument("--tune", metavar="NAME", help="load element or .param to tune (step 4)")
    p.add_argument("--mode", choices=["center", "widest"], default="center",
                   help="center: deviation symmetric over the band (default); widest: the ±tol band widest")
    p.add_argument("--tol", default="5%", metavar="P%[,..]", help="tolerance, e.g. 5%% or 0.05 (a list: one "
                                                                  "design per value; default 5%%)")
    p.add_argument("--compensate", metavar="NAME", help="load resistor tuned so Re Zin is symmetric about zero")
    p.add_argument("--external", metavar="E1,E2", default="",
                   help="elements of the external load, removed for the port impedance")
    p.add_argument("--loads", metavar="NAME=A:B", help="admissible range of this external element/parameter")
    p.add_argument("--by", metavar="Q=v1,v2,..", help="one design per value (re-biased and re-tuned)")
    p.add_argument("--line", metavar="NAME=Z0", help="replace load inductor NAME by a line section of Z0 (Eqs. 1–3)")
    p.add_argument("--line-above", metavar="X",
                   help="with a --target list: use the line only where |target| >= X (e.g. 5.5n)")
    p.add_argument("--search", metavar="A:B", help="frequencies searched for the ±tol band (default: band/10 to band·10)")
    p.add_argument("--points", type=_points, default=31,
                   help="coarse-scan points of the --loads sweep, 2..10000 (default 31)")
    p.add_argument("--rtol", type=relative_tolerance, default=1e-3,
                   help="relative tolerance of the admissible edges, 0 < RTOL < 0.5 (default 1e-3)")
    p.add_argument("--fmin", metavar="F", help="NDF band of the --loads verdicts: lowest frequency (Hz, suffixes "
                                               "allowed); default from the circuit")
    p.add_argument("--fmax", metavar="F", help="NDF band of the --loads verdicts: top of the dense sweep (Hz); the "
                                               "tail is extended until the NDF settles; default from the circuit")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="processes for the designs of --by or a --target/--tol list (default: all cores)")
    add_point(p)
    add_common(p)
    # negative values with engineering suffixes (--target -5n) are values, not options
    number = r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(meg|mil|[fpnumkgt])?"
    p._negative_number_matcher = re.compile(rf"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(meg|mil|[fpnumkgt])?(,{number})*$", re.I)
    p.set_defaults(func=run)


def _number(text: str, what: str) -> float:
    try:
        return float(parse_value(text.strip()))
    except ValueError:
        raise NetlistError(f"{what} {text!r}: expected a number such as -5n, 0.5g or 50") from None


def _range(text: str, what: str) -> tuple[float, float]:
    parts = text.split(":")
    if len(parts) != 2:
        raise NetlistError(f"{what} {text!r}: expected A:B, e.g. 0.5g:2g")
    a, b = _number(parts[0], what), _number(parts[1], what)
    if not a < b:
        raise NetlistError(f"{what} {text!r}: A must be below B")
    return a, b


def _tol(text: str) -> float:
    t = text.strip()
    value = _number(t[:-1], "--tol") / 100.0 if t.endswith("%") else _number(t, "--tol")
    if not 0 < value < 1:
        raise NetlistError(f"--tol {text!r}: expected a tolerance between 0 and 100 %, e.g. 5%")
    return value


def _named_range(text: str, what: str) -> tuple[str, float, float]:
    name, sep, rng = text.partition("=")
    if not sep or not name.strip():
        raise NetlistError(f"{what} {text!r}: expected NAME=A:B, e.g. lext=1n:60n")
    a, b = _range(rng, what)
    return name.strip().lower(), a, b


def _by(text: str) -> tuple[str, list[float]]:
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise NetlistError(f"--by {text!r}: expected NAME=v1,v2,... e.g. --by u=5,6,7,8,9")
    return name.strip().lower(), [_number(v, "--by value") for v in values.split(",") if v.strip()]


def _line(text: str) -> tuple[str, float]:
    name, sep, z0 = text.partition("=")
    if not sep or not name.strip():
        raise NetlistError(f"--line {text!r}: expected INDUCTOR=Z0, e.g. --line LN=90")
    value = _number(z0, "--line Z0")
    if value <= 0:
        raise NetlistError(f"--line {text!r}: Z0 must be positive")
    return name.strip(), value


def run(args) -> int:
    circuit = load_circuit(args.netlist, args.set)
    fixed = parse_sets(args.set)
    band = _range(args.band, "--band")
    if band[0] <= 0:
        raise NetlistError(f"--band {args.band!r}: frequencies must be positive")
    targets = [_number(t, "--target") for t in args.target.split(",") if t.strip()]
    if not targets:
        raise NetlistError(f"--target {args.target!r}: expected a value such as -5n (H) or -2p (F), or a list")
    tols = [_tol(t) for t in args.tol.split(",") if t.strip()]
    if not tols:
        raise NetlistError(f"--tol {args.tol!r}: expected a tolerance such as 2% or a list 1%,2%,5%")
    if any(t == 0 for t in targets):
        raise NetlistError("--target must be nonzero")
    external = [e.strip() for e in args.external.split(",") if e.strip()]
    for name in external:
        if name not in circuit:
            raise NetlistError(f"--external {name}: no element of that name in {args.netlist}")
    for opt in ("tune", "compensate"):
        name = getattr(args, opt)
        if name and name.lower() not in circuit.params and name not in circuit:
            raise NetlistError(f"--{opt} {name!r}: no parameter or element of that name in {args.netlist}")
    loads = _named_range(args.loads, "--loads") if args.loads else None
    line = _line(args.line) if args.line else None
    if line is not None and (line[0] not in circuit or circuit.element(line[0]).kind != "L"):
        raise NetlistError(f"--line {args.line!r}: {line[0]!r} is not an inductor of {args.netlist}")
    search = _range(args.search, "--search") if args.search else None
    fmin, fmax = _frequency(args.fmin, "--fmin"), _frequency(args.fmax, "--fmax")
    if fmin is not None and fmax is not None and not fmin < fmax:
        raise NetlistError(f"--fmin {args.fmin} must be below --fmax {args.fmax}")
    kwargs = dict(kind=args.kind, tune=args.tune, mode=args.mode, compensate=args.compensate, params=fixed,
                  external=external, loads=loads, search=search, point=args.point, rtol=args.rtol,
                  load_points=args.points, fmin=fmin, fmax=fmax)
    many = len(targets) > 1 or len(tols) > 1
    if args.by and many:
        raise NetlistError("--by with several --target/--tol values: give one or the other")
    if args.line_above and not many:
        raise NetlistError("--line-above needs a --target (or --tol) list")
    if args.by:
        by, values = _by(args.by)
        designs = design_columns(circuit, args.port, band, targets[0], by, values, tol=tols[0], line=line,
                                 workers=args.workers, progress=not args.json, **kwargs)
        payload = {"by": by, "columns": [d.to_dict() for d in designs]}
    elif many:
        above = _number(args.line_above, "--line-above") if args.line_above else None
        # progress is drawn only on a terminal and without --json or STABKIT_NO_PROGRESS (report.progress)
        designs = design_rows(circuit, args.port, band, targets, tols, line=line, line_above=above,
                              workers=args.workers, progress=not args.json, **kwargs)
        payload = {"rows": [d.to_dict() for d in designs]}
    else:
        designs = [design(circuit, args.port, band, targets[0], tol=tols[0], line=line, **kwargs)]
        payload = designs[0].to_dict()
    if args.json:
        emit_json(payload)
    else:
        print(circuit.summary())
        for d in designs:
            print(_text(d))
    return _exit(designs, loads is not None)


def _text(d) -> str:
    unit = "H" if d.kind == "L" else "F"
    stats = d.statistics
    head = []
    if d.column is not None:
        head.append(f"{d.column[0]} = {format_eng(d.column[1])}")
    head.append(f"target {format_eng(d.target, unit)} ±{d.tol * 100:g} %")
    lines = ["", ", ".join(head) + ":"]
    if d.tuned:
        lines.append("  tuned: " + ", ".join(f"{k} = {format_eng(v, digits=6)}" for k, v in d.tuned.items()))
    if d.line is not None:
        lines.append(f"  line load: Z0 = {d.line['z0']:g} Ω, θ = {d.line['theta_deg']:.2f}° at "
                     f"{format_eng(d.line['f0'], 'Hz')} (Ls = {format_eng(d.line['ls'], 'H')}, "
                     f"Cp = {format_eng(d.line['cp'], 'F')})")
    lines.append(f"  {d.kind}_eq over {format_eng(d.band[0], 'Hz')}–{format_eng(d.band[1], 'Hz')}: "
                 f"{format_eng(stats['min'], unit)} … {format_eng(stats['max'], unit)} "
                 f"({stats['deviation_pct'][0]:+.2f} / {stats['deviation_pct'][1]:+.2f} %); Re Zin "
                 f"{d.z.real.min():.2f} … {d.z.real.max():.2f} Ω")
    if d.tol_band_hz is None:
        lines.append(f"  ±{d.tol * 100:g} % band: none (outside the tolerance at the band's centre)")
    else:
        lo, hi = d.tol_band_hz
        lines.append(f"  ±{d.tol * 100:g} % band: {format_eng(lo, 'Hz')} – {format_eng(hi, 'Hz')} "
                     f"(Δf/f0 = {d.bandwidth_pct:.0f} %, Δf/f_band = {d.bandwidth_pct_band_centre:.0f} %)")
    if d.bias:
        lines.append("  bias: " + "; ".join(f"{k}: {format_eng(v['ic'], 'A')}, {format_eng(v['vce'], 'V')}"
                                           for k, v in d.bias.items() if "ic" in v))
    if d.admissible is not None:
        a = d.admissible
        iv = "; ".join(f"[{format_eng(x, digits=5)}, {format_eng(y, digits=5)}]" for x, y in a.intervals) or "none"
        lines.append(f"  admissible {a.param} in [{format_eng(a.lo)}, {format_eng(a.hi)}]: {iv}")
        for e in a.edges:
            where = f" at {format_eng(e.freq_hz, 'Hz')}" if e.crossing == "complex pair" else ""
            lines.append(f"    {e.side} edge {format_eng(e.value, digits=6)}: {e.crossing or 'verdict change'}{where}")
    return "\n".join(lines)


def _exit(designs, with_loads: bool) -> int:
    print_warnings([w for d in designs for w in d.warnings])
    if not with_loads:
        return 0
    uncertain = [u for d in designs for u in d.admissible.uncertain]
    if uncertain:
        print(f"stabkit: uncertain: {uncertain[0][1]}", file=sys.stderr)
        return 3
    print_warnings([w for d in designs for w in d.admissible.warnings])
    return 0 if any(d.admissible.intervals for d in designs) else 1
