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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from stabkit.nonlinear.dc import OperatingPoints, all_roots, operating_points
from stabkit.nonlinear.linearize import SmallSignal
from stabkit.analysis.mna import assemble
from stabkit.analysis.ports import impedance
from stabkit.circuit.graph import Circuit

TWO_PI = 2.0 * np.pi

REGIONS = ("amplifier", "stable", "oscillator", "bistable", "multistable", "marginal", "other")


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
        from stabkit.report.negres_plots import plot_region_sweep

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
        from stabkit.report.negres_plots import plot_region_map

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
        from stabkit.report.negres_plots import plot_pole_paths

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
        from stabkit.report.negres_plots import plot_oscillator_conditions

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
