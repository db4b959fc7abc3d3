"""Negative-resistance circuits: regions of operation, load-line pole locations, one-port design relations.

Regions (a circuit with one NDR device, classified from *all* its operating points and their poles):

============  ==================================================================================
amplifier     one operating point, in the NDR region, stable
stable        one operating point on a positive-resistance branch, stable
oscillator    one operating point, unstable (astable: relaxation or sinusoidal oscillator)
bistable      three points, the outer two stable, the middle one unstable (flip-flop, memory)
multistable   more than three points, at least two of them stable (several NDR regions)
marginal      the load line touches the curve (tangent) or a pole sits on the jω axis
other         anything else (reported with its counts)
============  ==================================================================================

One-port relations (``r`` below is the *signed* differential resistance of the device, negative in NDR):

* voltage divider amplifier: source ``R`` in series, output across the device: ``Gv = r/(r + R)``,
  which for ``r = −|r|`` is the textbook ``|r|/(|r| − R)``; the N-type circuit is stable iff ``R < |r|``.
* reflection amplifier: ``G_P = |Γ|²``, ``Γ = (Z_N − Z_1)/(Z_N + Z_1)``; stable for ``R_1 < |r|`` (N-type)
  resp. ``R_1 > |r|`` (S-type).
* oscillator (device ``Z_N = R_N + jX_N``, resonator/load ``Z_L = R_L + jX_L``): at a frequency with
  ``X_N + X_L = 0`` start-up needs ``R_N + R_L < 0`` (``R_N ≤ −R_L`` with equality in steady state), the
  same as ``|Γ_N·Γ_L| ≥ 1`` for any real reference impedance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from stabkit.analysis.mna import assemble
from stabkit.analysis.ports import impedance
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError
from stabkit.nonlinear.curves import Device
from stabkit.nonlinear.dc import LoadLine, all_roots
from stabkit.nonlinear.linearize import SmallSignal, two_terminal_small_signal

TWO_PI = 2.0 * np.pi

REGIONS = ("amplifier", "stable", "oscillator", "bistable", "multistable", "marginal", "other")

__all__ = ["REGIONS", "OperatingPoint", "OperatingPoints", "operating_points", "classify_points", "RegionSweep",
           "sweep_regions", "RegionMap", "region_map", "PolePaths", "pole_paths", "amplifier_voltage_gain",
           "reflection_coefficient", "reflection_gain", "reflection_gain_matched", "reflection_amplifier_stable",
           "OscillationCandidate", "OscillatorConditions", "oscillator_conditions", "ac_load_resistance",
           "device_impedance", "network_impedance", "OnePortOscillator", "one_port_oscillator", "PowerSweep", "power_sweep"]


# ---------------------------------------------------------------------------------------------------------
# operating points of an NDR circuit, each with the poles of the circuit linearized there


@dataclass
class OperatingPoint:
    """One DC operating point: node voltages, the (first) NDR device's bias and small-signal model, and the poles of
    the circuit linearized there. ``stable`` iff every pole has ``Re < 0`` (a tangent point is marginal)."""

    voltages: dict[str, float]
    device: str
    v: float
    i: float
    small_signal: SmallSignal
    poles: object  # PoleResult
    tangent: bool = False
    #: further NDR devices (multi-device circuits): name -> ((v, i), small-signal model)
    others: dict = field(default_factory=dict)

    @property
    def stable(self) -> bool:
        return self.poles.stable and not self.tangent

    @property
    def in_ndr(self) -> bool:
        return self.small_signal.negative

    def to_dict(self) -> dict:
        out = {"voltages": dict(self.voltages), "stable": bool(self.stable),
               "poles": [[float(p.real), float(p.imag)] for p in self.poles.poles_hz],
               "device": {"name": self.device, "v": self.v, "i": self.i, "ndr": bool(self.in_ndr),
                          "tangent": bool(self.tangent), **self.small_signal.to_dict()}}
        if self.others:
            out["other_devices"] = [{"name": n, "v": b[0], "i": b[1], **m.to_dict()} for n, (b, m) in self.others.items()]
        return out


@dataclass
class OperatingPoints:
    """All DC operating points of a circuit with NDR devices (sorted along the first device's curve)."""

    points: list[OperatingPoint]
    device_name: str
    device: Device
    line: LoadLine | None
    params: dict[str, float] = field(default_factory=dict)
    title: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def stable_count(self) -> int:
        return sum(p.stable for p in self.points)

    def to_dict(self) -> dict:
        return {"points": [p.to_dict() for p in self.points], "device": self.device_name, "type": self.device.control,
                "load_line": self.line.to_dict() if self.line is not None else None, "warnings": list(self.warnings)}

    def plot(self, ax=None, ac_resistance: float | None = None):
        """I–V curve, DC load line (and an AC load line of slope ``−1/ac_resistance`` through each point when
        given) and the operating points (green stable, red unstable, orange marginal)."""
        from stabkit.report.negres_plots import plot_load_lines

        lo, hi = self.device.plot_range()
        xs = [p.v if self.device.control == "N" else p.i for p in self.points]
        lo, hi = min([lo, *xs]), max([hi, *xs])
        cv, ci = self.device.curve(np.linspace(lo, hi, 801))
        a, b, c = (self.line.a, self.line.b, self.line.c) if self.line is not None else (None, None, None)
        marks = [(p.v, p.i, "marginal" if p.tangent else ("stable" if p.stable else "unstable")) for p in self.points]
        return plot_load_lines(cv, ci, a, b, c, marks, ac_resistance=ac_resistance, title=self.title, ax=ax)


def operating_points(circuit: Circuit, params: Mapping[str, float] | None = None) -> OperatingPoints:
    """Every DC operating point of a circuit with NDR ``D`` devices (:func:`stabkit.analysis.points.linear_points`:
    the one DC solver and linearizer), each with the poles of the circuit linearized there."""
    from stabkit.analysis.points import linear_points
    from stabkit.analysis.poles import poles
    from stabkit.nonlinear.dc import load_line
    points = linear_points(circuit, params)
    if points[0].kind != "ndr":
        raise CircuitError("operating points: the circuit has no nonlinear D element with an NDR model "
                           "(use stabkit poles, or stabkit oppoints for transistor circuits)")
    problem = points[0].dc.problem
    ndr = [problem.devices[k] for k in problem.ndr_devices]
    out = []
    for lp in points:
        models = {d.name: (lp.dc.ndr[d.name], two_terminal_small_signal(d, lp.dc.controls(problem.devices.index(d))))
                  for d in ndr}
        (v0, i0), m0 = models.pop(ndr[0].name)
        out.append(OperatingPoint(voltages=lp.dc.voltages, device=ndr[0].name, v=v0, i=i0, small_signal=m0,
                                  poles=poles(lp.circuit), tangent=lp.tangent, others=models))
    line = load_line(problem)[0] if len(problem.devices) == 1 else None
    notes = list(dict.fromkeys(n for lp in points for n in lp.dc.notes))
    return OperatingPoints(points=out, device_name=ndr[0].name, device=ndr[0].curve, line=line,
                           params=dict(problem.params), title=circuit.title, warnings=notes)


# ---------------------------------------------------------------------------------------------------------
# regions


def classify_points(result: OperatingPoints) -> str:
    """Region of operation from the operating points and their stability (see the module table)."""
    pts = result.points
    if any(p.tangent or p.poles.marginal.size for p in pts):
        return "marginal"
    stable = [p.stable for p in pts]
    if len(pts) == 1:
        if not stable[0]:
            return "oscillator"
        return "amplifier" if pts[0].in_ndr else "stable"
    if len(pts) == 3 and stable == [True, False, True]:
        return "bistable"
    if len(pts) > 3 and sum(stable) >= 2:
        return "multistable"
    return "other"


@dataclass
class RegionSweep:
    """Region of operation versus one swept parameter (bias or load)."""

    param: str
    values: np.ndarray
    regions: list[str]
    points: list[list[tuple[float, float, bool]]]  # per value: (v, i, stable) of every operating point
    title: str = ""

    def intervals(self, region: str) -> list[tuple[float, float]]:
        """Runs of consecutive swept values classified as ``region`` (first and last value of each run)."""
        out, start = [], None
        for k, r in enumerate(self.regions):
            if r == region and start is None:
                start = k
            if start is not None and (r != region or k == len(self.regions) - 1):
                end = k if r == region else k - 1
                out.append((float(self.values[start]), float(self.values[end])))
                start = None
        return out

    def to_dict(self) -> dict:
        return {"param": self.param, "values": [float(v) for v in self.values], "regions": list(self.regions),
                "points": [[{"v": v, "i": i, "stable": s} for v, i, s in row] for row in self.points]}

    def plot(self, ax=None):
        from stabkit.report.plots import plot_region_sweep

        return plot_region_sweep(self.values, self.regions, self.points, self.param, title=self.title, ax=ax)


def sweep_regions(circuit: Circuit, name: str, values: Sequence[float], params: Mapping[str, float] | None = None) -> RegionSweep:
    """Classify the circuit for each value of parameter (or element) ``name``."""
    values = np.asarray(values, dtype=float)
    regions, points = [], []
    for value in values:
        res = _points_at(circuit, name, value, params)
        regions.append(classify_points(res))
        points.append([(p.v, p.i, p.stable) for p in res.points])
    return RegionSweep(param=name, values=values, regions=regions, points=points, title=circuit.title)


def _points_at(circuit: Circuit, name: str, value: float, params: Mapping[str, float] | None) -> OperatingPoints:
    if name.lower() in circuit.params:
        overrides = dict(params or {})
        overrides[name.lower()] = float(value)
        return operating_points(circuit, overrides)
    return operating_points(circuit.with_values({name: value}), params)


@dataclass
class RegionMap:
    """Region of operation over a grid of two swept parameters (``regions[i][j]`` at ``x[j]``, ``y[i]``)."""

    x_param: str
    x: np.ndarray
    y_param: str
    y: np.ndarray
    regions: list[list[str]]
    title: str = ""

    def to_dict(self) -> dict:
        return {"x_param": self.x_param, "x": [float(v) for v in self.x], "y_param": self.y_param,
                "y": [float(v) for v in self.y], "regions": [list(r) for r in self.regions]}

    def plot(self, ax=None):
        from stabkit.report.plots import plot_region_map

        return plot_region_map(self.x, self.y, self.regions, self.x_param, self.y_param, title=self.title, ax=ax)


def region_map(circuit: Circuit, x_name: str, x_values: Sequence[float], y_name: str, y_values: Sequence[float],
               params: Mapping[str, float] | None = None) -> RegionMap:
    """Classify the circuit on the grid ``x_values × y_values`` of two parameters (e.g. bias × load R)."""
    x_values = np.asarray(x_values, dtype=float)
    y_values = np.asarray(y_values, dtype=float)
    rows = []
    for y_value in y_values:
        base = dict(params or {})
        if y_name.lower() in circuit.params:
            base[y_name.lower()] = float(y_value)
            circ = circuit
        else:
            circ = circuit.with_values({y_name: y_value})
        rows.append([classify_points(_points_at(circ, x_name, x_value, base)) for x_value in x_values])
    return RegionMap(x_name, x_values, y_name, y_values, rows, title=circuit.title)


@dataclass
class PolePaths:
    """Load-line pole locations: for each swept value, every operating point with its poles (Hz)."""

    param: str
    values: np.ndarray
    rows: list[list[dict]]  # per value: [{"v", "i", "stable", "poles_hz": ndarray}, ...]
    title: str = ""

    def to_dict(self) -> dict:
        return {"param": self.param, "values": [float(v) for v in self.values],
                "points": [[{"v": p["v"], "i": p["i"], "stable": p["stable"],
                             "poles": [[float(z.real), float(z.imag)] for z in p["poles_hz"]]} for p in row]
                           for row in self.rows]}

    def plot(self, ax=None):
        from stabkit.report.plots import plot_pole_paths

        return plot_pole_paths(self.values, self.rows, self.param, title=self.title, ax=ax)


def pole_paths(circuit: Circuit, name: str, values: Sequence[float], params: Mapping[str, float] | None = None) -> PolePaths:
    """Poles of every operating point as ``name`` (a load R, L, C or the bias) sweeps ``values``."""
    values = np.asarray(values, dtype=float)
    rows = []
    for value in values:
        res = _points_at(circuit, name, value, params)
        rows.append([{"v": p.v, "i": p.i, "stable": p.stable, "poles_hz": p.poles.poles_hz} for p in res.points])
    return PolePaths(param=name, values=values, rows=rows, title=circuit.title)


# ---------------------------------------------------------------------------------------------------------
# one-port relations


def amplifier_voltage_gain(r_device: float, r_source: float) -> float:
    """Voltage gain of the divider *source R → device*, output across the device: ``r/(r + R)`` with the signed
    differential resistance ``r`` (= ``|r|/(|r| − R)`` in the NDR region)."""
    return r_device / (r_device + r_source)


def reflection_coefficient(z_device, z_ref):
    """``Γ = (Z_N − Z_1)/(Z_N + Z_1)`` (arrays broadcast)."""
    z_device = np.asarray(z_device, dtype=complex)
    return (z_device - z_ref) / (z_device + z_ref)


def reflection_gain(z_device, z_ref):
    """Reflection-amplifier power gain ``|Γ|²``."""
    return np.abs(reflection_coefficient(z_device, z_ref)) ** 2


def reflection_gain_matched(r: float, r1: float, x_device: float) -> float:
    """``|Γ|²`` when the source reactance cancels the device's (``Z_1 = R_1 − jX_N``, ``Z_N = −r + jX_N``):
    ``((r + R_1)² + 4X_N²)/(r − R_1)²`` with ``r = |r|``."""
    return ((r + r1) ** 2 + 4.0 * x_device ** 2) / (r - r1) ** 2


def reflection_amplifier_stable(control: str, r: float, r1: float) -> bool:
    """Stability of the device terminated by a resistive source ``R_1``: N-type needs ``R_1 < |r|``
    (short-circuit stable), S-type ``R_1 > |r|`` (open-circuit stable)."""
    if control == "N":
        return r1 < abs(r)
    if control == "S":
        return r1 > abs(r)
    raise ValueError(f"control must be 'N' or 'S', got {control!r}")


@dataclass
class OscillationCandidate:
    """A frequency where ``X_N + X_L = 0`` and the conditions evaluated there."""

    freq_hz: float
    r_device: float
    r_load: float
    x_device: float
    gamma_product: float  # |Γ_N Γ_L|

    @property
    def starts(self) -> bool:
        """Start-up condition ``R_N < −R_L``."""
        return self.r_device + self.r_load < 0

    @property
    def margin(self) -> float:
        """``−(R_N + R_L)`` (Ω): positive when oscillation builds up."""
        return -(self.r_device + self.r_load)

    def to_dict(self) -> dict:
        return {"freq_hz": self.freq_hz, "r_device": self.r_device, "r_load": self.r_load,
                "x_device": self.x_device, "gamma_product": self.gamma_product, "starts": self.starts}


@dataclass
class OscillatorConditions:
    """One-port oscillator check: every reactance-balance frequency in the searched band."""

    candidates: list[OscillationCandidate]
    z0: float
    freq_hz: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    z_device: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, complex))
    z_load: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, complex))

    @property
    def starts(self) -> bool:
        return any(c.starts for c in self.candidates)

    def to_dict(self) -> dict:
        return {"z0": self.z0, "starts": self.starts, "candidates": [c.to_dict() for c in self.candidates]}

    def plot(self, ax=None):
        from stabkit.report.plots import plot_oscillator_conditions

        return plot_oscillator_conditions(self.freq_hz, self.z_device, self.z_load,
                                          [c.freq_hz for c in self.candidates], ax=ax)


def oscillator_conditions(z_device: Callable[[np.ndarray], np.ndarray], z_load: Callable[[np.ndarray], np.ndarray],
                          f_lo: float, f_hi: float, n: int = 1001, z0: float = 50.0) -> OscillatorConditions:
    """Find every ``f`` in ``[f_lo, f_hi]`` with ``X_N(f) + X_L(f) = 0`` and evaluate start-up there.

    ``z_device``/``z_load`` map frequencies (Hz, array) to complex impedances. Roots are searched in
    ``log f`` with :func:`stabkit.nonlinear.dc.all_roots` (sign changes and tangencies); ``X_N + X_L``
    passing through a pole (an infinite jump) is not a balance and is discarded."""
    def total_x(logf):
        f = np.exp(logf)
        return np.imag(z_device(f) + z_load(f))

    roots = all_roots(total_x, np.log(f_lo), np.log(f_hi), n=n)
    cands = []
    for logf, _ in roots:
        f = float(np.exp(logf))
        zn = complex(z_device(np.array([f]))[0])
        zl = complex(z_load(np.array([f]))[0])
        scale = abs(zn) + abs(zl)
        if not np.isfinite(scale) or abs((zn + zl).imag) > 1e-6 * scale:
            continue  # a jump through infinity, not a balance
        g = abs(reflection_coefficient(zn, z0) * reflection_coefficient(zl, z0))
        cands.append(OscillationCandidate(f, zn.real, zl.real, zn.imag, float(g)))
    fgrid = np.geomspace(f_lo, f_hi, 201)
    return OscillatorConditions(candidates=cands, z0=z0, freq_hz=fgrid, z_device=z_device(fgrid), z_load=z_load(fgrid))


def ac_load_resistance(circuit: Circuit, device_name: str, freq_hz: float, params: Mapping[str, float] | None = None
                       ) -> float:
    """``Re Z_L(f)``: the resistance the rest of the circuit presents to the device at ``freq_hz`` — the
    slope of the AC load line (``−1/R_ac``) through each operating point. At low frequency it is the DC
    load-line resistance unless capacitors or inductors change the signal path (bypass, coupling)."""
    return float(network_impedance(circuit, device_name, params)(np.array([freq_hz]))[0].real)


def device_impedance(model: SmallSignal) -> Callable[[np.ndarray], np.ndarray]:
    """``f (Hz) -> Z_N(j2πf)`` of a linearized device."""
    def z(f):
        return model.impedance(1j * TWO_PI * np.asarray(f, dtype=float))

    return z


def network_impedance(circuit: Circuit, device_name: str, params: Mapping[str, float] | None = None
                      ) -> Callable[[np.ndarray], np.ndarray]:
    """``f (Hz) -> Z_L``: the impedance the rest of the circuit presents to the device's terminals
    (independent sources off), computed by MNA on the circuit without the device."""
    element = circuit.element(device_name)
    network = circuit.without({device_name})
    system = assemble(network, params, validate=False)
    anode, cathode = element.nodes
    inc = system.incidence(anode, cathode)
    if not system.is_lumped:
        def z_distributed(f):
            return impedance(system, np.atleast_1d(np.asarray(f, dtype=float)), anode, cathode)

        return z_distributed
    G = system.G.toarray()
    C = system.C.toarray()

    def z_lumped(f):
        s = 1j * TWO_PI * np.atleast_1d(np.asarray(f, dtype=float))
        m = G[None, :, :] + s[:, None, None] * C[None, :, :]
        try:
            x = np.linalg.solve(m, np.broadcast_to(inc.astype(complex), (s.size, inc.size))[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a pole of the network exactly on a grid frequency: solve one by one
            return impedance(system, np.abs(s) / TWO_PI, anode, cathode)
        return x @ inc

    return z_lumped


# ---------------------------------------------------------------------------------------------------------
# the one-port view of an oscillator in steady state: Z_N(A, f) against Z_L(f)


@dataclass
class OnePortOscillator:
    """A one-device oscillator seen as the designer draws it: the device's describing function
    ``Z_N(A, f) = 1/(G_N(A) + j2πf·C_N(A))`` (``A`` the peak of the sinusoid across it) against the load
    ``Z_L(f)`` the rest of the circuit presents. The steady state is ``Z_N(A, f) + Z_L(f) = 0``: where the device
    line ``−Z_N(A)`` (drawn at the steady-state frequency) meets the load locus ``Z_L(f)``.

    ``amplitudes``, ``conductance`` (S), ``capacitance`` (F), ``dc_v`` (the device's DC voltage, which shifts along
    its load line as ``A`` grows) tabulate the describing function; ``amplitude`` and ``frequency_hz`` are the
    intersection (None when the lines do not meet); ``small_signal_r`` is ``R_N(0, f)`` there (Ω), the
    small-signal negative resistance the ``R_L ≈ |r|/3`` rule refers to."""

    device: str
    amplitudes: np.ndarray
    conductance: np.ndarray
    capacitance: np.ndarray
    dc_v: np.ndarray
    z_load: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    amplitude: float | None = None
    frequency_hz: float | None = None
    small_signal_r: float | None = None

    def z_device(self, amplitude, freq_hz) -> np.ndarray:
        """``Z_N(A, f)`` (Ω), the describing function interpolated in ``A`` (arrays broadcast)."""
        a = np.asarray(amplitude, dtype=float)
        g = np.interp(a, self.amplitudes, self.conductance)
        c = np.interp(a, self.amplitudes, self.capacitance)
        return 1.0 / (g + 1j * TWO_PI * np.asarray(freq_hz, dtype=float) * c)

    def to_dict(self) -> dict:
        return {"device": self.device, "amplitude_v": self.amplitude, "frequency_hz": self.frequency_hz,
                "small_signal_r": self.small_signal_r, "amplitudes_v": self.amplitudes.tolist(),
                "conductance_s": self.conductance.tolist(), "capacitance_f": self.capacitance.tolist(),
                "dc_v": self.dc_v.tolist()}

    def plot(self, ax=None):
        """Device line ``−Z_N(A)`` at the steady-state frequency and load locus ``Z_L(f)`` around it, meeting at the
        steady state."""
        from stabkit.report.plots import plot_one_port

        f0 = self.frequency_hz or 1.0
        freqs = np.linspace(0.8 * f0, 1.2 * f0, 241)
        crossing = complex(self.z_load(np.array([f0]))[0]) if self.frequency_hz else None
        shown = self.amplitudes[self.amplitudes <= 2.0 * self.amplitude] if self.amplitude else self.amplitudes
        return plot_one_port(self.z_device(shown, f0), self.z_load(freqs), shown, freqs, crossing=crossing, ax=ax)


def one_port_oscillator(circuit: Circuit, params: Mapping[str, float] | None = None, *,
                        amplitudes: Sequence[float] | None = None, n_samples: int = 512) -> OnePortOscillator:
    """The one-port view of a circuit with one N-type NDR device (a tunnel-diode oscillator): its describing
    function by harmonic balance with one harmonic — the device alone, driven by ``V0 + A·cos ωt`` while its DC
    bias ``V0`` stays on the circuit's DC load line — against the load ``Z_L(f)``, and their intersection.

    Harmonics are neglected (the device sees a pure sinusoid), so the intersection approximates the whole-circuit
    harmonic balance of :func:`stabkit.analysis.oscillation.oscillation`; it is exact as the harmonics vanish.

    Parameters
    ----------
    circuit : Circuit
        One ``D`` element with an N-type (voltage-controlled) NDR model and a linear rest.
    params : mapping, optional
        Overrides (SI).
    amplitudes : sequence of float, optional
        Drive amplitudes (V peak) to tabulate (default: 200 values from 1 mV to twice the device's NDR window).
    n_samples : int
        Time samples per period for the device's Fourier coefficients.

    Returns
    -------
    OnePortOscillator
    """
    from scipy.optimize import brentq, root

    from stabkit.analysis.points import apply_overrides
    from stabkit.analysis.poles import poles
    from stabkit.nonlinear.dc import NonlinearProblem, dc_points, load_line
    from stabkit.nonlinear.devices import NTypeDevice
    from stabkit.nonlinear.hb import HarmonicBalance
    from stabkit.nonlinear.linearize import linearize

    circuit = apply_overrides(circuit, params)
    points = dc_points(circuit)
    if not points or len(points[0].problem.devices) != 1 or not isinstance(points[0].problem.devices[0], NTypeDevice):
        raise CircuitError("one-port view: the circuit needs exactly one nonlinear element, an N-type NDR device "
                           "(tunnel diode, ivtable) with a linear rest")
    if len(points) != 1:
        raise CircuitError(f"one-port view: the circuit has {len(points)} DC operating points; an oscillator has one")
    dc, dev = points[0], points[0].problem.devices[0]
    line, _ = load_line(dc.problem)
    v0 = float(dc.controls(0)[0])
    # the device alone on its DC load line, as a Norton source (its conductance is subtracted from what the
    # probe sees again; a pure voltage drive gets a µΩ source resistance)
    g_dc, i_sc = (line.a / line.b, line.c / line.b) if line.b != 0 else (1e6, 1e6 * line.c / line.a)
    bench = Circuit("describing function")
    bench.add_isource("I1", "0", "p", dc=i_sc)
    if g_dc > 0:
        bench.add_resistor("R1", "p", "0", 1.0 / g_dc)
    engine = HarmonicBalance(NonlinearProblem(bench, devices=[NTypeDevice(dev.name, "p", "0", dev.curve)]), 1,
                             n_samples)
    probe = engine.problem.node_index["p"]
    states: dict[float, np.ndarray] = {}
    # the charge current is resolved at a frequency where it is as large as the conduction current
    omega = abs(float(dev.curve.slope(v0))) / dev.capacitance if dev.capacitance > 0 else 1.0

    def describe(a: float):
        """``(G_N, C_N, V_dc)`` at amplitude ``a`` (exact: one harmonic-balance solve from the nearest state)."""
        if states:
            start = states[min(states, key=lambda k: abs(math.log(k / a)))]
        else:
            start = np.zeros((engine.size, 3))
            start[probe, 0] = v0
        zz, current, ok = engine.probe_current(start, omega, probe, a)
        if not ok:
            raise CircuitError(f"one-port view: the describing function did not converge at A = {a:g} V")
        states[a] = zz
        return current.real / a - g_dc, current.imag / (omega * a), float(zz[probe, 0])

    lo, hi = dev.curve.window()
    grid = np.geomspace(1e-3, 2.0 * (hi - lo), 200) if amplitudes is None else np.sort(np.asarray(amplitudes, float))
    g_arr, c_arr, vdc_arr = (np.array(col) for col in zip(*(describe(float(a)) for a in grid)))
    z_load = network_impedance(circuit, dev.element.name)
    out = OnePortOscillator(dev.name, grid, g_arr, c_arr, vdc_arr, z_load)

    def mismatch(a: float, f: float, exact: bool = False) -> complex:
        if exact:
            g, c, _ = describe(a)
            z_n = 1.0 / (g + 1j * TWO_PI * f * c)
        else:
            z_n = complex(out.z_device(a, f))
        return z_n + complex(z_load(np.array([f]))[0])

    def balance(a: float, f_guess: float) -> float | None:
        """The frequency nearest ``f_guess`` (within a factor 2) where the reactances cancel at amplitude ``a``."""
        fs = f_guess * np.geomspace(0.5, 2.0, 161)
        x = np.imag(out.z_device(a, fs) + z_load(fs))
        k = np.flatnonzero((np.sign(x[:-1]) != np.sign(x[1:])) & (np.abs(x[:-1] - x[1:]) < 10 * (np.abs(x[:-1]) + 1)))
        if not k.size:
            return None
        j = k[np.argmin(np.abs(np.log(fs[k] / f_guess)))]
        return float(brentq(lambda f: mismatch(a, f).imag, fs[j], fs[j + 1], xtol=1e-12 * fs[j]))

    lin_poles = poles(linearize(circuit, dc)).poles
    resonant = lin_poles[lin_poles.imag > 0]
    f_prev, prev = (float(resonant[np.argmax(resonant.real)].imag / TWO_PI) if resonant.size else None), None
    for a in grid:
        f = balance(float(a), f_prev) if f_prev else None
        if f is None:
            prev = None
            continue
        r = mismatch(float(a), f).real
        if prev is not None and prev[2] < 0 <= r:  # R_N + R_L turns positive: the amplitude limit
            a0 = prev[0] + (a - prev[0]) * prev[2] / (prev[2] - r)
            sol = root(lambda x: [mismatch(x[0] * a0, x[1] * f, True).real, mismatch(x[0] * a0, x[1] * f, True).imag],
                       [1.0, 1.0], method="hybr", options={"xtol": 1e-11})
            if np.max(np.abs(sol.fun)) <= 1e-6 * abs(complex(z_load(np.array([f]))[0])):
                out.amplitude, out.frequency_hz = float(sol.x[0] * a0), float(sol.x[1] * f)
            break
        prev, f_prev = (float(a), f, r), f
    if out.frequency_hz:
        small = 1.0 / (float(dev.curve.slope(v0)) + 1j * TWO_PI * out.frequency_hz * dev.capacitance)
        out.small_signal_r = float(small.real)
    return out


@dataclass
class PowerSweep:
    """Output power of an oscillator versus its load resistor (whole-circuit harmonic balance at each value, the
    bias held), against the one-port rule of thumb ``R_L ≈ |r|/3``.

    ``power_w`` is the fundamental power in the resistor, ``½·|V₁|²/R`` (nan where the circuit does not oscillate);
    ``optimum_ohm`` the resistance of maximum power (a parabola in ``log R`` through the best three values);
    ``small_signal_r`` the device's small-signal series resistance ``|R_N(0, f)|`` at the optimum's frequency.
    ``R_N(I) = −|r|·(1 − (I/I_max)^n)`` puts the optimum at ``|r|·n/(n + 2)``: ``n = 1`` (negative resistance
    falling linearly with the current amplitude) is the ``|r|/3`` rule; ``exponent`` is the ``n`` the computed
    optimum implies."""

    resistor: str
    values: np.ndarray
    power_w: np.ndarray
    frequency_hz: np.ndarray
    optimum_ohm: float
    small_signal_r: float

    @property
    def rule_ohm(self) -> float:
        return self.small_signal_r / 3.0

    @property
    def exponent(self) -> float:
        ratio = self.optimum_ohm / self.small_signal_r
        return 2.0 * ratio / (1.0 - ratio) if ratio < 1 else math.inf

    def to_dict(self) -> dict:
        return {"resistor": self.resistor, "values_ohm": self.values.tolist(), "power_w": self.power_w.tolist(),
                "frequency_hz": self.frequency_hz.tolist(), "optimum_ohm": self.optimum_ohm,
                "small_signal_r": self.small_signal_r, "rule_ohm": self.rule_ohm, "exponent": self.exponent}

    def plot(self, ax=None):
        """Output power versus load resistance, the optimum and the ``|r|/3`` rule marked."""
        from stabkit.report.plots import plot_power_sweep

        return plot_power_sweep(self.values, self.power_w, self.optimum_ohm, self.rule_ohm, self.resistor, ax=ax)


def power_sweep(circuit: Circuit, resistor: str, values: Sequence[float], *, hold: str | None = None,
                params: Mapping[str, float] | None = None) -> PowerSweep:
    """Sweep the load ``resistor`` of a one-device oscillator over ``values`` (Ω) and find the resistance of
    maximum fundamental output power, by :func:`stabkit.analysis.oscillation.oscillation` at each value.

    Parameters
    ----------
    circuit : Circuit
        One NDR ``D`` device (its small-signal series resistance is the rule's ``|r|``) and a linear rest.
    resistor : str
        The load resistor (an element name; ``.param`` names of its value work too).
    values : sequence of float
        Resistances (Ω).
    hold : str, optional
        A ``.param`` (a supply) re-solved at each value so that the device's DC voltage stays where it is at
        ``params`` — a load in the DC path would otherwise move the bias, and the comparison with it.
    params : mapping, optional
        Overrides (SI).
    """
    from scipy.optimize import brentq

    from stabkit.analysis.oscillation import oscillation
    from stabkit.analysis.points import apply_overrides
    from stabkit.nonlinear.dc import dc_points

    base = dict(params or {})
    element = circuit.element(resistor)
    target = float(dc_points(apply_overrides(circuit, base))[0].controls(0)[0])

    def device_v(overrides) -> float:
        return float(dc_points(apply_overrides(circuit, overrides))[0].controls(0)[0])

    powers, freqs, device = [], [], None
    for r in np.asarray(values, dtype=float):
        overrides = {**base, resistor: float(r)}
        if hold is not None:
            p0 = float(circuit.resolve_params(base)[hold.lower()])
            lo, hi = p0, p0
            while device_v({**overrides, hold: hi}) < target:
                hi += abs(p0) + 0.1
            while device_v({**overrides, hold: lo}) > target:
                lo -= abs(p0) + 0.1
            overrides[hold] = brentq(lambda p: device_v({**overrides, hold: p}) - target, lo, hi, xtol=1e-14)
        res = oscillation(circuit, overrides)
        if res.stable_oscillation and res.solution is not None:
            problem = res.verdict.points[0].point.dc.problem
            device = problem.devices[0]
            ph = res.solution.phasors()
            v = [ph[problem.node_index[n], 1] if n in problem.node_index else 0.0 for n in element.nodes[:2]]
            powers.append(0.5 * abs(v[0] - v[1]) ** 2 / r)
            freqs.append(res.frequency_hz)
        else:
            powers.append(math.nan), freqs.append(math.nan)
    values, powers, freqs = np.asarray(values, dtype=float), np.array(powers), np.array(freqs)
    if device is None or not np.any(np.isfinite(powers)):
        raise CircuitError(f"power sweep: the circuit does not oscillate for any {resistor} in the sweep")
    k = int(np.nanargmax(powers))
    optimum = float(values[k])
    if 0 < k < len(values) - 1 and np.all(np.isfinite(powers[k - 1:k + 2])):
        x, y = np.log(values[k - 1:k + 2]), powers[k - 1:k + 2]
        a2, a1, _ = np.polyfit(x, y, 2)
        optimum = float(np.exp(-a1 / (2 * a2))) if a2 < 0 else optimum
    f_opt = float(np.interp(math.log(optimum), np.log(values[np.isfinite(freqs)]), freqs[np.isfinite(freqs)]))
    ss = two_terminal_small_signal(device, [target] if device.n_controls == 1 else [0.0, target])
    return PowerSweep(resistor, values, powers, freqs, optimum, abs(float(ss.impedance(1j * TWO_PI * f_opt).real)))
