"""DC operating points of circuits with NDR devices: every intersection of the load line with the curve.

DC analysis uses the independent sources' DC values (``V dc``, ``I dc``); inductors are shorts,
capacitors open, lossless lines are pairs of wires.

One device
    The linear rest of the circuit is reduced to a *load line* seen by the device terminals,
    ``a·v + b·i = c`` (Thevenin ``v + R·i = V_oc``; Norton ``G·v + i = I_sc`` when the network is open at
    DC). Along the device's controlling variable ``x`` (``v`` for N-type, ``i`` for S-type) the residual
    ``F(x) = a·v + b·i − c`` is searched for **all** zeros: sign changes on a fine grid over the device's
    NDR window are refined with ``brentq``, and every local minimum of ``|F|`` without a sign change is
    examined by a bounded minimisation, so near-tangent pairs of roots are split and exact tangencies
    (marginal points) are reported. Outside the window the curve rises, so for a passive network
    (``a, b ≥ 0``) ``F`` is increasing there and each outer branch holds at most one root, which is
    bracketed by expanding outwards. Node voltages follow by superposition.

Several devices
    Damped Newton on the full DC equations (:class:`DCProblem`, :func:`newton_dc`: plain Newton, then gmin
    stepping, then source stepping), started from the zero state and from a grid of starts with each device
    pinned across its NDR window. Distinct converged solutions are the operating points; the result carries
    a warning that, unlike the one-device search, completeness is not guaranteed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la
from scipy.optimize import brentq, minimize_scalar

from stabkit.analysis.linearize import SmallSignal, circuit_devices, linearize, small_signal, without_devices
from stabkit.analysis.mna import assemble
from stabkit.analysis.poles import PoleResult, poles
from stabkit.circuit.devices import Device
from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError

#: default number of grid points over the device's NDR window
GRID_POINTS = 4001


# ---------------------------------------------------------------------------------------------------------
# load lines and their intersections with a device curve


@dataclass(frozen=True)
class LoadLine:
    """The linear network seen by the device: ``a·v + b·i = c`` (``v`` across, ``i`` into the device's anode).

    Thevenin source ``V_oc`` with resistance ``R``: ``(a, b, c) = (1, R, V_oc)``; Norton ``I_sc`` with
    conductance ``G``: ``(G, 1, I_sc)``. For a passive network ``a, b ≥ 0``."""

    a: float
    b: float
    c: float

    @classmethod
    def thevenin(cls, v_oc: float, r: float) -> "LoadLine":
        return cls(1.0, float(r), float(v_oc))

    @classmethod
    def norton(cls, i_sc: float, g: float) -> "LoadLine":
        return cls(float(g), 1.0, float(i_sc))

    @property
    def resistance(self) -> float:
        """``R = b/a`` (Ω): minus the inverse slope ``−dv/di`` of the line; inf for a current-source drive."""
        return self.b / self.a if self.a != 0 else math.inf

    @property
    def passive(self) -> bool:
        return self.a >= 0 and self.b >= 0 and (self.a > 0 or self.b > 0)

    def current(self, v):
        """Device current on the line at voltage ``v`` (needs ``b ≠ 0``)."""
        return (self.c - self.a * np.asarray(v, dtype=float)) / self.b

    def voltage(self, i):
        """Device voltage on the line at current ``i`` (needs ``a ≠ 0``)."""
        return (self.c - self.b * np.asarray(i, dtype=float)) / self.a

    def to_dict(self) -> dict:
        r = self.resistance
        out = {"a": self.a, "b": self.b, "c": self.c, "r": r if math.isfinite(r) else None}
        if self.a != 0:
            out["v_oc"] = self.c / self.a
        if self.b != 0:
            out["i_sc"] = self.c / self.b
        return out


@dataclass
class CurvePoint:
    """An intersection of a load line with a device curve. ``tangent``: the line touches the curve there
    (a double root: a marginal point, on the edge between one and three intersections)."""

    v: float
    i: float
    tangent: bool = False


def all_roots(fun: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, n: int = GRID_POINTS,
              ftol: float = 0.0) -> list[tuple[float, bool]]:
    """Every zero of a continuous ``fun`` on ``[lo, hi]``: ``[(x, tangent), ...]`` sorted.

    Sign changes on an ``n``-point grid are refined with ``brentq``. At each interior local minimum of
    ``|f|`` that has no sign change beside it, ``f`` is minimised (or maximised) on the two neighbouring
    cells: if the extremum crosses zero the two hidden roots are bracketed and refined; if ``|f|`` there is
    within ``ftol`` the point is a tangency (``tangent=True``)."""
    x = np.linspace(lo, hi, n)
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.asarray(fun(x), dtype=float)
    if not np.all(np.isfinite(f)):
        raise CircuitError("the load-line residual is not finite on the search grid (overflow in the device curve)")

    def scalar(t: float) -> float:
        return float(fun(np.array([t]))[0])

    xtol = 1e-15 + 4e-16 * max(abs(lo), abs(hi))
    roots: list[tuple[float, bool]] = []
    for k in range(n):
        if f[k] == 0.0:
            roots.append((float(x[k]), False))
    for k in range(n - 1):
        if f[k] * f[k + 1] < 0:
            roots.append((float(brentq(scalar, x[k], x[k + 1], xtol=xtol, rtol=8.9e-16)), False))
    af = np.abs(f)
    for k in range(1, n - 1):
        if not (af[k] <= af[k - 1] and af[k] <= af[k + 1]) or f[k] == 0.0:
            continue
        if f[k - 1] * f[k] <= 0 or f[k] * f[k + 1] <= 0:
            continue  # a sign change is right there: already found
        sign = 1.0 if f[k] > 0 else -1.0
        res = minimize_scalar(lambda t: sign * scalar(t), bounds=(x[k - 1], x[k + 1]), method="bounded",
                              options={"xatol": xtol})
        xm = float(res.x)
        fm = scalar(xm)
        if fm * sign < 0:  # two roots hidden between grid points
            roots.append((float(brentq(scalar, x[k - 1], xm, xtol=xtol, rtol=8.9e-16)), False))
            roots.append((float(brentq(scalar, xm, x[k + 1], xtol=xtol, rtol=8.9e-16)), False))
        elif abs(fm) <= ftol:
            roots.append((xm, True))
    roots.sort()
    merged: list[tuple[float, bool]] = []
    spacing = (hi - lo) / max(n - 1, 1)
    for r, tangent in roots:
        if merged and abs(r - merged[-1][0]) <= 1e-9 * spacing + xtol:
            merged[-1] = (merged[-1][0], merged[-1][1] or tangent)
            continue
        merged.append((r, tangent))
    return merged


def load_line_points(device: Device, line: LoadLine, n: int = GRID_POINTS, rtol_tangent: float = 1e-12) -> list[CurvePoint]:
    """All intersections of ``line`` with the device curve, sorted by the controlling variable.

    A point counts as *tangent* when the residual's extremum is within ``rtol_tangent`` of the residual's
    scale (``|a|·|v| + |b|·|i| + |c|`` over the window)."""
    a, b, c = line.a, line.b, line.c
    n_type = device.control == "N"

    def residual(x):
        y = device.response(x)
        v, i = (x, y) if n_type else (y, x)
        return a * v + b * i - c

    w_lo, w_hi = device.window()
    span = w_hi - w_lo
    # pad the window so that a tangency at its very edge (an NDR edge can coincide with it) is interior
    w_lo, w_hi = w_lo - 0.05 * span, w_hi + 0.05 * span
    if not line.passive:
        warnings.warn("the network seen by the device is not passive (load line with a·b < 0): the search covers "
                      "ten times the device window only", stacklevel=2)
        w_lo, w_hi = w_lo - 10 * span, w_hi + 10 * span
    x = np.linspace(w_lo, w_hi, 201)
    vv, ii = device.curve(x)
    scale = float(np.max(np.abs(a * vv) + np.abs(b * ii)) + abs(c))
    found = all_roots(residual, w_lo, w_hi, n=n, ftol=rtol_tangent * scale)
    if line.passive:
        # below the window F rises: a root there iff F(w_lo) > 0; above it iff F(w_hi) < 0
        for edge, direction in ((w_lo, -1.0), (w_hi, 1.0)):
            f_edge = float(residual(np.array([edge]))[0])
            if f_edge * direction >= 0:
                continue
            step = span
            far = edge + direction * step
            with np.errstate(over="ignore"):
                for _ in range(200):
                    f_far = float(residual(np.array([far]))[0])
                    if f_far * direction > 0:
                        break
                    step *= 2.0
                    far = edge + direction * step
                else:  # pragma: no cover - only for a curve that never rises
                    raise CircuitError("no bracket for the outer operating point: the device curve does not rise")
            lo_b, hi_b = sorted((edge, far))
            root = brentq(lambda t: float(residual(np.array([t]))[0]), lo_b, hi_b, xtol=1e-15, rtol=8.9e-16)
            found.append((float(root), False))
        found.sort()
    out = []
    for xr, tangent in found:
        y = float(device.response(xr))
        v, i = (xr, y) if n_type else (y, xr)
        out.append(CurvePoint(v=float(v), i=float(i), tangent=tangent))
    return out


# ---------------------------------------------------------------------------------------------------------
# the linear network at DC


@dataclass
class DCNetwork:
    """Affine DC solution of the circuit's linear part as a function of the device's port variable.

    ``mode == "thevenin"``: ``x = x0 + i·x1`` with the device current ``i``; ``mode == "norton"``:
    ``x = x0 + v·x1`` with the device voltage ``v`` (used when the network is open at DC)."""

    mode: str
    x0: np.ndarray
    x1: np.ndarray
    line: LoadLine
    node_index: dict[str, int]

    def voltages(self, v: float, i: float) -> dict[str, float]:
        t = i if self.mode == "thevenin" else v
        x = self.x0 + t * self.x1
        return {node: float(x[k]) for node, k in self.node_index.items()}


def _dc_rhs(network: Circuit, system, resolved: Mapping[str, float]) -> np.ndarray:
    rhs = np.zeros(system.n)
    for e in network:
        if e.kind not in ("V", "I"):
            continue
        dc = network.values(e, resolved).get("dc", 0.0)
        if e.kind == "V":
            rhs[system.branch_index[e.key]] = dc
        else:  # current dc flows from n+ through the source to n-: leaves n+, enters n-
            for node, sign in ((e.nodes[0], -1.0), (e.nodes[1], 1.0)):
                if node != GROUND:
                    rhs[system.node_index[node]] += sign * dc
    return rhs


def _factor(matrix: np.ndarray):
    """LU factors, or None when the matrix is (numerically) singular."""
    if matrix.size == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.LinAlgWarning)
        try:
            lu = la.lu_factor(matrix)
        except (la.LinAlgError, ValueError):
            return None
    pivots = np.abs(np.diag(lu[0]))
    if np.min(pivots) <= 1e-12 * max(np.max(np.abs(matrix)), 1e-300):
        return None
    return lu


def dc_network(circuit: Circuit, device_name: str, params: Mapping[str, float] | None = None) -> DCNetwork:
    """Reduce everything but the device ``device_name`` to a load line (DC: L short, C open)."""
    resolved = circuit.resolve_params(params)
    element = circuit.element(device_name)
    network = without_devices(circuit, {device_name})
    for e in network:
        if e.kind == "D":
            raise CircuitError(f"{e.where()}: the load-line reduction handles one nonlinear device; "
                               f"found {element.name} and {e.name}")
    system = assemble(network, resolved, validate=False)
    a_mat = np.real(system.M(0.0).toarray())
    rhs = _dc_rhs(network, system, resolved)
    anode, cathode = element.nodes
    nodes = set(system.node_index)
    for node in (anode, cathode):
        if node != GROUND and node not in nodes:  # a node only the device touches
            raise CircuitError(f"{element.where()}: node {node} of {element.name} is connected to nothing else")
    inc = system.incidence(anode, cathode)
    lu = _factor(a_mat)
    if lu is not None:  # Thevenin: A x = rhs − inc·i
        x0 = la.lu_solve(lu, rhs)
        x1 = la.lu_solve(lu, -inc)
        v_oc = float(inc @ x0)
        r = float(-(inc @ x1))
        return DCNetwork("thevenin", x0, x1, LoadLine.thevenin(v_oc, r), dict(system.node_index))
    # Norton: the port voltage is imposed, its current J is an unknown: [A inc; incᵀ 0]
    n = system.n
    bordered = np.zeros((n + 1, n + 1))
    bordered[:n, :n] = a_mat
    bordered[:n, n] = inc
    bordered[n, :n] = inc
    lu = _factor(bordered)
    if lu is None:
        raise CircuitError(f"the DC equations of the circuit around {element.name} are singular: a node has no DC "
                           "path (only capacitors or current sources reach it) or voltage sources/inductors form a loop")
    z0 = la.lu_solve(lu, np.concatenate([rhs, [0.0]]))
    e_n = np.zeros(n + 1)
    e_n[n] = 1.0
    z1 = la.lu_solve(lu, e_n)
    i0, y = float(z0[n]), float(z1[n])  # device current i = i0 + y·v
    line = LoadLine(-y, 1.0, i0)
    return DCNetwork("norton", z0[:n], z1[:n], line, dict(system.node_index))


# ---------------------------------------------------------------------------------------------------------
# operating points of a circuit, with their stability


@dataclass
class OperatingPoint:
    """One DC operating point: node voltages, the device's bias and small-signal model, and the poles of the
    circuit linearized there. ``stable`` iff every pole has ``Re < 0`` (a tangent point is marginal)."""

    voltages: dict[str, float]
    device: str
    v: float
    i: float
    small_signal: SmallSignal
    poles: PoleResult
    tangent: bool = False
    #: further devices (multi-device circuits): name -> ((v, i), small-signal model)
    others: dict[str, tuple[tuple[float, float], SmallSignal]] = field(default_factory=dict)

    @property
    def stable(self) -> bool:
        return self.poles.stable and not self.tangent

    @property
    def in_ndr(self) -> bool:
        return self.small_signal.negative

    def to_dict(self) -> dict:
        return {
            "voltages": dict(self.voltages),
            "stable": bool(self.stable),
            "poles": [[float(p.real), float(p.imag)] for p in self.poles.poles_hz],
            "device": {"name": self.device, "v": self.v, "i": self.i, "ndr": bool(self.in_ndr),
                       "tangent": bool(self.tangent), **self.small_signal.to_dict()},
            **({"other_devices": [{"name": name, "v": b[0], "i": b[1], **m.to_dict()}
                                  for name, (b, m) in self.others.items()]} if self.others else {}),
        }


@dataclass
class OperatingPoints:
    """All DC operating points of a circuit with one NDR device (sorted along the device curve)."""

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
        return {"points": [p.to_dict() for p in self.points], "device": self.device_name,
                "type": self.device.control,
                "load_line": self.line.to_dict() if self.line is not None else None, "warnings": list(self.warnings)}

    def plot(self, ax=None, ac_resistance: float | None = None):
        """I–V curve, DC load line (and an AC load line of slope ``−1/ac_resistance`` through each point when
        given) and the operating points (green stable, red unstable, orange marginal)."""
        from stabkit.report.negres_plots import plot_load_lines

        lo, hi = self.device.plot_range()
        xs = [p.v if self.device.control == "N" else p.i for p in self.points]
        if xs:
            lo, hi = min(lo, min(xs)), max(hi, max(xs))
        cv, ci = self.device.curve(np.linspace(lo, hi, 801))
        a, b, c = (self.line.a, self.line.b, self.line.c) if self.line is not None else (None, None, None)
        return plot_load_lines(cv, ci, a, b, c,
                               [(p.v, p.i, "marginal" if p.tangent else ("stable" if p.stable else "unstable"))
                                for p in self.points],
                               ac_resistance=ac_resistance, title=self.title, ax=ax)


# ---------------------------------------------------------------------------------------------------------
# general circuits: damped Newton with gmin and source stepping (any number of D elements)


class DCProblem:
    """The DC equations of a circuit with NDR devices, ``F(y) = 0``.

    ``y`` holds the MNA unknowns of the linear part (node voltages, then V/L/line branch currents) followed
    by one current per S-type device. N-type devices add ``inc·i(v)`` to the KCL rows (``inc`` picks
    anode − cathode); an S-type device adds its current unknown ``j`` to the KCL rows and the row
    ``v(anode) − v(cathode) − v_dev(j) = 0``. ``lam`` scales the independent sources (source stepping) and
    ``gmin`` puts a conductance from every node to ground (gmin stepping)."""

    def __init__(self, circuit: Circuit, params: Mapping[str, float], devices: Mapping[str, Device]):
        network = without_devices(circuit)
        for name in devices:  # nodes that only devices touch (e.g. between two diodes in series)
            for node in circuit.element(name).nodes:
                network.graph.add_node(node)
        system = assemble(network, params, validate=False)
        self.node_index = dict(system.node_index)
        self.n = system.n
        self.a_mat = np.real(system.M(0.0).toarray())
        self.rhs = _dc_rhs(network, system, params)
        self.devices: list[tuple[str, Device, np.ndarray, int | None]] = []
        extra = 0
        for name, device in devices.items():
            element = circuit.element(name)
            for node in element.nodes:
                if node != GROUND and node not in self.node_index:
                    raise CircuitError(f"{element.where()}: node {node} of {name} is connected to nothing else")
            inc = system.incidence(*element.nodes)
            slot = None
            if device.control == "S":
                slot = self.n + extra
                extra += 1
            self.devices.append((name, device, inc, slot))
        self.size = self.n + extra
        self.node_mask = np.zeros(self.size)
        self.node_mask[: len(self.node_index)] = 1.0

    def residual(self, y: np.ndarray, lam: float = 1.0, gmin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """``F(y)`` and its Jacobian."""
        n = self.n
        f = np.zeros(self.size)
        jac = np.zeros((self.size, self.size))
        x = y[:n]
        f[:n] = self.a_mat @ x - lam * self.rhs
        jac[:n, :n] = self.a_mat
        f += gmin * self.node_mask * y
        jac += gmin * np.diag(self.node_mask)
        for _, device, inc, slot in self.devices:
            v = float(inc @ x)
            if slot is None:
                f[:n] += inc * float(device.response(v))
                jac[:n, :n] += float(device.slope(v)) * np.outer(inc, inc)
            else:
                j = y[slot]
                f[:n] += inc * j
                jac[:n, slot] += inc
                f[slot] = v - float(device.response(j))
                jac[slot, :n] = inc
                jac[slot, slot] = -float(device.slope(j))
        return f, jac

    def bias(self, y: np.ndarray) -> dict[str, tuple[float, float]]:
        out = {}
        for name, device, inc, slot in self.devices:
            v = float(inc @ y[: self.n])
            out[name] = (v, float(device.response(v))) if slot is None else (v, float(y[slot]))
        return out

    def voltages(self, y: np.ndarray) -> dict[str, float]:
        return {node: float(y[k]) for node, k in self.node_index.items()}

    def step_limits(self, y: np.ndarray, dy: np.ndarray) -> float:
        """Damping factor: no device's controlling variable moves by more than a tenth of its window."""
        factor = 1.0
        for _, device, inc, slot in self.devices:
            lo, hi = device.window()
            limit = 0.1 * (hi - lo)
            change = abs(float(inc @ dy[: self.n])) if slot is None else abs(float(dy[slot]))
            if change > limit:
                factor = min(factor, limit / change)
        return factor

    def pinned_start(self, controls: Sequence[float]) -> np.ndarray | None:
        """A consistent starting vector with every N-type device's voltage and every S-type device's current
        pinned at ``controls`` (the linear part solved exactly around them); None when singular."""
        n = self.n
        n_types = [(inc, c) for (_, dev, inc, slot), c in zip(self.devices, controls) if slot is None]
        m = n + len(n_types)
        mat = np.zeros((m, m))
        rhs = np.zeros(m)
        mat[:n, :n] = self.a_mat
        rhs[:n] = self.rhs.copy()
        for (_, dev, inc, slot), c in zip(self.devices, controls):
            if slot is not None:
                rhs[:n] -= inc * c
        for k, (inc, c) in enumerate(n_types):
            mat[:n, n + k] = inc
            mat[n + k, :n] = inc
            rhs[n + k] = c
        lu = _factor(mat)
        if lu is None:
            return None
        sol = la.lu_solve(lu, rhs)
        y = np.zeros(self.size)
        y[:n] = sol[:n]
        for (_, dev, inc, slot), c in zip(self.devices, controls):
            if slot is not None:
                y[slot] = c
        return y


def _newton(problem: DCProblem, y0: np.ndarray, lam: float = 1.0, gmin: float = 0.0, max_iter: int = 80
            ) -> tuple[np.ndarray, bool]:
    y = y0.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_iter):
            f, jac = problem.residual(y, lam, gmin)
            if not np.all(np.isfinite(f)) or not np.all(np.isfinite(jac)):
                return y, False
            lu = _factor(jac)
            if lu is None:
                return y, False
            dy = -la.lu_solve(lu, f)
            factor = problem.step_limits(y, dy)
            y = y + factor * dy
            if factor == 1.0 and np.all(np.abs(dy) <= 1e-13 + 1e-11 * np.abs(y)):
                return y, True
    return y, False


@dataclass
class NewtonResult:
    """A DC solution by Newton's method; ``method`` says which continuation got there."""

    converged: bool
    y: np.ndarray
    method: str


def newton_dc(problem: DCProblem, y0: np.ndarray | None = None) -> NewtonResult:
    """One DC solution: damped Newton from ``y0`` (zeros by default); if that fails, gmin stepping (1 S down
    to 0), then source stepping (sources ramped from 0 with adaptive steps), and last Newton from starts with
    the devices pinned across their NDR windows (near a fold of the curve Newton can cycle and both
    continuations can stall, since the solution branch they follow ends there)."""
    start = np.zeros(problem.size) if y0 is None else y0
    y, ok = _newton(problem, start)
    if ok:
        return NewtonResult(True, y, "newton")
    y = start.copy()
    for gmin in list(10.0 ** -np.arange(0, 13)) + [0.0]:
        y, ok = _newton(problem, y, gmin=gmin)
        if not ok:
            break
    if ok:
        return NewtonResult(True, y, "gmin stepping")
    y, ok = _newton(problem, np.zeros(problem.size), lam=0.0)
    lam, step = 0.0, 0.1
    while ok and lam < 1.0:
        trial = min(1.0, lam + step)
        y_new, good = _newton(problem, y, lam=trial)
        if good:
            y, lam, step = y_new, trial, min(step * 1.5, 0.5)
        else:
            step *= 0.5
            if step < 1e-4:
                ok = False
    if ok and lam >= 1.0:
        return NewtonResult(True, y, "source stepping")
    for y0_pinned in _pinned_starts(problem, 7):
        y, ok = _newton(problem, y0_pinned)
        if ok:
            return NewtonResult(True, y, "pinned start")
    return NewtonResult(False, y, "none converged")


def _pinned_starts(problem: DCProblem, per_device: int) -> list[np.ndarray]:
    import itertools

    grids = []
    for _, device, _, _ in problem.devices:
        lo, hi = device.window()
        span = hi - lo
        grids.append(np.linspace(lo - 0.5 * span, hi + 0.5 * span, per_device))
    starts = []
    for combo in itertools.product(*grids):
        y0 = problem.pinned_start(combo)
        if y0 is not None:
            starts.append(y0)
    return starts


def newton_points(circuit: Circuit, params: Mapping[str, float] | None = None, starts_per_device: int = 7
                  ) -> tuple[DCProblem, list[np.ndarray]]:
    """Distinct DC solutions found by :func:`newton_dc` from the zero state and from starts with every
    device pinned on a grid of ``starts_per_device`` points across its NDR window (all combinations).
    Unlike the one-device load-line search this cannot promise that no solution is missed."""
    resolved = circuit.resolve_params(params)
    devices = circuit_devices(circuit, resolved)
    problem = DCProblem(circuit, resolved, devices)
    starts: list[np.ndarray | None] = [None, *_pinned_starts(problem, starts_per_device)]
    found: list[np.ndarray] = []
    for y0 in starts:
        if y0 is None:
            res = newton_dc(problem)
        else:
            y, ok = _newton(problem, y0)
            res = NewtonResult(ok, y, "newton")
        if not res.converged:
            continue
        scale = 1e-9 * (1.0 + np.max(np.abs(res.y)))
        if any(np.max(np.abs(res.y - other)) <= scale for other in found):
            continue
        found.append(res.y)
    return problem, found


def operating_points(circuit: Circuit, params: Mapping[str, float] | None = None, n_grid: int = GRID_POINTS) -> OperatingPoints:
    """Every DC operating point of ``circuit`` (exactly one ``D`` element with an NDR model), each with the
    poles of the circuit linearized there."""
    resolved = circuit.resolve_params(params)
    circuit.validate(resolved)
    devices = circuit_devices(circuit, resolved)
    if not devices:
        raise CircuitError("operating points: the circuit has no nonlinear D element (use stabkit poles)")
    if len(devices) > 1:
        return _newton_operating_points(circuit, resolved, devices)
    (name, device), = devices.items()
    net = dc_network(circuit, name, resolved)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curve_points = load_line_points(device, net.line, n=n_grid)
    notes += [str(w.message) for w in caught]
    points = []
    for cp in curve_points:
        lin = linearize(circuit, {name: (cp.v, cp.i)}, resolved, devices)
        pr = poles(lin, resolved)
        points.append(OperatingPoint(voltages=net.voltages(cp.v, cp.i), device=name, v=cp.v, i=cp.i,
                                     small_signal=small_signal(device, cp.v, cp.i), poles=pr, tangent=cp.tangent))
    return OperatingPoints(points=points, device_name=name, device=device, line=net.line, params=resolved,
                           title=circuit.title, warnings=notes)


def _newton_operating_points(circuit: Circuit, resolved: dict[str, float], devices: dict[str, Device]) -> OperatingPoints:
    problem, found = newton_points(circuit, resolved)
    if not found:
        raise CircuitError("operating points: Newton's method (with gmin and source stepping) found no DC solution")
    first = next(iter(devices))
    points = []
    for y in sorted(found, key=lambda z: problem.bias(z)[first][0]):
        bias = problem.bias(y)
        lin = linearize(circuit, bias, resolved, devices)
        v, i = bias[first]
        points.append(OperatingPoint(voltages=problem.voltages(y), device=first, v=v, i=i,
                                     small_signal=small_signal(devices[first], v, i), poles=poles(lin, resolved),
                                     others={name: (b, small_signal(devices[name], *b)) for name, b in bias.items()
                                             if name != first}))
    note = (f"{len(devices)} nonlinear devices: operating points found by damped Newton from "
            f"{7 ** len(devices) + 1} starts; unlike the one-device load-line search, points may be missed")
    return OperatingPoints(points=points, device_name=first, device=devices[first], line=None, params=resolved,
                           title=circuit.title, warnings=[note])
