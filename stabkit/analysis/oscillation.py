"""Oscillators in steady state: does the circuit oscillate, at which frequency and amplitude, and does it hold?

:func:`oscillation` starts from the small-signal verdict (:func:`stabkit.analysis.verdict.decide`) and then asks
harmonic balance (:mod:`stabkit.nonlinear.hb`) for the periodic steady states of the whole circuit:

* an **unstable** DC point with a complex pair of right-half-plane poles (soft start): the probe amplitude is
  swept up from a small value at the pole's frequency; the zero of the probe admittance is the oscillation;
* a **stable** DC point (hard start): the same sweep from the least-damped complex pole pair, up to large
  amplitudes; a zero there is an oscillation that coexists with the stable DC point (reached by a supply ramp,
  a kick), reported as ``regime = "hard-start"``;
* **bistable** circuits (two or more stable DC points) and **relaxation** oscillators (an unstable point whose
  unstable modes are real, or where harmonic balance does not converge to settled harmonics) are recognised and
  reported as such: harmonic balance is the wrong tool there, no sinusoid is invented.

The answer is *certain* (exit 0) when the circuit oscillates with settled harmonics and a definite stability,
or when it does not oscillate; it is *uncertain* (exit 3, with the reason) when harmonic balance cannot decide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError

__all__ = ["OscillationResult", "oscillation", "REGIMES"]

TWO_PI = 2.0 * math.pi
#: what :attr:`OscillationResult.regime` can say
REGIMES = ("oscillator", "hard-start", "none", "bistable", "relaxation", "linear", "undecided")
#: internal device nodes are not reported
_INTERNAL = (".bi", ".ci", ".ei", ".ai", ".x")


@dataclass
class OscillationResult:
    """The periodic steady state of a circuit (see the module docstring).

    ``amplitude_v`` and ``dc_v`` hold, per node, the peak of the fundamental and the mean value in the
    oscillation (V); ``harmonic_v`` the peaks of harmonics 1..K; ``harmonics`` the number used (settled: the
    answer did not change when it was raised); ``floquet`` the Floquet multipliers other than the phase's
    (stable iff all inside the unit circle); ``kurokawa`` Kurokawa's number at the probe (stable iff > 0)."""

    oscillates: bool | None
    regime: str
    verdict: object  # the small-signal Verdict
    frequency_hz: float | None = None
    amplitude_v: dict[str, float] = field(default_factory=dict)
    dc_v: dict[str, float] = field(default_factory=dict)
    dc_point_v: dict[str, float] = field(default_factory=dict)
    harmonic_v: dict[str, list[float]] = field(default_factory=dict)
    harmonics: int | None = None
    stable_oscillation: bool | None = None
    floquet: list[complex] = field(default_factory=list)
    kurokawa: float | None = None
    probe: str | None = None
    history: list[tuple[int, float, float]] = field(default_factory=list)
    other_solutions: list[dict] = field(default_factory=list)
    sweep: list[tuple[float, float, complex]] = field(default_factory=list)
    time_s: np.ndarray | None = None
    waveforms: dict[str, np.ndarray] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def certain(self) -> bool:
        return not self.reasons

    @property
    def exit_code(self) -> int:
        """0 when the answer is certain (oscillates or not), 3 when harmonic balance cannot decide."""
        return 0 if self.certain else 3

    def to_dict(self) -> dict:
        return {"oscillates": self.oscillates, "regime": self.regime, "frequency_hz": self.frequency_hz,
                "amplitude_v": dict(self.amplitude_v), "dc_v": dict(self.dc_v), "harmonics": self.harmonics,
                "stable_oscillation": self.stable_oscillation,
                "harmonic_v": {k: list(v) for k, v in self.harmonic_v.items()},
                "dc_point_v": dict(self.dc_point_v),
                "floquet_multipliers": [[float(m.real), float(m.imag)] for m in self.floquet],
                "kurokawa": self.kurokawa, "probe": self.probe,
                "harmonics_history": [{"harmonics": k, "frequency_hz": f, "probe_amplitude_v": a}
                                      for k, f, a in self.history],
                "other_solutions": list(self.other_solutions), "small_signal_verdict": self.verdict.verdict,
                "certain": self.certain, "reasons": list(self.reasons), "notes": list(self.notes)}

    def summary(self) -> str:
        if self.oscillates and self.frequency_hz:
            from stabkit.units import format_eng

            held = {True: "stable", False: "UNSTABLE", None: "of undecided stability"}[self.stable_oscillation]
            what = "OSCILLATES" if self.regime == "oscillator" else "HARD-START OSCILLATION"
            return (f"{what} at {format_eng(self.frequency_hz, 'Hz')}, {format_eng(self.amplitude_v[self.probe], 'V')} "
                    f"peak at node {self.probe} ({self.harmonics} harmonics); the oscillation is {held}")
        if self.oscillates:
            return f"OSCILLATES ({self.regime}): {self.reasons[0] if self.reasons else ''}".rstrip(": ")
        if self.oscillates is False:
            return f"DOES NOT OSCILLATE ({self.regime})"
        return f"UNDECIDED: {self.reasons[0] if self.reasons else 'harmonic balance could not decide'}"

    def plot(self, ax=None):
        """Waveforms over one period and the spectrum at the probe node (two axes; ``ax`` a pair or None)."""
        from stabkit.report.oscillation_plots import plot_oscillation

        if self.time_s is None:
            raise ValueError("no periodic steady state to plot (the circuit does not oscillate in harmonic balance)")
        return plot_oscillation(self.time_s, self.waveforms, self.harmonic_v, self.frequency_hz, self.probe, ax=ax)


def _external(name: str) -> bool:
    return not name.endswith(_INTERNAL) and "#" not in name


def _mode_shape(lin: Circuit, pole: complex) -> dict[str, float]:
    """``|v(node)|`` of the natural mode at ``pole`` (rad/s): the null vector of ``M(pole)``."""
    from stabkit.analysis.mna import assemble

    system = assemble(lin, validate=False)
    m = system.M(pole).toarray()
    _, _, vh = np.linalg.svd(m)
    vec = vh[-1].conj()
    return {node: float(abs(vec[k])) for node, k in system.node_index.items()}


def oscillation(circuit: Circuit, params: Mapping[str, float] | None = None, *, harmonics: int | None = None,
                amplitudes: np.ndarray | None = None, max_harmonics: int = 47) -> OscillationResult:
    """Does ``circuit`` oscillate? Frequency, amplitudes, harmonics and stability of its periodic steady state.

    Parameters
    ----------
    circuit : Circuit
        A circuit with nonlinear devices (``D``, ``Q``, ``B``).
    params : mapping, optional
        Overrides (SI) applied before anything is solved.
    harmonics : int, optional
        Use exactly this many harmonics (default: raise from 5 until frequency and amplitude stop changing).
    amplitudes : array, optional
        Probe amplitudes (V) to sweep (default: 60 log-spaced values from 1e-4 to 3 times the largest DC
        voltage or source value).
    max_harmonics : int
        Upper limit when raising the number of harmonics.

    Returns
    -------
    OscillationResult
    """
    from stabkit.analysis.verdict import decide
    from stabkit.nonlinear import hb

    if harmonics is not None and not 1 <= int(harmonics) <= 200:
        raise CircuitError(f"--harmonics {harmonics}: expected an integer from 1 to 200")
    verdict = decide(circuit, params)
    points = [pv.point for pv in verdict.points]
    if points[0].kind == "linear":
        if verdict.verdict == "stable":
            return OscillationResult(False, "linear", verdict, notes=["a stable linear circuit rests at its DC point"])
        return OscillationResult(None, "linear", verdict, reasons=[
            "the circuit is linear: nothing limits the amplitude, so there is no steady oscillation to compute "
            f"(small-signal verdict: {verdict.verdict})"])
    stable_points = [pv for pv in verdict.points if pv.verdict == "stable"]
    if len(points) > 1 and len(stable_points) >= 2:
        return OscillationResult(False, "bistable", verdict, notes=[
            f"{len(points)} DC operating points, {len(stable_points)} of them stable: a bistable (switching) "
            "circuit rests at one of its stable points; harmonic balance is not the tool for switching circuits"])
    chosen = stable_points[0] if len(stable_points) == 1 else verdict.points[0]
    if len(points) > 1 and not stable_points:
        chosen = verdict.points[0]
    point = chosen.point
    dc = point.dc
    problem = dc.problem
    pole_res = chosen.poles
    if pole_res is None:
        return OscillationResult(None, "undecided", verdict, reasons=[
            "harmonic balance needs the exact poles of the linearized circuit (a lumped circuit) for its start"])
    poles_rad = pole_res.poles
    unstable = verdict.verdict != "stable" and chosen.verdict != "stable"
    complex_rhp = [p for p in poles_rad if p.real > 0 and p.imag > 0]
    real_rhp = [p for p in poles_rad if p.real > 0 and p.imag == 0]
    if chosen.verdict == "stable":
        candidates = [p for p in poles_rad if p.imag > 0]
        start = max(candidates, key=lambda p: p.real / abs(p)) if candidates else None
    else:
        start = max(complex_rhp, key=lambda p: p.real) if complex_rhp else None
    result_base = dict(verdict=verdict, dc_point_v={k: v for k, v in dc.voltages.items() if _external(k)})
    if start is None:
        if unstable and real_rhp:
            return OscillationResult(True, "relaxation", reasons=[
                "relaxation oscillation: the DC point is unstable with real right-half-plane poles only "
                f"({', '.join(f'{p.real / TWO_PI:.3g} Hz' for p in real_rhp)}), so the circuit cannot rest but "
                "its motion is not near-sinusoidal; harmonic balance is the wrong tool (use a transient simulation)"],
                **result_base)
        return OscillationResult(False, "none", notes=["stable DC point and no resonant mode to start a search from"],
                                 **result_base)
    shape = _mode_shape(point.circuit, start)
    nodes = [n for n in shape if n in problem.node_index and _external(n)]
    probe_name = max(nodes, key=lambda n: shape[n])
    probe = problem.node_index[probe_name]
    if amplitudes is None:
        scale = max([abs(v) for v in dc.voltages.values()] + [abs(float(x)) for x in problem.b] + [0.1])
        amplitudes = np.geomspace(1e-4, 3.0 * scale, 60)
    sols, sweep = hb.periodic_solutions(problem, dc.y, abs(start.imag), probe, amplitudes=np.asarray(amplitudes),
                                        harmonics=harmonics if harmonics is not None else 5)
    sweep_list = [(a, w / TWO_PI, y) for a, w, y, ok in sweep if ok]
    if not sols:
        if unstable:
            regime = "relaxation" if start.real > 0.5 * abs(start.imag) else "undecided"
            why = ("the unstable mode is strongly damped-growing (Re s > |Im s|/2): likely a relaxation oscillation"
                   if regime == "relaxation" else "no zero of the probe admittance over the amplitude sweep")
            return OscillationResult(True if regime == "relaxation" else None, regime, sweep=sweep_list, reasons=[
                f"harmonic balance found no periodic steady state although the DC point is unstable: {why}"],
                **result_base)
        return OscillationResult(False, "none", sweep=sweep_list, probe=probe_name, notes=[
            "the DC point is stable and the probe admittance has no zero over the amplitude sweep "
            f"({amplitudes[0]:.3g} V to {amplitudes[-1]:.3g} V peak at node {probe_name}): no oscillation, soft or "
            "hard"], **result_base)
    finished = []
    for sol in sols:
        settled_sol, settled, history = hb.settle_harmonics(problem, sol, start=sol.harmonics,
                                                           max_harmonics=max_harmonics, fixed=harmonics)
        exps = hb.floquet_exponents(problem, settled_sol)
        finished.append((settled_sol, settled, history, exps))
    stable_ones = [f for f in finished if _orbit_stable(f) is True]
    best = stable_ones[-1] if stable_ones else finished[-1]
    sol, settled, history, exps = best
    out = _fill(problem, sol, exps, verdict, probe_name)
    out.dc_point_v = result_base["dc_point_v"]
    out.sweep = sweep_list
    out.history = history
    out.regime = "oscillator" if chosen.verdict != "stable" else "hard-start"
    out.stable_oscillation = _orbit_stable(best)
    out.oscillates = True if out.stable_oscillation else (None if out.stable_oscillation is None else False)
    if out.stable_oscillation is False:
        out.notes.append("the only periodic solution found is unstable: it separates the DC point's basin from "
                         "larger motions; no sustained oscillation")
        if unstable:
            out.oscillates = None
            out.reasons.append("the DC point is unstable but the periodic solution found is unstable too")
    ku_ok = sol.kurokawa > 0
    if exps is not None and out.stable_oscillation is not None and ku_ok != out.stable_oscillation:
        out.notes.append(f"Kurokawa's condition at node {probe_name} says {'stable' if ku_ok else 'unstable'}, "
                         "the Floquet multipliers the opposite; the multipliers decide")
    if not settled:
        out.reasons.append(f"the harmonics did not settle: frequency/amplitude still changed at {sol.harmonics} "
                           f"harmonics (history {[(k, round(f, 3)) for k, f, _ in history]})")
    if out.stable_oscillation is None and not out.reasons:
        out.reasons.append("the Floquet multipliers put the orbit on the edge of stability")
    if out.regime == "hard-start" and out.stable_oscillation:
        out.notes.append("the DC point is stable as well: whether the circuit oscillates depends on how it is "
                         "started (a supply ramp or a kick large enough reaches the oscillation)")
    for other in finished:
        if other is best:
            continue
        o_sol = other[0]
        out.other_solutions.append({"frequency_hz": o_sol.frequency_hz, "probe_amplitude_v": o_sol.amplitude,
                                    "stable": _orbit_stable(other), "harmonics": o_sol.harmonics})
    return out


def _orbit_stable(entry) -> bool | None:
    sol, _, _, exps = entry
    if exps is None:
        return sol.kurokawa > 0
    if exps.size == 0:
        return True
    margin = float(np.max(exps.real))
    tol = 1e-6 * sol.omega
    if margin < -tol:
        return True
    if margin > tol:
        return False
    return None


def _fill(problem, sol, exps, verdict, probe_name) -> OscillationResult:
    from stabkit.nonlinear.hb import HarmonicBasis

    phasors = sol.state.phasors()
    names = {k: node for node, k in problem.node_index.items() if _external(node)}
    amplitude = {node: float(abs(phasors[k, 1])) for k, node in names.items()}
    dc = {node: float(phasors[k, 0].real) for k, node in names.items()}
    harm = {node: [float(abs(x)) for x in phasors[k, 1:]] for k, node in names.items()}
    basis = HarmonicBasis(sol.harmonics, 256)
    period = TWO_PI / sol.omega
    samples = sol.state.z @ basis.to_time.T
    waves = {node: samples[k] for k, node in names.items()}
    multipliers = [] if exps is None else [complex(np.exp(x * period)) for x in exps]
    return OscillationResult(True, "oscillator", verdict, frequency_hz=sol.frequency_hz, amplitude_v=amplitude, dc_v=dc,
                             harmonic_v=harm, harmonics=sol.harmonics, floquet=multipliers, kurokawa=sol.kurokawa,
                             probe=probe_name, time_s=basis.theta / sol.omega, waveforms=waves)
