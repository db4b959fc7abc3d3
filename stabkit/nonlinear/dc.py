"""DC operating points: one Newton solver for every nonlinear device, and the search for *all* points.

The DC equations of a circuit with nonlinear devices (:mod:`stabkit.nonlinear.devices`) are, with ``y`` the MNA
unknowns of its linear part (node voltages, V/L/E/H/line branch currents) followed by the devices' own branch
currents::

    F(y) = A·y − λ·b + S·f(P·y) = 0

``A`` is the linear network at DC (inductors shorted, capacitors open, lines as wires; stamps of the devices'
own branches), ``b`` the independent sources' DC values, ``P`` picks every device's controls from ``y``, ``S``
scatters its outputs into KCL rows (currents) or branch rows (voltages). :class:`NonlinearProblem` holds these
matrices; harmonic balance (:mod:`stabkit.nonlinear.hb`) uses the same object with ``A`` replaced by the
network at ``jkω``.

:func:`solve` finds one solution as SPICE does: Newton on the companion model with each device's own step
limiting (junction ``pnjlim``; a tenth of the NDR window for NDR devices; 0.3 V for behavioural sources), then
gmin stepping, then source stepping, then starts with the NDR devices pinned across their windows.

:func:`dc_points` finds every operating point:

* one NDR two-terminal device and a linear rest: the exact load-line search (every intersection of the
  Thevenin/Norton load line with the device curve, tangencies flagged; :func:`load_line_points`);
* otherwise, NDR devices present: Newton from many starts (each NDR device pinned on a grid across its window,
  all combinations), the others solved with it; distinct solutions are the points (completeness is not
  guaranteed and the result says so);
* no NDR device (transistors, junction diodes, behavioural sources): the one solution of :func:`solve`.

:func:`dc_point` is the one-solution entry (transistor bias), :func:`operating_points` the NDR-circuit view
with poles at every point (region classification, plots).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la
from scipy.optimize import brentq, minimize_scalar

from stabkit.analysis.mna import MNASystem, assemble
from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError, StabkitWarning
from stabkit.nonlinear.curves import Device
from stabkit.nonlinear.devices import (BipolarTransistor, DiodeBias, JunctionDiode, NonlinearDevice, NTypeDevice,
                                       STypeDevice, TransistorBias, circuit_devices, nonlinear_elements,
                                       simulator_options)

__all__ = ["NonlinearProblem", "Solution", "DCPoint", "solve", "dc_point", "dc_points", "multistart_points",
           "LoadLine", "CurvePoint", "all_roots", "load_line_points", "DCNetwork", "dc_network",
           "OperatingPoint", "OperatingPoints", "operating_points", "GRID_POINTS"]

#: default number of grid points over the device's NDR window
GRID_POINTS = 4001
#: pinned starts per NDR device in the multi-start search
STARTS_PER_DEVICE = 7


# ---------------------------------------------------------------------------------------------------------
# the problem: F(y) = A y − λ b + S f(P y)


def _stamp_pair(vec_or_mat, row, p_idx, m_idx, value=1.0):
    if p_idx is not None:
        vec_or_mat[row, p_idx] += value
    if m_idx is not None:
        vec_or_mat[row, m_idx] -= value


class NonlinearProblem:
    """The equations of a circuit with nonlinear devices (see the module docstring).

    Parameters
    ----------
    circuit : Circuit
    params : mapping, optional
        Parameter overrides (SI), applied before anything is evaluated.
    temp, gmin : float, optional
        Circuit temperature (°C) and junction gmin (S); default ``.temp``/``.options``, else SPICE's.
    devices : list of NonlinearDevice, optional
        Prebuilt devices (default: :func:`circuit_devices`); a device "provided externally" goes here.
    """

    def __init__(self, circuit: Circuit, params: Mapping[str, float] | None = None, *, temp: float | None = None,
                 gmin: float | None = None, devices: Sequence[NonlinearDevice] | None = None):
        self.circuit = circuit
        self.params = circuit.resolve_params(params)
        self.temp_c, _, self.gmin = simulator_options(circuit, temp, gmin)
        self.devices = list(devices) if devices is not None else circuit_devices(circuit, self.params, temp=temp,
                                                                                gmin=gmin)
        drop = {e.key for e in nonlinear_elements(circuit)}
        network = circuit.without(drop)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StabkitWarning)
            for dev in self.devices:
                for label, a, b, ohms in dev.resistors:
                    network.add_resistor(f"{dev.name}.{label}", a, b, ohms)
        for dev in self.devices:
            for node in dev.nodes:
                network.graph.add_node(node)
        self.network = network
        self.system: MNASystem = assemble(network, self.params, validate=False)
        sysn = self.system.n
        self.branch_index = dict(self.system.branch_index)
        next_index = sysn
        for dev in self.devices:
            for br in dev.own_branches:
                self.branch_index[br] = next_index
                next_index += 1
        self.size = next_index
        self.node_index = dict(self.system.node_index)
        self.n_nodes = len(self.node_index)
        n_ctrl = sum(d.n_controls for d in self.devices)
        n_out = sum(d.n_outputs for d in self.devices)
        self.P = np.zeros((n_ctrl, self.size))
        self.S = np.zeros((self.size, n_out))
        self.own = np.zeros((self.size, self.size))  # the devices' own-branch stamps (frequency independent)
        self.ctrl_slices: list[slice] = []
        self.out_slices: list[slice] = []
        c0 = o0 = 0
        for dev in self.devices:
            self.ctrl_slices.append(slice(c0, c0 + dev.n_controls))
            self.out_slices.append(slice(o0, o0 + dev.n_outputs))
            for k, ctrl in enumerate(dev.controls):
                if ctrl[0] == "v":
                    _stamp_pair(self.P, c0 + k, self._node(ctrl[1], dev), self._node(ctrl[2], dev))
                else:
                    if ctrl[1] not in self.branch_index:
                        raise CircuitError(f"{dev.name}: controlling current of {ctrl[1]!r}: no voltage source or "
                                           "own branch of that name")
                    self.P[c0 + k, self.branch_index[ctrl[1]]] = 1.0
            for k, out in enumerate(dev.outputs):
                p, m = self._node(out.p, dev), self._node(out.m, dev)
                if out.kind == "i":
                    for idx, sign in ((p, 1.0), (m, -1.0)):
                        if idx is not None:
                            self.S[idx, o0 + k] += sign
                else:
                    br = self.branch_index[out.branch]
                    for idx, sign in ((p, 1.0), (m, -1.0)):
                        if idx is not None:
                            self.own[idx, br] += sign
                            self.own[br, idx] += sign
                    self.S[br, o0 + k] = -1.0
            c0 += dev.n_controls
            o0 += dev.n_outputs
        for dev in self.devices:
            for a, b, g in getattr(dev, "dc_conductances", ()):
                ia, ib = self._node(a, dev), self._node(b, dev)
                for i1, i2, sign in ((ia, ia, 1), (ib, ib, 1), (ia, ib, -1), (ib, ia, -1)):
                    if i1 is not None and i2 is not None:
                        self.own[i1, i2] += sign * g
        self.A = self.pad(np.real(self.system.M(0.0).toarray())) + self.own
        self.b = self.pad_vector(self._dc_rhs())

    # -- structure ---------------------------------------------------------------------------------------
    def _node(self, node: str, dev: NonlinearDevice) -> int | None:
        if node == GROUND:
            return None
        if node not in self.node_index:
            raise CircuitError(f"{dev.name}: node {node} is connected to nothing else")
        return self.node_index[node]

    def pad(self, matrix: np.ndarray) -> np.ndarray:
        """A square matrix of the linear network grown to the full size (own branches appended)."""
        out = np.zeros((self.size, self.size), dtype=matrix.dtype)
        n = matrix.shape[0]
        out[:n, :n] = matrix
        return out

    def pad_vector(self, vec: np.ndarray) -> np.ndarray:
        out = np.zeros(self.size, dtype=vec.dtype)
        out[: vec.size] = vec
        return out

    def matrix_at(self, s: complex) -> np.ndarray:
        """The linear part at complex frequency ``s`` (rad/s), full size: what harmonic balance uses."""
        return self.pad(self.system.M(s).toarray()) + self.own

    def _dc_rhs(self) -> np.ndarray:
        return _dc_rhs(self.network, self.system, self.params)

    @property
    def ndr_devices(self) -> list[int]:
        return [k for k, d in enumerate(self.devices) if d.family == "ndr"]

    # -- evaluation --------------------------------------------------------------------------------------
    def evaluate(self, x: np.ndarray):
        """All devices at the stacked control values ``x`` (shape ``(T, n_controls)``):
        ``(f, q, df, dq)`` with block-diagonal derivatives ``(T, n_outputs, n_controls)``."""
        x = np.atleast_2d(x)
        t = x.shape[0]
        n_out = self.S.shape[1]
        f = np.zeros((t, n_out))
        q = np.zeros((t, n_out))
        df = np.zeros((t, n_out, self.P.shape[0]))
        dq = np.zeros_like(df)
        for dev, cs, os in zip(self.devices, self.ctrl_slices, self.out_slices):
            ev = dev.evaluate(x[:, cs])
            f[:, os], q[:, os] = ev.f, ev.q
            df[:, os, cs], dq[:, os, cs] = ev.df, ev.dq
        return f, q, df, dq

    def residual(self, y: np.ndarray, lam: float = 1.0) -> np.ndarray:
        """``F(y)`` (A for KCL rows, V for branch rows)."""
        f = self.evaluate(self.P @ y)[0][0]
        return self.A @ y - lam * self.b + self.S @ f

    def states_of(self, y: np.ndarray) -> list[np.ndarray]:
        """Every device's control values in ``y``: Newton states that continue from ``y`` without a fresh start."""
        x = self.P @ y
        return [x[cs].copy() for cs in self.ctrl_slices]

    def controls(self, y: np.ndarray, k: int) -> np.ndarray:
        """Device ``k``'s control values in the solution ``y``."""
        return (self.P @ y)[self.ctrl_slices[k]]

    def voltages(self, y: np.ndarray) -> dict[str, float]:
        return {node: float(y[k]) for node, k in self.node_index.items()}

    def bias(self, y: np.ndarray) -> dict[str, tuple[float, float]]:
        """``(v, i)`` of every NDR two-terminal device in the solution ``y``."""
        out = {}
        for k in self.ndr_devices:
            d = self.devices[k].describe(self.controls(y, k))
            out[self.devices[k].name] = (d["v"], d["i"])
        return out

    # -- Newton --------------------------------------------------------------------------------------------
    def newton(self, y0: np.ndarray, states: list | None = None, *, lam: float = 1.0, gshunt: float = 0.0,
               pins: Mapping[int, float] | None = None, max_iter: int = 150):
        """Newton on the companion model from ``y0``: ``(y, states, converged, iterations)``.

        ``states`` are the devices' control values of the previous iteration (limiting is relative to them;
        None: each device's :meth:`~NonlinearDevice.start`, else the controls of ``y0``). ``pins`` hold NDR
        devices at a value of their first control (a strong linear pull), for starting points."""
        y = np.array(y0, dtype=float)
        x_all = self.P @ y
        fresh = states is None
        if fresh:
            states = []
            for dev, cs in zip(self.devices, self.ctrl_slices):
                start = dev.start()
                states.append(start.copy() if start is not None else x_all[cs].copy())
        states = [np.array(s, dtype=float) for s in states]
        node_diag = np.zeros(self.size)
        node_diag[: self.n_nodes] = 1.0
        for it in range(max_iter):
            x_all = self.P @ y
            limited = False
            x_lim = np.zeros_like(x_all)
            for k, (dev, cs) in enumerate(zip(self.devices, self.ctrl_slices)):
                if fresh and it == 0:
                    xl = states[k]
                else:
                    xl, lim = dev.limit(x_all[cs], states[k])
                    limited = limited or lim
                states[k] = np.array(xl, dtype=float)
                x_lim[cs] = states[k]
            with np.errstate(all="ignore"):
                f, _, df, _ = self.evaluate(x_lim)
            f, df = f[0], df[0]
            if pins:
                f, df = f.copy(), df.copy()
                for k, value in pins.items():
                    o, c = self.out_slices[k].start, self.ctrl_slices[k].start
                    strength = 1e4 if self.devices[k].outputs[0].kind == "i" else 1e9
                    f[o] += strength * (x_lim[c] - value)
                    df[o, c] += strength
            if not (np.all(np.isfinite(f)) and np.all(np.isfinite(df))):
                return y, states, False, it + 1
            jac = self.A + self.S @ df @ self.P
            if gshunt:
                jac = jac + gshunt * np.diag(node_diag)
            rhs = lam * self.b - self.S @ (f - df @ x_lim)
            residual_ok = False
            if it > 0 and not limited:
                res = np.abs(jac @ y - rhs)
                rounding = 1e-14 * (np.abs(jac) @ np.abs(y) + np.abs(rhs))
                nn = self.n_nodes
                residual_ok = (bool(np.all(res[:nn] <= 1e-12 + rounding[:nn]))
                               and bool(np.all(res[nn:] <= 1e-9 + rounding[nn:])))
            y_new = _refined_solve(jac, rhs)
            if y_new is None:
                return y, states, False, it + 1
            step = np.abs(y_new - y)
            y_prev, y = y, y_new
            if residual_ok and bool(np.all(step <= 1e-9 * np.maximum(np.abs(y), np.abs(y_prev)) + 1e-4)):
                return y, states, True, it + 1
        return y, states, False, max_iter


def _refined_solve(jac: np.ndarray, b: np.ndarray, steps: int = 2) -> np.ndarray | None:
    """``jac⁻¹ b`` with iterative refinement, residuals in extended precision: nodes tied to the rest only by
    reverse-biased junctions and gmin (1e-12 S beside 10 S) are otherwise lost in rounding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", la.LinAlgWarning)
            lu = la.lu_factor(jac)
            if np.min(np.abs(np.diag(lu[0]))) <= 1e-300:
                return None
            x = la.lu_solve(lu, b)
            jac_ext = jac.astype(np.longdouble)
            b_ext = b.astype(np.longdouble)
            for _ in range(steps):
                r = (b_ext - jac_ext @ x.astype(np.longdouble)).astype(float)
                x = x + la.lu_solve(lu, r)
    except (la.LinAlgError, ValueError):
        return None
    return x if np.all(np.isfinite(x)) else None


@dataclass
class Solution:
    """One DC solution: ``y`` the unknowns, ``method`` the continuation that got there."""

    converged: bool
    y: np.ndarray
    method: str
    iterations: int = 0


def solve(problem: NonlinearProblem, y0: np.ndarray | None = None) -> Solution:
    """One DC solution: Newton from ``y0`` (zeros); then gmin stepping (1e-2 S to every node, down to 0), then
    source stepping (sources ramped up from 0 with adaptive steps), then starts with the NDR devices pinned
    across their windows. ``Solution.converged`` is False when none of these converged."""
    zero = np.zeros(problem.size) if y0 is None else np.asarray(y0, dtype=float)
    total = 0
    y, states, ok, its = problem.newton(zero)
    total += its
    if ok:
        return Solution(True, y, "newton", total)
    y, states, ok = zero.copy(), None, True
    for gshunt in [10.0 ** -k for k in range(2, 13)] + [0.0]:
        y, states, ok, its = problem.newton(y, states, gshunt=gshunt)
        total += its
        if not ok:
            break
    if ok:
        return Solution(True, y, "gmin stepping", total)
    y, states, ok, its = problem.newton(zero.copy(), None, lam=0.0)
    total += its
    lam, step = 0.0, 0.1
    while ok and lam < 1.0:
        trial = min(1.0, lam + step)
        y_new, states_new, good, its = problem.newton(y, [s.copy() for s in states], lam=trial)
        total += its
        if good:
            y, states, lam, step = y_new, states_new, trial, min(step * 2.0, 0.5)
        else:
            step *= 0.5
            if step < 1e-6:
                ok = False
    if ok:
        return Solution(True, y, "source stepping", total)
    for y_pinned in _pinned_starts(problem, STARTS_PER_DEVICE):
        y, _, ok, its = problem.newton(y_pinned, problem.states_of(y_pinned))
        total += its
        if ok:
            return Solution(True, y, "pinned start", total)
    return Solution(False, y, "none converged", total)


def _pinned_starts(problem: NonlinearProblem, per_device: int) -> list[np.ndarray]:
    """Solutions with every NDR device held at a grid of values across its window (all combinations)."""
    ndr = problem.ndr_devices
    if not ndr:
        return []
    grids = []
    for k in ndr:
        lo, hi = problem.devices[k].curve.window()
        span = hi - lo
        grids.append(np.linspace(lo - 0.5 * span, hi + 0.5 * span, per_device))
    starts = []
    y = np.zeros(problem.size)
    for combo in itertools.product(*grids):
        pins = dict(zip(ndr, combo))
        y_pin, _, ok, _ = problem.newton(y, problem.states_of(y) if y.any() else None, pins=pins)
        if not ok:
            y_pin, _, ok, _ = problem.newton(np.zeros(problem.size), pins=pins)
        if ok:
            starts.append(y_pin)
            y = y_pin
    return starts


def multistart_points(problem: NonlinearProblem, starts_per_device: int = STARTS_PER_DEVICE) -> list[np.ndarray]:
    """Distinct DC solutions from the zero state (with continuation) and from starts with every NDR device
    pinned on a grid of ``starts_per_device`` values across its window (all combinations). Unlike the
    one-device load-line search this cannot promise that no solution is missed."""
    found: list[np.ndarray] = []
    first = solve(problem)
    candidates = [first.y] if first.converged else []
    for y0 in _pinned_starts(problem, starts_per_device):
        y, _, ok, _ = problem.newton(y0, problem.states_of(y0))
        if ok:
            candidates.append(y)
    for y in candidates:
        scale = 1e-9 * (1.0 + np.max(np.abs(y)))
        if not any(np.max(np.abs(y - other)) <= scale for other in found):
            found.append(y)
    return found


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
    branch_index: dict[str, int] = field(default_factory=dict)

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
    network = circuit.without({device_name})
    for e in network:
        if e.kind in ("D", "Q", "B"):
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
        return DCNetwork("thevenin", x0, x1, LoadLine.thevenin(v_oc, r), dict(system.node_index),
                         dict(system.branch_index))
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
    return DCNetwork("norton", z0[:n], z1[:n], line, dict(system.node_index), dict(system.branch_index))




# ---------------------------------------------------------------------------------------------------------
# one operating point, as a result


@dataclass
class DCPoint:
    """A DC operating point of a circuit with nonlinear devices.

    ``voltages``: every node (internal device nodes ``<Q>.bi`` ... included), ``currents``: branch current of
    every V source and inductor (from its ``n+`` through it to ``n−``), ``method``: which continuation converged,
    ``temp_c``: the circuit temperature (None: each model at its TNOM). ``transistors``, ``diodes``: bias records
    by element name; ``ndr``: ``(v, i)`` of each NDR device; ``devices``: what each device reports."""

    problem: NonlinearProblem
    y: np.ndarray
    method: str
    iterations: int
    tangent: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def voltages(self) -> dict[str, float]:
        return self.problem.voltages(self.y)

    @property
    def currents(self) -> dict[str, float]:
        out = {}
        for e in self.problem.network:
            if e.kind in ("V", "L") and e.key in self.problem.system.branch_index:
                out[e.name.lower()] = float(self.y[self.problem.system.branch_index[e.key]])
        return out

    @property
    def params(self) -> dict[str, float]:
        return dict(self.problem.params)

    @property
    def temp_c(self) -> float | None:
        return self.problem.temp_c

    @property
    def gmin(self) -> float:
        return self.problem.gmin

    def controls(self, k: int) -> np.ndarray:
        return self.problem.controls(self.y, k)

    @property
    def transistors(self) -> dict[str, TransistorBias]:
        volts = self.voltages
        return {d.name: d.bias(self.controls(k), volts) for k, d in enumerate(self.problem.devices)
                if isinstance(d, BipolarTransistor)}

    @property
    def diodes(self) -> dict[str, DiodeBias]:
        return {d.name: d.bias(self.controls(k)) for k, d in enumerate(self.problem.devices)
                if isinstance(d, JunctionDiode)}

    @property
    def ndr(self) -> dict[str, tuple[float, float]]:
        return self.problem.bias(self.y)

    @property
    def devices(self) -> list[dict]:
        return [d.describe(self.controls(k)) for k, d in enumerate(self.problem.devices)]

    @property
    def device_notes(self) -> list[str]:
        return [f"{d.name}: {n}" for d in self.problem.devices for n in d.notes]

    def to_dict(self) -> dict:
        return {"voltages": self.voltages, "currents": self.currents,
                "transistors": [t.to_dict() for t in self.transistors.values()],
                "diodes": [d.to_dict() for d in self.diodes.values()], "devices": self.devices,
                "method": self.method, "iterations": self.iterations, "temp_c": self.temp_c, "gmin": self.gmin,
                "notes": [*self.device_notes, *self.notes]}

    def plot(self, ax=None):
        """Bar chart of the external node voltages."""
        from stabkit.report.plots import plot_node_voltages

        shown = {k: v for k, v in self.voltages.items() if not k.endswith((".bi", ".ci", ".ei", ".ai"))}
        return plot_node_voltages(shown, ax=ax, title="DC operating point")


def dc_point(circuit: Circuit, params: Mapping[str, float] | None = None, *, temp: float | None = None,
             gmin: float | None = None) -> DCPoint:
    """The DC operating point of ``circuit`` by :func:`solve` (one solution; see :func:`dc_points` for all).

    Parameters
    ----------
    circuit : Circuit
    params : mapping, optional
        Overrides (SI) of ``.param`` names.
    temp, gmin : float, optional
        Override the netlist's ``.temp``/``.options temp=`` (°C) and ``.options gmin=`` (S).

    Returns
    -------
    DCPoint

    Raises
    ------
    CircuitError
        When no continuation converges.
    """
    resolved = circuit.resolve_params(params)
    circuit.validate(resolved)
    problem = NonlinearProblem(circuit, resolved, temp=temp, gmin=gmin)
    sol = solve(problem)
    if not sol.converged:
        raise CircuitError("DC operating point: Newton's method did not converge (plain, with gmin stepping, "
                           "with source stepping, or from pinned starts); check the bias network (a node without "
                           "a DC path?)")
    return DCPoint(problem, sol.y, sol.method, sol.iterations)


def dc_points(circuit: Circuit, params: Mapping[str, float] | None = None, *, n_grid: int = GRID_POINTS,
              start: DCPoint | None = None) -> list[DCPoint]:
    """Every DC operating point of ``circuit`` that the search finds (see the module docstring), sorted along
    the first NDR device's controlling variable. Each point's ``notes`` say how it was found.

    ``start``: circuits without NDR devices (transistors, junction diodes, behavioural sources) — a DC point of
    a circuit of the same structure (e.g. at nominal values) from which Newton starts, a warm start for
    Monte-Carlo runs (``stabkit yield``: about 5 iterations instead of 31 from 0 V for the Linvill NIC); when
    it does not converge from there (or does not fit), the usual continuation runs."""
    resolved = circuit.resolve_params(params)
    circuit.validate(resolved)
    problem = NonlinearProblem(circuit, resolved)
    ndr = problem.ndr_devices
    if not problem.devices:
        return []
    if len(problem.devices) == 1 and ndr:
        return _load_line_search(circuit, problem, resolved, n_grid)
    if not ndr:
        sol = _warm_solve(problem, start) if start is not None else None
        sol = sol if sol is not None else solve(problem)
        if not sol.converged:
            raise CircuitError("DC operating point: Newton's method did not converge (plain, with gmin stepping, "
                               "or with source stepping); check the bias network (a node without a DC path?)")
        note = f"DC operating point by {sol.method} ({sol.iterations} iterations)"
        if any(d.family == "behavioural" for d in problem.devices):
            note += "; behavioural sources: further operating points, if any, are not searched"
        else:
            note += "; further operating points of a transistor circuit, if any, are not searched"
        return [DCPoint(problem, sol.y, sol.method, sol.iterations, notes=[note])]
    found = multistart_points(problem)
    if not found:
        raise CircuitError("operating points: Newton's method (with gmin and source stepping) found no DC solution")
    first = ndr[0]
    found.sort(key=lambda y: float(problem.controls(y, first)[0]))
    n_starts = STARTS_PER_DEVICE ** len(ndr) + 1
    note = (f"{len(problem.devices)} nonlinear devices: operating points found by damped Newton from {n_starts} "
            "starts; unlike the one-device load-line search, points may be missed")
    return [DCPoint(problem, y, "multi-start Newton", 0, notes=[note]) for y in found]


def _warm_solve(problem: NonlinearProblem, start: DCPoint) -> Solution | None:
    """Newton from ``start``'s solution with its device states, or ``None`` when the layouts differ or it fails."""
    if start.y.shape != (problem.size,) or start.problem.system.node_index != problem.system.node_index:
        return None
    y, _, ok, its = problem.newton(start.y, problem.states_of(start.y))
    return Solution(True, y, "newton from the given start", its) if ok else None


def _load_line_search(circuit: Circuit, problem: NonlinearProblem, resolved, n_grid: int) -> list[DCPoint]:
    dev = problem.devices[0]
    net = dc_network(circuit, dev.name, resolved)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curve = load_line_points(dev.curve, net.line, n=n_grid)
    notes = [str(w.message) for w in caught]
    if not curve:
        raise CircuitError("operating points: the load line does not meet the device curve (no DC solution)")
    out = []
    for cp in curve:
        volts = net.voltages(cp.v, cp.i)
        y = np.zeros(problem.size)
        for node, k in problem.node_index.items():
            y[k] = volts.get(node, 0.0)
        # branch currents of the linear part follow from the Thevenin/Norton solution as well
        t = cp.i if net.mode == "thevenin" else cp.v
        full = net.x0 + t * net.x1
        for key, k in problem.system.branch_index.items():
            if key in net.branch_index:
                y[k] = full[net.branch_index[key]]
        if isinstance(dev, STypeDevice):
            y[problem.branch_index[dev.own_branches[0]]] = cp.i
        out.append(DCPoint(problem, y, "load line", 0, tangent=bool(cp.tangent), notes=list(notes)))
    return out


# ---------------------------------------------------------------------------------------------------------
# operating points of an NDR circuit, each with the poles of the circuit linearized there


@dataclass
class OperatingPoint:
    """One DC operating point: node voltages, the NDR device's bias and small-signal model, and the poles of the
    circuit linearized there. ``stable`` iff every pole has ``Re < 0`` (a tangent point is marginal)."""

    voltages: dict[str, float]
    device: str
    v: float
    i: float
    small_signal: object  # SmallSignal
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


def operating_points(circuit: Circuit, params: Mapping[str, float] | None = None, n_grid: int = GRID_POINTS
                     ) -> OperatingPoints:
    """Every DC operating point of a circuit with NDR ``D`` devices, each with the poles of the circuit
    linearized there (other nonlinear devices are solved and linearized along)."""
    from stabkit.analysis.poles import poles
    from stabkit.nonlinear.linearize import linearize, two_terminal_small_signal

    resolved = circuit.resolve_params(params)
    points = dc_points(circuit, resolved, n_grid=n_grid)
    ndr = points[0].problem.ndr_devices if points else []
    if not ndr:
        raise CircuitError("operating points: the circuit has no nonlinear D element with an NDR model "
                           "(use stabkit poles, or stabkit oppoints for transistor circuits)")
    problem = points[0].problem
    first = problem.devices[ndr[0]]
    out = []
    for pt in points:
        lin = linearize(circuit, pt)
        pr = poles(lin, resolved)
        models = {}
        for k in ndr:
            dev = problem.devices[k]
            v, i = problem.bias(pt.y)[dev.name]
            models[dev.name] = ((v, i), two_terminal_small_signal(dev, pt.controls(k)))
        (v0, i0), m0 = models.pop(first.name)
        out.append(OperatingPoint(voltages=pt.voltages, device=first.name, v=v0, i=i0, small_signal=m0, poles=pr,
                                  tangent=pt.tangent, others=models))
    line = None
    if len(problem.devices) == 1:
        line = dc_network(circuit, first.name, resolved).line
    notes = list(dict.fromkeys(n for pt in points for n in pt.notes))
    return OperatingPoints(points=out, device_name=first.name, device=first.curve, line=line, params=resolved,
                           title=circuit.title, warnings=notes)
