"""Oscillators in steady state: does the circuit oscillate, at which frequency and amplitude, and does it hold?

:func:`oscillation` starts from the small-signal verdict (:func:`stabkit.analysis.verdict.decide`) and then asks
harmonic balance (:mod:`stabkit.nonlinear.hb`) for the periodic steady states of the whole circuit. The answer is
one of these regimes:

==============  ==========================================================================  ============  ====
regime          what it means                                                               oscillates    exit
==============  ==========================================================================  ============  ====
``oscillator``  the DC point is unstable (complex right-half-plane pair): it starts by       true          0
                itself and settles on a stable periodic orbit (frequency, amplitudes, DC
                shift and harmonics at every node)
``hard-start``  the DC point is small-signal stable, yet a stable orbit coexists at large    true          0
                amplitude: a supply ramp or a kick beyond the unstable orbit between them
                starts it (both orbits reported)
``relaxation``  the DC point is unstable but its growth is not a resonance (real             true          0
                right-half-plane poles only, or a low-Q mode with no sinusoidal orbit):
                it cannot rest, so it oscillates; frequency and amplitude are ``null`` —
                harmonic balance is the wrong tool, no sinusoid is invented
``none``        a stable DC point and no periodic orbit over the whole amplitude sweep       false         0
``bistable``    two or more stable DC points: a switch rests at one of them                  false         0
``linear``      a stable linear circuit: it rests                                            false         0
``unbounded``   an unstable *linear* circuit: nothing limits the amplitude, there is no      true (complex  3
                steady state (frequency: the growing mode's)                                 poles)/false
``undecided``   harmonic balance could not decide (no convergence from an unstable DC point,  null          3
                a sweep that stopped short of its range, an orbit on the edge of stability)
==============  ==========================================================================  ============  ====

Exit 0 means the answer is certain and every number given is trustworthy (``null`` where none is computed). In any
regime, numbers that harmonic balance could not make trustworthy — harmonics that did not settle, or with
``harmonics=K`` a harmonic ``K`` not below 1e-4 of the fundamental — make the exit 3; the reason always comes along.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError

__all__ = ["OscillationResult", "oscillation", "REGIMES", "EXIT_CODES"]

TWO_PI = 2.0 * math.pi
#: what :attr:`OscillationResult.regime` can say, and the exit status of each
EXIT_CODES = {"oscillator": 0, "hard-start": 0, "relaxation": 0, "none": 0, "bistable": 0, "linear": 0,
              "unbounded": 3, "undecided": 3}
REGIMES = tuple(EXIT_CODES)
#: internal device nodes are not reported
_INTERNAL = (".bi", ".ci", ".ei", ".ai", ".x")


@dataclass
class OscillationResult:
    """The periodic steady state of a circuit (see the module docstring).

    ``amplitude_v`` and ``dc_v`` hold, per node, the peak of the fundamental and the mean value in the oscillation
    (V; the DC shift is ``dc_v − dc_point_v``); ``harmonic_v`` the peaks of harmonics 1..K; ``harmonics`` the number
    used (settled: the answer did not change when it was raised); ``floquet`` the Floquet multipliers other than the
    phase's (stable iff all inside the unit circle); ``kurokawa`` Kurokawa's number at the probe (stable iff > 0);
    ``other_orbits`` further periodic solutions (for a hard start: the unstable orbit, the threshold a kick must
    cross); ``sweep`` the probe's ``(A, f, G)``: the whole circuit's describing function along ``Im Y = 0``."""

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
    other_orbits: list[dict] = field(default_factory=list)
    sweep: list[tuple[float, float, float]] = field(default_factory=list)
    time_s: np.ndarray | None = None
    waveforms: dict[str, np.ndarray] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the solved orbit and its equations (library use: currents of branches, one-port checks)
    solution: object | None = field(default=None, repr=False)

    @property
    def certain(self) -> bool:
        return not self.reasons

    @property
    def exit_code(self) -> int:
        """0 when the answer is certain, 3 when it is not (the reason is in :attr:`reasons`)."""
        return 3 if self.reasons else EXIT_CODES[self.regime]

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
                "other_orbits": list(self.other_orbits), "small_signal_verdict": self.verdict.verdict,
                "certain": self.certain, "reasons": list(self.reasons), "notes": list(self.notes)}

    def summary(self) -> str:
        from stabkit.units import format_eng

        if self.frequency_hz and self.amplitude_v:
            held = {True: "stable", False: "UNSTABLE", None: "of undecided stability"}[self.stable_oscillation]
            what = "HARD-START OSCILLATION" if self.regime == "hard-start" else "OSCILLATES"
            return (f"{what} at {format_eng(self.frequency_hz, 'Hz')}, {format_eng(self.amplitude_v[self.probe], 'V')} "
                    f"peak at node {self.probe} ({self.harmonics} harmonics); the oscillation is {held}")
        if self.regime == "unbounded" and self.frequency_hz:
            return (f"OSCILLATES WITHOUT BOUND at {format_eng(self.frequency_hz, 'Hz')}: a linear circuit has no "
                    "steady state")
        if self.oscillates:
            return f"OSCILLATES ({self.regime}): frequency and amplitude not computed"
        if self.oscillates is False:
            return f"DOES NOT OSCILLATE ({self.regime})"
        return f"UNDECIDED ({self.regime})"

    def plot(self, ax=None):
        """Waveforms over one period and the spectrum at the probe node (two axes; ``ax`` a pair or None)."""
        from stabkit.report.plots import plot_oscillation

        if self.time_s is None:
            raise ValueError(f"no periodic steady state to plot (regime {self.regime!r})")
        return plot_oscillation(self.time_s, self.waveforms, self.harmonic_v, self.frequency_hz, self.probe, ax=ax)

    def plot_sweep(self, ax=None):
        """The whole circuit's describing function ``G(A)`` along the probe sweep, the orbits marked."""
        from stabkit.report.plots import plot_probe_sweep

        if not self.sweep:
            raise ValueError(f"no probe sweep to plot (regime {self.regime!r})")
        orbits = [(o["probe_amplitude_v"], o["stable"]) for o in self.other_orbits]
        if self.amplitude_v:
            orbits.append((self.amplitude_v[self.probe], self.stable_oscillation))
        return plot_probe_sweep(self.sweep, orbits, self.probe, ax=ax)


def _external(name: str) -> bool:
    return not name.endswith(_INTERNAL) and "#" not in name


def _mode_shape(lin: Circuit, pole: complex) -> dict[str, float]:
    """``|v(node)|`` of the natural mode at ``pole`` (rad/s): the null vector of ``M(pole)``."""
    from stabkit.analysis.mna import assemble

    system = assemble(lin, validate=False)
    _, _, vh = np.linalg.svd(system.M(pole).toarray())
    vec = vh[-1].conj()
    return {node: float(abs(vec[k])) for node, k in system.node_index.items()}


def oscillation(circuit: Circuit, params: Mapping[str, float] | None = None, *, harmonics: int | None = None,
                max_harmonics: int = 95, amplitudes: tuple[float, float] | None = None) -> OscillationResult:
    """Does ``circuit`` oscillate? Frequency, amplitudes, harmonics and stability of its periodic steady state.

    Parameters
    ----------
    circuit : Circuit
    params : mapping, optional
        Overrides (SI) applied before anything is solved.
    harmonics : int, optional
        Use exactly this many harmonics (default: raised along 5, 11, 23, 47, 95 until frequency and amplitude
        stop changing by 1e-5 and 1e-4 relative). With a fixed count the answer is uncertain unless the highest
        harmonic is below 1e-4 of the fundamental.
    max_harmonics : int
        Upper limit when raising the number of harmonics.
    amplitudes : (float, float), optional
        Probe amplitude range (V peak) searched for periodic orbits (default: 1e-4 V up to three times the largest
        DC node voltage or source value).

    Returns
    -------
    OscillationResult
        Its :attr:`~OscillationResult.regime` and exit code follow the table in the module docstring.
    """
    from stabkit.analysis.verdict import decide

    if harmonics is not None and not 1 <= int(harmonics) <= 200:
        raise CircuitError(f"harmonics={harmonics}: expected an integer from 1 to 200")
    verdict = decide(circuit, params)
    if verdict.points[0].point.kind == "linear":
        return _linear(verdict)
    stable = [pv for pv in verdict.points if pv.verdict == "stable"]
    if len(stable) >= 2:
        return OscillationResult(False, "bistable", verdict, notes=[
            f"{len(verdict.points)} DC operating points, {len(stable)} of them stable: a bistable (switching) circuit "
            "rests at one of its stable points; oscillations around them are not searched"])
    chosen = stable[0] if stable else max(verdict.points, key=lambda pv: _rightmost(pv))
    dc = chosen.point.dc
    base = dict(verdict=verdict, dc_point_v={k: v for k, v in dc.voltages.items() if _external(k)})
    if chosen.poles is None:
        return OscillationResult(None, "undecided", reasons=[
            "harmonic balance starts from the exact poles of the linearized circuit, which a circuit with lines or "
            "S-parameter blocks does not have"], **base)
    poles = chosen.poles.poles
    soft = chosen.verdict != "stable"
    complex_poles = [p for p in poles if p.imag > 0 and (p.real > 0 or not soft)]
    if not complex_poles:
        if soft:
            real = ", ".join(f"{p.real / TWO_PI:.3g} Hz" for p in poles if p.real > 0)
            return OscillationResult(True, "relaxation", notes=[
                f"relaxation oscillation: the DC point is unstable with real right-half-plane poles only ({real}), so "
                "the circuit cannot rest, but its motion is not near-sinusoidal; harmonic balance is the wrong tool "
                "for its frequency and amplitude (use a transient simulation)"], **base)
        return OscillationResult(False, "none", notes=["stable DC point and no resonant mode to start a search from"],
                                 **base)
    start = max(complex_poles, key=lambda p: p.real if soft else p.real / abs(p))
    out = _search(dc, chosen.point.circuit, start, soft, harmonics, max_harmonics, amplitudes)
    for key, value in base.items():
        setattr(out, key, value)
    if chosen.verdict == "uncertain":
        out.reasons.append("the small-signal verdict at the DC point is uncertain: " + "; ".join(chosen.reasons))
    return out


def _rightmost(pv) -> float:
    return float(np.max(pv.poles.poles.real)) if pv.poles is not None and pv.poles.poles.size else -math.inf


def _linear(verdict) -> OscillationResult:
    if verdict.verdict == "stable":
        return OscillationResult(False, "linear", verdict, notes=["a stable linear circuit rests at its DC point"])
    pr = verdict.points[0].poles
    growing = [p for p in (pr.poles if pr is not None else []) if p.real > 0 and p.imag > 0]
    if verdict.verdict == "unstable":
        if growing:
            f = float(max(growing, key=lambda p: p.real).imag / TWO_PI)
            return OscillationResult(True, "unbounded", verdict, frequency_hz=f, reasons=[
                f"the circuit is linear and unstable: it oscillates at {f:.6g} Hz with an amplitude that grows without "
                "bound (nothing in the model limits it), so there is no steady state; model the active devices "
                "(D, Q, B elements) to get one"])
        return OscillationResult(False, "unbounded", verdict, reasons=[
            "the circuit is linear and unstable with real natural frequencies only: it runs away without oscillating "
            "and nothing in the model limits it"])
    return OscillationResult(None, "undecided", verdict, reasons=[
        "the circuit is linear and its small-signal verdict is uncertain: " + verdict.summary()])


def _search(dc, lin: Circuit, start: complex, soft: bool, harmonics, max_harmonics, amplitudes) -> OscillationResult:
    from stabkit.nonlinear import hb

    problem = dc.problem
    shape = {n: a for n, a in _mode_shape(lin, start).items() if n in problem.node_index and _external(n)}
    top = {n: a for n, a in shape.items() if "." not in n and a >= 1e-3 * max(shape.values())}
    probe_name = max(top or shape, key=lambda n: shape[n])  # a netlist's own node where the mode shows
    probe = problem.node_index[probe_name]
    if amplitudes is None:
        scale = max([abs(v) for v in dc.voltages.values()] + [abs(float(x)) for x in problem.b] + [0.1])
        amplitudes = (1e-4, 3.0 * scale)
    engine = hb.HarmonicBalance(problem, min(harmonics or 5, 5))
    sweep = hb.probe_sweep(engine, dc.y, abs(start.imag), probe, *amplitudes)
    sweep_list = [(p.amplitude, p.omega / TWO_PI, p.conductance) for p in sweep if p.converged]
    found = hb.find_oscillations(engine, sweep, probe)
    if not found:
        if soft:
            if start.real > 0.5 * abs(start.imag):
                return OscillationResult(True, "relaxation", None, probe=probe_name, sweep=sweep_list, notes=[
                    "relaxation oscillation: the DC point is unstable with a low-Q growing mode "
                    f"(s/2π = {start.real / TWO_PI:.3g} ± j{abs(start.imag) / TWO_PI:.3g} Hz) and harmonic balance finds "
                    "no sinusoidal orbit; the circuit cannot rest, so it oscillates, but frequency and amplitude need a "
                    "transient simulation"])
            return OscillationResult(None, "undecided", None, probe=probe_name, sweep=sweep_list, reasons=[
                "the DC point is unstable but harmonic balance found no periodic steady state over the amplitude "
                f"sweep ({amplitudes[0]:.3g} V to {sweep[-1].amplitude:.3g} V at node {probe_name})"])
        reached = sweep_list[-1][0] if sweep_list else amplitudes[0]
        if not sweep[-1].converged:
            return OscillationResult(None, "undecided", None, probe=probe_name, sweep=sweep_list, reasons=[
                f"the DC point is stable and the circuit's describing function at node {probe_name} has no zero from "
                f"{amplitudes[0]:.3g} V to {reached:.3g} V peak, but harmonic balance did not converge beyond (the "
                f"search was to reach {amplitudes[1]:.3g} V): an oscillation that needs a harder start is not excluded"])
        return OscillationResult(False, "none", None, probe=probe_name, sweep=sweep_list, notes=[
            "the DC point is stable and the circuit's describing function at node "
            f"{probe_name} has no zero from {amplitudes[0]:.3g} V to {reached:.3g} V peak: no oscillation, soft or "
            "hard (the search follows the least-damped natural mode)"])
    orbits = []
    for sol in found:
        sol, settled, history, eq = hb.settle_harmonics(problem, sol, fixed=harmonics, max_harmonics=max_harmonics)
        d = eq.admittance_derivatives(sol.z, sol.omega, probe)
        sol.kurokawa = float(d[0, 0] * d[1, 1] - d[1, 0] * d[0, 1])
        sol.floquet, k_floquet = hb.floquet_exponents(problem, sol)
        if k_floquet is not None and k_floquet != sol.harmonics:
            sol.notes.append(f"Floquet multipliers from the orbit at {k_floquet} harmonics")
        orbits.append((sol, settled, history, _orbit_stable(sol)))
    held = [o for o in orbits if o[3] is True]
    sol, settled, history, stable_orbit = max(held or orbits, key=lambda o: o[0].amplitude)
    out = _fill(problem, sol)
    out.notes.extend(sol.notes)
    out.probe, out.sweep, out.history, out.stable_oscillation = probe_name, sweep_list, history, stable_orbit
    out.regime = "oscillator" if soft else "hard-start"
    out.oscillates = True if stable_orbit else (None if soft or stable_orbit is None else False)
    for other in orbits:
        if other[0] is not sol:
            o = other[0]
            out.other_orbits.append({"frequency_hz": float(o.frequency_hz), "probe_amplitude_v": float(o.amplitude),
                                     "stable": other[3], "harmonics": o.harmonics})
    if not settled:
        out.reasons.append(f"the harmonics did not settle: frequency/amplitude still changed at {sol.harmonics} "
                           f"harmonics (history {[(k, round(f, 3)) for k, f, _ in history]})" if harmonics is None else
                           f"harmonic {harmonics} is not below 1e-4 of the fundamental: raise --harmonics or leave it "
                           "out to have it chosen")
    if stable_orbit is None:
        out.reasons.append("the Floquet multipliers put the orbit on the edge of stability")
    elif not stable_orbit:
        out.notes.append("the only periodic orbit found is unstable: it separates the DC point's basin from larger "
                         "motions; no sustained oscillation")
        if soft:
            out.reasons.append("the DC point is unstable but the periodic orbit found is unstable too")
    if sol.floquet is not None and stable_orbit is not None and (sol.kurokawa > 0) != stable_orbit:
        out.notes.append(f"Kurokawa's condition at node {probe_name} says {'stable' if sol.kurokawa > 0 else 'unstable'}, "
                         "the Floquet multipliers the opposite; the multipliers decide")
    if out.regime == "hard-start" and stable_orbit:
        kick = [o for o in out.other_orbits if o["stable"] is False]
        threshold = (f"; the unstable orbit at {kick[0]['probe_amplitude_v']:.3g} V peak at node {probe_name} is the "
                     "threshold a start must cross") if kick else ""
        out.notes.append("the DC point is small-signal stable, yet a stable oscillation coexists: the circuit "
                         "oscillates only after a hard start (a supply ramp, a kick)" + threshold)
    return out


def _orbit_stable(sol) -> bool | None:
    if sol.floquet is None:
        return sol.kurokawa > 0
    if sol.floquet.size == 0:
        return True
    margin = float(np.max(sol.floquet.real))
    tol = 1e-6 * sol.omega
    return True if margin < -tol else (False if margin > tol else None)


def _fill(problem, sol) -> OscillationResult:
    from stabkit.nonlinear.hb import HarmonicBasis

    phasors = sol.phasors()
    names = {k: node for node, k in problem.node_index.items() if _external(node)}
    basis = HarmonicBasis(sol.harmonics, 256)
    samples = sol.z @ basis.to_time.T
    period = TWO_PI / sol.omega
    multipliers = [] if sol.floquet is None else sorted((complex(np.exp(x * period)) for x in sol.floquet), key=abs,
                                                        reverse=True)
    return OscillationResult(
        True, "oscillator", None, frequency_hz=float(sol.frequency_hz),
        amplitude_v={node: float(abs(phasors[k, 1])) for k, node in names.items()},
        dc_v={node: float(phasors[k, 0].real) for k, node in names.items()},
        harmonic_v={node: [float(abs(x)) for x in phasors[k, 1:]] for k, node in names.items()},
        harmonics=sol.harmonics, floquet=multipliers, kurokawa=sol.kurokawa, time_s=basis.theta / sol.omega,
        waveforms={node: samples[k] for k, node in names.items()}, solution=sol)
