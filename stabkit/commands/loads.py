"""``stabkit loads NET --sweep P --from A --to B [--by Q=v1,v2,..]``: admissible ranges of a load parameter.

Without ``--by``: the stable intervals of ``P`` over ``[A, B]`` with what crosses at each edge. With
``--by``: one column per value of ``Q`` (the paper's Tables 2–3) and the verdict at probed values of
``P``. ``--map Q=A:B:N`` instead evaluates a 2-D stability map (``--points`` values of ``P``). Exit code 0
when some part of the sweep is stable, 1 when none is.

Circuits with transistors or diodes are linearized once at their DC point when no swept name moves it;
where ``Q`` moves it (a supply, a bias resistor) each column is re-biased and re-linearized, and where ``P``
moves it every evaluated value is (continuing from the neighbouring DC solution). The JSON then carries
``"bias"`` (per column, and per edge for a re-biased ``P``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from stabkit.analysis.loads import (DEFAULT_POINTS, DEFAULT_RTOL, LOCATE_METHODS, admissible_range, stability_map,
                                    stability_table)
from stabkit.analysis.points import bias_movers, bias_summary, linear_point_near, nonlinear_kinds
from stabkit.commands.common import (add_common, add_point, emit_json, load_circuit, parse_sets, positive_int, print_warnings,
                                     relative_tolerance, table)
from stabkit.errors import NetlistError
from stabkit.units import format_eng, parse_value

__all__ = ["register", "run", "MAP_MAX_ROWS", "PLOT_SUFFIXES"]


EPILOG = """\
Every value is judged as `stabkit poles` judges it (exact poles cross-checked with the NDF; the NDF alone for
transmission lines and S-parameter blocks). A transistor circuit is linearized once when the swept values
leave its DC point alone; a --by value that moves it (a supply, a bias resistor) is re-biased per column, a
--sweep value that moves it at every value (continuing from the neighbouring DC solution); each column then
shows its bias (Ic, Vce). Each edge says what crosses the jω axis there (a complex pair at its
frequency, or a real pole). On a terminal a progress bar counts the evaluations (STABKIT_NO_PROGRESS=1 or
--json silence it).

exit status: 0 some value of the sweep is stable, 1 none is, 3 a value could not be decided (the reason on
stderr), 2 bad input.

examples:
  stabkit loads cases/ntype_smallsignal.cir --sweep lser --from 1n --to 200n
  stabkit loads cases/linvill_nic.cir --sweep lext --from 0.1n --to 20n --by rc=0,4,8
  stabkit loads cases/ntype_smallsignal.cir --sweep lser --from 1n --to 200n --map rser=1:100:5 --points 8
  stabkit loads cases/line_negres.cir --sweep rs --from 1 --to 200 --json
  stabkit loads cases/linvill_bfr840.cir --sweep lext --from 5n --to 15n --by u=5,9 --points 8 --rtol 1e-2
"""


def register(sub) -> None:
    p = sub.add_parser("loads", help="admissible range of a load parameter (stable intervals, tables, maps)",
                       description="Stable subset of [--from, --to] of the parameter --sweep (a .param or an "
                                   "element name), edges located to --rtol; with --by one column per value.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("netlist", help="SPICE netlist")
    p.add_argument("--sweep", required=True, metavar="P", help="parameter (or element) to sweep")
    p.add_argument("--from", dest="lo", required=True, metavar="A", help="lower end (suffixes allowed: 1n)")
    p.add_argument("--to", dest="hi", required=True, metavar="B", help="upper end")
    p.add_argument("--by", metavar="Q=v1,v2,..", help="second parameter: one column per value")
    p.add_argument("--map", metavar="Q=A:B:N", help="2-D map over Q (N log- or lin-spaced values)")
    p.add_argument("--probes", metavar="x1,x2,..", help="values of P to mark stable/unstable in the --by table")
    p.add_argument("--rtol", type=relative_tolerance, default=DEFAULT_RTOL,
                   help=f"relative edge tolerance, 0 < RTOL < 0.5 (default {DEFAULT_RTOL:g})")
    p.add_argument("--points", type=_points, default=DEFAULT_POINTS,
                   help=f"coarse-scan points, 2..10000 (default {DEFAULT_POINTS})")
    p.add_argument("--scale", choices=["auto", "log", "lin"], default="auto", help="coarse-scan spacing")
    p.add_argument("--locate", choices=list(LOCATE_METHODS), default="continuation",
                   help="how a bracketed edge is refined: follow the crossing pole to Re s = 0 and prove it with "
                        "the verdicts either side (continuation, lumped circuits whose bias the sweep leaves alone; "
                        "bisection elsewhere or when the verdicts disagree), or bisection on the verdicts only")
    p.add_argument("--method", choices=["auto", "poles", "ndf"], default="auto",
                   help="stability test: exact pencil (lumped) or NDF (distributed); auto picks")
    p.add_argument("--workers", type=positive_int, default=None, help="processes for --by/--map (default: all cores)")
    p.add_argument("--plot", metavar="FILE", help="save a plot (png/svg/pdf)")
    add_point(p)
    add_common(p)
    p.set_defaults(func=run)


def _points(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer from 2 to 10000, got {text!r}") from None
    if not 2 <= value <= 10000:
        raise argparse.ArgumentTypeError(f"expected an integer from 2 to 10000, got {text!r}")
    return value


def _number(text: str, what: str) -> float:
    try:
        return parse_value(text)
    except ValueError as exc:
        raise NetlistError(f"{what} {text!r}: {exc}") from None


def _parse_by(spec: str) -> tuple[str, list[float]]:
    name, sep, values = spec.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise NetlistError(f"--by {spec!r}: expected NAME=v1,v2,... e.g. --by rc=0,2,4,6,8")
    return name.strip().lower(), [_number(v, "--by value") for v in values.split(",") if v.strip()]


#: most rows of a --map (each row is --points stability evaluations)
MAP_MAX_ROWS = 1000
#: what --plot can write
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _parse_map(spec: str) -> tuple[str, np.ndarray]:
    name, sep, rng = spec.partition("=")
    parts = rng.split(":")
    if not sep or not name.strip() or len(parts) != 3:
        raise NetlistError(f"--map {spec!r}: expected NAME=START:STOP:N, e.g. --map rc=0:10:11")
    a, b = _number(parts[0], "--map start"), _number(parts[1], "--map stop")
    try:
        n = int(parts[2])
    except ValueError:
        raise NetlistError(f"--map {spec!r}: N must be an integer from 2 to {MAP_MAX_ROWS}") from None
    if not 2 <= n <= MAP_MAX_ROWS:
        raise NetlistError(f"--map {spec!r}: N must be an integer from 2 to {MAP_MAX_ROWS}, got {n}")
    if not a < b:
        raise NetlistError(f"--map {spec!r}: START must be below STOP")
    values = np.geomspace(a, b, n) if a > 0 and b / a >= 10 else np.linspace(a, b, n)
    return name.strip().lower(), values


def _edge_text(e) -> str:
    what = e.crossing or "verdict change"
    where = ""
    if e.crossing == "complex pair":
        where = f" at {format_eng(e.f_osc if e.f_osc is not None else e.freq_hz, 'Hz')}"
    elif e.crossing == "real pole" and e.via:
        where = f" through {e.via}"
    how = (f"continuation: {e.pencils} pencils, {e.evaluations} evaluations" if e.located_by == "continuation"
           else f"{e.evaluations} evaluations")
    return f"{e.side} edge {format_eng(e.value, digits=6)}: {what}{where} ({how})"


def _check_plot(path: str | None) -> None:
    """Refuse a --plot file that cannot be written before anything is computed."""
    if path is None:
        return
    import os

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in PLOT_SUFFIXES:
        raise NetlistError(f"--plot {path!r}: expected a file name ending in {', '.join(PLOT_SUFFIXES)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise NetlistError(f"--plot {path!r}: no such directory {folder}")
    if os.path.isdir(path):
        raise NetlistError(f"--plot {path!r}: is a directory")


def _check_sweepable(circuit, name: str, option: str) -> None:
    """``name`` must be a ``.param`` or an element with a value (R, L, C, K, E, F, G, H ...), before any work."""
    from stabkit.errors import ParameterError

    key = name.lower()
    if key in circuit.params:
        return
    params = ", ".join(circuit.params) or "none"
    if key in circuit:
        element = circuit.element(key)
        if "value" in element.values:
            return
        raise ParameterError(f"{option} {name}: element {element.name} has no single value to sweep (a {element.kind} "
                             f"element); put its value in a .param and sweep that (parameters: {params})")
    raise ParameterError(f"{option} {name}: no parameter or element of that name (parameters: {params})")


def run(args) -> int:
    from stabkit.errors import CircuitError

    lo, hi = _number(args.lo, "--from"), _number(args.hi, "--to")
    if not lo < hi:
        raise NetlistError(f"--from {args.lo} must be below --to {args.hi}")
    if args.scale == "log" and lo <= 0:
        raise NetlistError(f"--scale log needs a positive range; --from is {args.lo}")
    by = _parse_by(args.by) if args.by else None
    ymap = _parse_map(args.map) if args.map else None
    probes = [_number(v, "--probes value") for v in args.probes.split(",") if v.strip()] if args.probes else None
    _check_plot(args.plot)
    circuit = load_circuit(args.netlist, args.set)
    fixed = parse_sets(args.set)
    _check_sweepable(circuit, args.sweep, "--sweep")
    if by:
        _check_sweepable(circuit, by[0], "--by")
    if ymap:
        _check_sweepable(circuit, ymap[0], "--map")
    sweeps = {args.sweep: [lo, hi]}
    if ymap:
        sweeps[ymap[0]] = ymap[1]
    if by:
        sweeps[by[0]] = by[1]
    if args.point is not None and args.point > 1 and not any(nonlinear_kinds(circuit)):
        raise CircuitError(f"--point {args.point}: the circuit is linear, it has one operating point")
    from stabkit.report.render import param_unit

    def unit(name: str) -> str:  # axis units of the --plot figure
        return param_unit(circuit, name)

    movers = bias_movers(circuit, sweeps, point=args.point)
    base_bias = None
    if any(nonlinear_kinds(circuit)) and not movers:  # the bias stays: linearize once
        base = linear_point_near(circuit, point=args.point)
        circuit, base_bias = base.circuit, bias_summary(base)
    elif movers and ymap:
        raise CircuitError(f"--map: {next(iter(movers.values()))}; a map linearizes once (use --by to re-bias "
                           "per column)")
    elif movers and not args.json:
        how = "every value" if args.sweep.lower() in {m.lower() for m in movers} else "each column"
        print(f"note: {next(iter(movers.values()))}: re-biasing and re-linearizing at {how}", file=sys.stderr)
    rebias = "point" if args.sweep.lower() in {m.lower() for m in movers} else "column"
    progress = not args.json  # drawn only on a terminal and without STABKIT_NO_PROGRESS (report.progress)
    common = dict(rtol=args.rtol, points=args.points, scale=args.scale, method=args.method, locate=args.locate)
    if ymap:
        yname, yvalues = ymap
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
        _save_plot(lambda ax: res.plot(ax=ax, x_unit=unit(args.sweep), y_unit=unit(yname)), args.plot)
        return 0 if res.stable.any() else 1  # a map is a picture of counts; its cells carry no doubt flag
    if by:
        by, values = by
        res = stability_table(circuit, args.sweep, lo, hi, by, values, params=fixed, probes=probes,
                              workers=args.workers, progress=progress, rebias=rebias, point=args.point, **common)
        if base_bias is not None:
            for col in res.columns:
                col.bias = base_bias
        if args.json:
            emit_json(res.to_dict())
        else:
            print(circuit.summary())
            print(res.text())
            for v, col in zip(res.by_values, res.columns):
                for e in col.edges:
                    print(f"  {by}={format_eng(v)}: {_edge_text(e)}")
        _save_plot(lambda ax: res.plot(ax=ax, unit=unit(args.sweep), by_unit=unit(by)), args.plot)
        return _exit(res.verdict, [u for c in res.columns for u in c.uncertain])
    res = admissible_range(circuit, args.sweep, lo, hi, params=fixed, point=args.point, progress=progress, **common)
    if base_bias is not None:
        res.bias = base_bias
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
        print(f"{res.evaluations} stability evaluations ({res.method})")
        print_warnings(res.warnings)
    _save_plot(lambda ax: res.plot(ax=ax, unit=unit(args.sweep)), args.plot)
    return _exit(res.verdict, res.uncertain)


def _exit(verdict: str, uncertain) -> int:
    """0 some value is stable, 1 none is, 3 some evaluated value could not be decided (reason on stderr)."""
    if verdict == "uncertain":
        x, reason = uncertain[0]
        more = f" (+{len(uncertain) - 1} more value(s))" if len(uncertain) > 1 else ""
        print(f"stabkit: uncertain: {reason}{more}", file=sys.stderr)
        return 3
    return 0 if verdict == "stable" else 1


def _save_plot(draw, path: str | None) -> None:
    """Save the figure ``draw(ax)`` makes (png/svg/pdf by the suffix)."""
    if not path:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.6), layout="constrained")
    draw(ax)
    fig.savefig(path)
    plt.close(fig)
