"""``stabkit yield NET --vary NAME=DIST ... --samples N``: Monte-Carlo yield over tolerances.

Draws ``N`` samples of the varied quantities (``.param`` names, element values, model-card parameters
``MODEL.PARAM``), judges each sampled circuit with the verdict every command uses (re-biased and
re-linearized where the circuit is nonlinear) and prints the stable fraction with its 95 % confidence
interval and the worst samples. Local processes by default, a Dask cluster with ``--scheduler ADDRESS``.

Exit status: 0 when the run completed (the fraction is in the output); with ``--require P``: 0 when the
whole confidence interval is at or above ``P``, 1 when it lies below ``P``, 3 when it straddles ``P`` (more
samples, or fewer uncertain ones, would decide; the reason on stderr); 2 bad input (unknown names, a bad
distribution, an unreachable scheduler); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stabkit.analysis.tolerance import CONFIDENCE, bind_variations, parse_vary, write_worst, yield_analysis
from stabkit.analysis.verdict import format_pole
from stabkit.commands.common import add_common, positive_int, emit_json, load_circuit, print_warnings
from stabkit.errors import NetlistError
from stabkit.units import format_eng

__all__ = ["register", "run"]

#: largest --samples accepted (the sample matrix is held in memory: 8 bytes per sample and varied name)
MAX_SAMPLES = 10_000_000

EPILOG = """\
distributions (NAME is a .param, an element or MODEL.PARAM of a .model card):
  uniform:LO:HI        uniform between LO and HI (suffixes allowed: 1n, 4.7k)
  normal:MU:SIGMA      normal, mean MU, standard deviation SIGMA (absolute, not truncated)
  tol:P%               uniform within +-P % of the nominal value

examples:
  stabkit yield cases/ntype_smallsignal.cir --vary rser=tol:20% --vary lser=tol:20% --samples 1000 --seed 1
  stabkit yield cases/linvill_bfr840.cir --set lext=7.8n --vary r=tol:5% --vary x1.m_bfr840l3rhesd.bf=tol:30% --samples 40 --seed 7 --keep worst/ --plot yield.png

On a Dask cluster add --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786; pip install 'stabkit[dask]'): the samples
are spread over its workers, the result is the same as on local processes.

exit status: 0 the run completed (without --require); with --require P: 0 the 95 % interval is at or above P,
1 it is below P, 3 it straddles P (undecided: more samples needed); 2 bad input; 130 interrupted.
"""


def register(sub) -> None:
    p = sub.add_parser("yield", help="Monte-Carlo yield: stable fraction over component tolerances",
                       description="The fraction of circuits that is stable when components and model parameters "
                                   "vary: N random samples, each judged (re-biased where nonlinear), the stable "
                                   "fraction with its 95 % confidence interval and the worst samples.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("netlist", help="SPICE netlist")
    p.add_argument("--vary", metavar="NAME=DIST", action="append", default=[], required=True,
                   help="a varied quantity and its distribution (repeatable); see below")
    p.add_argument("--samples", type=_samples, default=1000, metavar="N", help="number of samples (default 1000)")
    p.add_argument("--seed", type=_seed, default=None, metavar="S",
                   help="seed of the sample stream (default: a fresh one, printed); same seed, same samples and "
                        "counts, on any number of workers, locally or on Dask")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int, default=None, metavar="K",
                       help="local worker processes (default: every core; 1 runs in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the samples on a Dask cluster, e.g. tcp://10.0.0.5:8786 (pip install 'stabkit[dask]')")
    p.add_argument("--method", choices=["auto", "poles", "ndf"], default="auto",
                   help="stability test per sample: exact poles cross-checked with the NDF (auto), or one of them")
    p.add_argument("--worst", type=_count, default=5, metavar="K", help="how many worst samples to list (default 5)")
    p.add_argument("--keep", nargs="?", const="", default=None, metavar="DIR",
                   help="write the worst samples as runnable netlists into DIR (default: NETLIST-yield/ here)")
    p.add_argument("--plot", metavar="FILE", help="save histograms of the least-damped pole (png/svg/pdf)")
    p.add_argument("--require", type=_fraction, default=None, metavar="P",
                   help="required stable fraction (0.99 or 99%%): sets the exit status from the confidence interval")
    add_common(p)
    p.set_defaults(func=run)


def _samples(text: str) -> int:
    value = positive_int(text)
    if value > MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SAMPLES} samples, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _fraction(text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.99 or 99%, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1] such as 0.99 or 99%, got {text!r}")
    return value


def run(args) -> int:
    circuit = load_circuit(args.netlist, args.set)
    variations = bind_variations(circuit, [parse_vary(item) for item in args.vary])
    if args.plot:
        _check_plot_path(args.plot)
    progress = None if not args.json else False
    result = yield_analysis(circuit, variations, args.samples, seed=args.seed, method=args.method,
                            workers=args.workers, scheduler=args.scheduler, progress=progress)
    kept = []
    if args.keep is not None and args.worst:
        folder = args.keep or f"{Path(args.netlist).stem}-yield"
        kept = write_worst(result, circuit, folder, args.worst, source=args.netlist)
    payload = result.to_dict(worst=args.worst)
    for entry, path in zip(payload["worst"], kept):
        entry["netlist"] = str(path)
    code, why = _exit_status(result, args.require)
    if args.require is not None:
        payload["require"] = {"fraction": args.require, "met": {0: True, 1: False}.get(code)}
    if args.json:
        emit_json(payload)
    else:
        _print_text(result, args, payload, kept)
        print_warnings(payload["warnings"])
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        fig = result.plot()
        fig.savefig(args.plot)
        if not args.json:
            print(f"plot: {args.plot}")
    if result.uncertain:
        top, n = result.uncertain_reasons()[0]
        print(f"stabkit: note: {result.uncertain} of {result.samples} samples are uncertain (never counted as "
              f"stable; the interval covers either way): {top} ({n} sample{'s' if n != 1 else ''})", file=sys.stderr)
    if code == 3:
        print(f"stabkit: uncertain: {why}", file=sys.stderr)
    return code


def _exit_status(result, require: float | None) -> tuple[int, str]:
    if require is None:
        return 0, ""
    lo, hi = result.ci95
    if lo >= require:
        return 0, ""
    if hi < require:
        return 1, ""
    return 3, (f"the {100 * CONFIDENCE:.0f} % interval {100 * lo:.2f} % … {100 * hi:.2f} % contains the required "
               f"{100 * require:g} %: more samples{' (or fewer uncertain ones)' if result.uncertain else ''} "
               "would decide")


def _check_plot_path(path: str) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg", ".pdf"):
        raise NetlistError(f"--plot {path}: expected a .png, .svg or .pdf file name")
    parent = Path(path).parent
    if not parent.is_dir():
        raise NetlistError(f"--plot {path}: no such directory {str(parent)!r}")


def _print_text(result, args, payload: dict, kept) -> None:
    where = {"serial": "in this process", "processes": f"{result.workers} local processes",
             "dask": f"{result.workers} Dask workers at {args.scheduler}"}[result.backend]
    print(f"yield of {args.netlist}: {result.samples} samples (seed {result.seed}) {where}, "
          f"{result.elapsed_s:.1f} s")
    for v in result.variations:
        print(f"  {v.describe()}")
    n = result.samples
    print(f"stable     {result.stable:>{len(str(n))}}  ({100 * result.stable / n:.2f} %)")
    print(f"unstable   {result.unstable:>{len(str(n))}}  ({100 * result.unstable / n:.2f} %)")
    print(f"uncertain  {result.uncertain:>{len(str(n))}}  ({100 * result.uncertain / n:.2f} %)")
    lo, hi = result.ci95
    print(f"stable fraction {100 * result.stable_fraction:.2f} %, {100 * CONFIDENCE:.0f} % confidence interval "
          f"{100 * lo:.2f} % … {100 * hi:.2f} %" + (" (uncertain samples counted either way)" if result.uncertain else ""))
    if "require" in payload:
        met = payload["require"]["met"]
        word = {True: "met", False: "NOT met"}.get(met, "undecided")
        print(f"required {100 * args.require:g} %: {word}")
    if payload["worst"]:
        print("worst samples (least-damped natural frequency first):")
    for k, entry in enumerate(payload["worst"]):
        pole = entry["rightmost_pole"]
        pole_text = (format_pole(complex(*pole)) + f", Re s/|s| = {entry['margin']:.3g}") if pole else "no poles (NDF)"
        values = ", ".join(f"{name}={format_eng(x, digits=5)}" for name, x in entry["set"].items())
        print(f"  #{entry['index']} {entry['verdict']}: {pole_text}; {values}")
        if k < len(kept):
            print(f"      netlist: {kept[k]}")

