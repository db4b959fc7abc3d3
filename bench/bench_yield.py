"""Yield run of the Linvill BFR840 NIC (cases/linvill_bfr840.cir, vendor models from ../shared/models):
samples per second with 1 and 2 local worker processes and with a Dask LocalCluster of 1 and 2 workers, the
projected time of a 10 000-sample run, the speed-up, and where the time of one sample goes (cProfile,
grouped: circuit copy, DC solve, linearize, MNA assembly, exact poles, NDF).

Run: python bench/bench_yield.py [--samples N] [--method auto|poles|ndf] [--no-dask] [--profile-samples K]
(the tool sets one BLAS thread per worker itself). Target (issue 14): 10 000 samples in < 2 min on this
machine's cores, near-linear speed-up with Dask workers.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "linvill_bfr840.cir"
VENDOR_LIB = ROOT.parent / "shared" / "models" / "BFR840L3RHESD.lib"
TARGET_SAMPLES = 10_000
TARGET_S = 120.0

#: tolerances of a plausible production spread: 5 % resistors and supply, 10 % DC blocks, transistor BF ±30 %,
#: IS ±20 %, and the external load anywhere in 1–6 nH
VARY = {
    "u": "tol:5%", "rk1": "tol:5%", "rk2": "tol:5%", "re1": "tol:5%", "re2": "tol:5%", "cblk": "tol:10%",
    "x1.m_bfr840l3rhesd.bf": "tol:30%", "x2.m_bfr840l3rhesd.bf": "tol:30%",
    "x1.m_bfr840l3rhesd.is": "tol:20%", "x2.m_bfr840l3rhesd.is": "tol:20%", "lext": "uniform:1n:6n",
}

def rate_line(label: str, res, cpu_s: float) -> float:
    """One configuration: wall-clock rate, and CPU seconds per sample summed over every process involved (on a
    shared, loaded machine the wall clock says little about scaling; CPU per sample that stays flat from 1 to
    2 workers means the parallel overhead is small and the speed-up is bounded only by free cores)."""
    rate = res.samples / res.elapsed_s
    projected = TARGET_SAMPLES / rate
    print(f"  {label:<24} {res.samples:>5} samples in {res.elapsed_s:6.1f} s: {rate:6.2f} samples/s, "
          f"10 000 ≈ {projected / 60:5.1f} min; CPU {1e3 * cpu_s / res.samples:6.0f} ms/sample  "
          f"[{res.stable} stable, {res.unstable} unstable, {res.uncertain} uncertain]")
    return rate


def own_and_children_cpu() -> float:
    """CPU seconds of this process and of its reaped children (a finished process pool)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def worker_cpu(client) -> float:
    return sum(client.run(time.process_time).values())


def step_times(circuit, variations, samples: int) -> None:
    """Time the steps of one transistor-circuit sample exactly as :func:`~stabkit.analysis.verdict.decide` runs
    them (copy with the sample's values → DC solve → linearize → assemble → exact poles → NDF), the DC solve
    both from the nominal operating point (what ``stabkit yield`` does) and from 0 V."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from stabkit.analysis.mna import assemble
    from stabkit.analysis.ndf import ndf
    from stabkit.analysis.poles import poles
    from stabkit.analysis.tolerance import _prepare, draw_samples
    from stabkit.nonlinear.dc import dc_points
    from stabkit.nonlinear.linearize import linearize

    job = _prepare(circuit, variations, "auto", None, None)
    nominal = job.start_point()
    values = draw_samples(variations, samples + 1, seed=99)
    names = ["copy (with_values)", "DC solve, warm start (nominal point)", "linearize", "assemble (MNA)",
             "exact poles", "NDF", "DC solve from 0 V (not used)"]
    totals = dict.fromkeys(names, 0.0)
    warm_its, cold_its = [], []
    clock = time.process_time  # CPU time: on a shared machine the wall clock also counts the others' work
    with threadpool_limits(limits=1):
        for k, row in enumerate(values):
            params = dict(zip(job.keys, map(float, row)))
            t = [clock()]
            c = job.circuit.with_values(params)
            t.append(clock())
            bias = dc_points(c, start=nominal)[0]
            t.append(clock())
            lin = linearize(c, bias)
            t.append(clock())
            system = assemble(lin)
            t.append(clock())
            exact = poles(system)
            t.append(clock())
            ndf(system, exact_poles=exact)  # as decide_linear: the NDF takes its band from these poles
            t.append(clock())
            cold = dc_points(c)[0]
            t.append(clock())
            if k == 0:
                continue  # imports and caches
            for name, a, b in zip(names, t, t[1:]):
                totals[name] += b - a
            warm_its.append(bias.iterations)
            cold_its.append(cold.iterations)
    per = {k: 1e3 * v / samples for k, v in totals.items()}
    total = sum(per[k] for k in names[:-1])
    print(f"\nwhere the time of one sample goes ({samples} samples, this process, 1 BLAS thread, CPU time):")
    for name in names[:-1]:
        print(f"  {name:<38} {per[name]:7.1f} ms  {100 * per[name] / total:5.1f} %")
    print(f"  {'total (method auto)':<38} {total:7.1f} ms; without the NDF (method poles) {total - per['NDF']:.1f} ms")
    print(f"  DC Newton iterations: {np.mean(warm_its):.1f} from the nominal point, {np.mean(cold_its):.1f} from 0 V "
          f"({per[names[-1]]:.1f} ms per cold solve)")


def profile(circuit, variations, samples: int, method: str) -> None:
    from threadpoolctl import threadpool_limits

    from stabkit.analysis.tolerance import _prepare, draw_samples, evaluate_samples

    job = _prepare(circuit, variations, method, None, None)
    values = draw_samples(variations, samples, seed=99)
    evaluate_samples(job, values[:1])  # imports and caches out of the way
    prof = cProfile.Profile()
    with threadpool_limits(limits=1):
        prof.enable()
        evaluate_samples(job, values)
        prof.disable()
    stats = pstats.Stats(prof).stats
    top = sorted(((v[2], file, name) for (file, _, name), v in stats.items()), reverse=True)[:10]
    print(f"\ncProfile, {samples} samples (method={method}): largest own times")
    for own, file, name in top:
        print(f"  {1e3 * own / samples:7.1f} ms/sample  {name} ({Path(file).parent.name}/{Path(file).name})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=40, help="samples per configuration (default 40)")
    parser.add_argument("--method", default="auto", choices=["auto", "poles", "ndf"])
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster runs")
    parser.add_argument("--profile-samples", type=int, default=10, help="samples to profile (0: no profile)")
    args = parser.parse_args()
    if not VENDOR_LIB.is_file():
        print(f"skipped: the vendor model {VENDOR_LIB} is absent (../shared/models is not shipped with stabkit)")
        return 0
    from stabkit.analysis.tolerance import bind_variations, parse_distribution, yield_analysis
    from stabkit.circuit.graph import Circuit

    circuit = Circuit.from_netlist(str(CASE)).with_values({"lext": 3e-9})
    variations = bind_variations(circuit, [(k, parse_distribution(v)) for k, v in VARY.items()])
    print(f"{circuit.summary()}")
    print(f"{len(variations)} varied: " + ", ".join(f"{k}={v}" for k, v in VARY.items()))
    print(f"cores: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}, "
          f"method={args.method}, {args.samples} samples per configuration (each includes pool/cluster start-up)")
    rates, cpu = {}, {}
    print(f"\nload average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("local processes:")
    for workers in (1, 2):
        c0 = own_and_children_cpu()
        res = yield_analysis(circuit, variations, args.samples, seed=1, method=args.method, workers=workers,
                             progress=False)
        cpu[("local", workers)] = (own_and_children_cpu() - c0) / res.samples
        rates[("local", workers)] = rate_line(f"{workers} worker{'s' if workers > 1 else ''} ({res.backend})", res,
                                              cpu[("local", workers)] * res.samples)
    if not args.no_dask:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            print("\nDask: skipped (pip install 'stabkit[dask]')")
        else:
            print("\nDask LocalCluster (processes, 1 thread each; cluster start-up and worker imports not timed):")
            for workers in (1, 2):
                with LocalCluster(n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=None,
                                  host="127.0.0.1") as cluster, Client(cluster, set_as_default=False) as client:
                    # warm-up: the workers import stabkit and receive the circuit (start-up, not timed)
                    yield_analysis(circuit, variations, 2 * workers, seed=2, method=args.method, scheduler=client,
                                   progress=False)
                    c0, w0 = own_and_children_cpu(), worker_cpu(client)
                    res = yield_analysis(circuit, variations, args.samples, seed=1, method=args.method,
                                         scheduler=client, progress=False)
                    cpu[("dask", workers)] = (own_and_children_cpu() - c0 + worker_cpu(client) - w0) / res.samples
                    rates[("dask", workers)] = rate_line(f"{workers} Dask worker{'s' if workers > 1 else ''}", res,
                                                         cpu[("dask", workers)] * res.samples)
    print("\nspeed-up with 2 workers: local processes "
          f"{rates[('local', 2)] / rates[('local', 1)]:.2f}x"
          + (f", Dask {rates[('dask', 2)] / rates[('dask', 1)]:.2f}x" if ("dask", 2) in rates else ""))
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for kind in ("local", "dask"):
        if (kind, 2) in cpu:
            print(f"CPU per sample, 2 workers / 1 worker ({kind}): {cpu[(kind, 2)] / cpu[(kind, 1)]:.2f} "
                  f"(1.00 = no parallel overhead: the speed-up is then the number of free cores)")
    idle = TARGET_SAMPLES * cpu[("local", 2)] / cores
    print(f"projected on an idle machine with {cores} cores (CPU per sample x 10 000 / cores): {idle:.0f} s "
          f"({idle / 60:.1f} min)")
    best = max(rates.values())
    projected = TARGET_SAMPLES / best
    verdict = "met" if projected < TARGET_S else "NOT met"
    print(f"best: {best:.2f} samples/s -> 10 000 samples in {projected:.0f} s ({projected / 60:.1f} min); "
          f"target < {TARGET_S:.0f} s: {verdict}")
    if args.profile_samples:
        step_times(circuit, variations, args.profile_samples)
        profile(circuit, variations, args.profile_samples, args.method)
    return 0


if __name__ == "__main__":
    sys.exit(main())
