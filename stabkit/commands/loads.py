"""``stabkit loads NET --sweep P --from A --to B [--by Q=v1,v2,..]``: admissible ranges of a load parameter.

Without ``--by``: the stable intervals of ``P`` over ``[A, B]`` with what crosses at each edge. With
``--by``: one column per value of ``Q`` (the paper's Tables 2–3) and the verdict at probed values of
``P``. ``--map Q=A:B:N`` instead evaluates a 2-D stability map (``--points`` values of ``P``). Exit code 0
when some part of the sweep is stable, 1 when none is.
"""

from __future__ import annotations

import sys

import numpy as np

from stabkit.analysis.loads import DEFAULT_POINTS, DEFAULT_RTOL, admissible_range, stability_map, stability_table
from stabkit.analysis.bjt import linear_circuit_for_sweep
from stabkit.commands.common import add_common, emit_json, load_circuit, parse_sets, table
from stabkit.errors import NetlistError
from stabkit.units import format_eng, parse_value


def register(sub) -> None:
    p = sub.add_parser("loads", help="admissible range of a load parameter (stable intervals, tables, maps)",
                       description="Stable subset of [--from, --to] of the parameter --sweep (a .param or an "
                                   "element name), edges located to --rtol; with --by one column per value.")
    p.add_argument("netlist", help="SPICE netlist")
    p.add_argument("--sweep", required=True, metavar="P", help="parameter (or element) to sweep")
    p.add_argument("--from", dest="lo", required=True, metavar="A", help="lower end (suffixes allowed: 1n)")
    p.add_argument("--to", dest="hi", required=True, metavar="B", help="upper end")
    p.add_argument("--by", metavar="Q=v1,v2,..", help="second parameter: one column per value")
    p.add_argument("--map", metavar="Q=A:B:N", help="2-D map over Q (N log- or lin-spaced values)")
    p.add_argument("--probes", metavar="x1,x2,..", help="values of P to mark stable/unstable in the --by table")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                   help=f"relative edge tolerance (default {DEFAULT_RTOL:g})")
    p.add_argument("--points", type=int, default=DEFAULT_POINTS, help=f"coarse-scan points (default {DEFAULT_POINTS})")
    p.add_argument("--scale", choices=["auto", "log", "lin"], default="auto", help="coarse-scan spacing")
    p.add_argument("--method", choices=["auto", "poles", "ndf"], default="auto",
                   help="stability test: exact pencil (lumped) or NDF (distributed); auto picks")
    p.add_argument("--workers", type=int, default=None, help="processes for --by/--map (default: all cores)")
    p.add_argument("--plot", metavar="FILE", help="save a plot (png/svg/pdf)")
    add_common(p)
    p.set_defaults(func=run)


def _number(text: str, what: str) -> float:
    try:
        return parse_value(text)
    except ValueError:
        raise NetlistError(f"{what} {text!r}: expected a number such as 7.5n, 50 or 1e-9") from None


def _parse_by(spec: str) -> tuple[str, list[float]]:
    name, sep, values = spec.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise NetlistError(f"--by {spec!r}: expected NAME=v1,v2,... e.g. --by rc=0,2,4,6,8")
    return name.strip().lower(), [_number(v, "--by value") for v in values.split(",") if v.strip()]


def _parse_map(spec: str) -> tuple[str, np.ndarray]:
    name, sep, rng = spec.partition("=")
    parts = rng.split(":")
    if not sep or len(parts) != 3:
        raise NetlistError(f"--map {spec!r}: expected NAME=START:STOP:N, e.g. --map rc=0:10:11")
    a, b = _number(parts[0], "--map start"), _number(parts[1], "--map stop")
    try:
        n = int(parts[2])
    except ValueError:
        raise NetlistError(f"--map {spec!r}: N must be an integer") from None
    values = np.geomspace(a, b, n) if a > 0 and b / a >= 10 else np.linspace(a, b, n)
    return name.strip().lower(), values


def _edge_text(e) -> str:
    what = e.crossing or "verdict change"
    where = ""
    if e.crossing == "complex pair":
        where = f" at {format_eng(e.freq_hz, 'Hz')}"
    elif e.crossing == "real pole" and e.via:
        where = f" through {e.via}"
    return f"{e.side} edge {format_eng(e.value, digits=6)}: {what}{where} ({e.evaluations} evaluations)"


def run(args) -> int:
    circuit = load_circuit(args.netlist, args.set)
    fixed = parse_sets(args.set)
    lo, hi = _number(args.lo, "--from"), _number(args.hi, "--to")
    if not lo < hi:
        raise NetlistError(f"--from {args.lo} must be below --to {args.hi}")
    if args.points < 2:
        raise NetlistError("--points must be at least 2")
    sweeps = {args.sweep: [lo, hi]}
    if args.map:
        sweeps[_parse_map(args.map)[0]] = _parse_map(args.map)[1]
    if args.by:
        sweeps[_parse_by(args.by)[0]] = _parse_by(args.by)[1]
    circuit = linear_circuit_for_sweep(circuit, sweeps)
    progress = not args.json and sys.stderr.isatty()
    common = dict(rtol=args.rtol, points=args.points, scale=args.scale, method=args.method)
    if args.map:
        yname, yvalues = _parse_map(args.map)
        xs = np.geomspace(lo, hi, args.points) if lo > 0 and hi / lo >= 10 and args.scale != "lin" \
            else np.linspace(lo, hi, args.points)
        res = stability_map(circuit, args.sweep, xs, yname, yvalues, params=fixed, method=args.method,
                            workers=args.workers, progress=progress)
        if args.json:
            emit_json({"param": args.sweep, **res.to_dict()})
        else:
            rows = [[format_eng(y)] + ["." if s else str(n) for s, n in zip(srow, nrow)]
                    for y, srow, nrow in zip(res.y_values, res.stable, res.rhp_count)]
            print(f"RHP natural frequencies ('.' = stable); rows {yname}, columns {args.sweep} "
                  f"{format_eng(xs[0])} … {format_eng(xs[-1])}")
            print("\n".join(" ".join(r) for r in rows))
        _save_plot(res, args.plot)
        return 0 if res.stable.any() else 1
    if args.by:
        by, values = _parse_by(args.by)
        probes = [_number(v, "--probes value") for v in args.probes.split(",")] if args.probes else None
        res = stability_table(circuit, args.sweep, lo, hi, by, values, params=fixed, probes=probes,
                              workers=args.workers, progress=progress, **common)
        if args.json:
            emit_json(res.to_dict())
        else:
            print(circuit.summary())
            print(res.text())
            for v, col in zip(res.by_values, res.columns):
                for e in col.edges:
                    print(f"  {by}={format_eng(v)}: {_edge_text(e)}")
        _save_plot(res, args.plot)
        return 0 if any(c.intervals for c in res.columns) else 1
    res = admissible_range(circuit, args.sweep, lo, hi, params=fixed, **common)
    if args.json:
        emit_json(res.to_dict())
    else:
        print(circuit.summary())
        if res.intervals:
            print(table([[format_eng(a, digits=6), format_eng(b, digits=6)] for a, b in res.intervals],
                        ["stable from", "to"]))
        else:
            print(f"no stable value of {args.sweep} in [{format_eng(lo)}, {format_eng(hi)}]")
        for e in res.edges:
            print("  " + _edge_text(e))
        for w in res.warnings:
            print(f"warning: {w}", file=sys.stderr)
        print(f"{res.evaluations} stability evaluations ({res.method})")
    _save_plot(res, args.plot)
    return 0 if res.intervals else 1


def _save_plot(result, path: str | None) -> None:
    if not path:
        return
    import matplotlib

    matplotlib.use("Agg")
    ax = result.plot()
    ax.figure.tight_layout()
    ax.figure.savefig(path)
