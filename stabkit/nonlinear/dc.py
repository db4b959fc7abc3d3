"""DC operating points: one Newton solver for every nonlinear device, and the search for *all* points.

With ``y`` the MNA unknowns of the linear part (node voltages, V/L/E/H/line branch currents) followed by the
devices' own branch currents, the DC equations are::

    F(y) = A·y − λ·b + S·f(P·y) = 0

``A`` is the linear network at DC (inductors shorted, capacitors open, lines as wires, the devices' own-branch
stamps), ``b`` the sources' DC values, ``P`` picks every device's controls from ``y``, ``S`` scatters its outputs into
KCL rows (currents) or branch rows (voltages). :class:`NonlinearProblem` holds them; harmonic balance
(:mod:`stabkit.nonlinear.hb`) uses the same object on every harmonic.

:func:`solve` finds one solution as SPICE does: Newton with each device's own step limiting (junction ``pnjlim``,
a tenth of the NDR window, 0.3 V for behavioural sources), then gmin stepping, source stepping, and starts with
the NDR devices pinned across their windows. :func:`dc_points` finds every operating point:

* one NDR two-terminal device and a linear rest: every intersection of the load line with the device curve
  (:func:`load_line_points`, tangencies flagged), the line and the solution ``y`` along it taken from the same
  matrices ``A``, ``b``, ``S``, ``P`` (:func:`load_line`): complete by construction;
* several NDR devices: Newton from many starts (each NDR device pinned on a grid across its window, all
  combinations) — completeness is not guaranteed and the points say so;
* no NDR device (transistors, junction diodes, behavioural sources): the one solution of :func:`solve`.
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
from stabkit.nonlinear import gummel_poon as gp
from stabkit.nonlinear.curves import Device
from stabkit.nonlinear.devices import (BipolarTransistor, JunctionDiode, NonlinearDevice, STypeDevice,
                                       TransistorBias, circuit_devices, nonlinear_elements, simulator_options)

__all__ = ["NonlinearProblem", "Solution", "DCPoint", "LoadLine", "CurvePoint", "solve", "dc_point", "dc_points",
           "multistart_points", "load_line", "load_line_points", "all_roots", "GRID_POINTS"]

#: default number of grid points over the device's NDR window
GRID_POINTS = 4001
#: pinned starts per NDR device in the multi-start search
STARTS_PER_DEVICE = 7


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
        network = circuit.without({e.key for e in nonlinear_elements(circuit)})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StabkitWarning)
            for dev in self.devices:
                for label, a, b, ohms in dev.resistors:
                    network.add_resistor(f"{dev.name}.{label}", a, b, ohms)
        for dev in self.devices:
            network.graph.add_nodes_from(dev.nodes)
        self.network = network
        self.system: MNASystem = assemble(network, self.params, validate=False)
        self.node_index = dict(self.system.node_index)
        self.branch_index = dict(self.system.branch_index)
        self.n_nodes = len(self.node_index)
        for br in (br for dev in self.devices for br in dev.own_branches):
            self.branch_index[br] = len(self.branch_index) + self.n_nodes
        self.size = n = self.n_nodes + len(self.branch_index)
        self.ctrl_slices, self.out_slices = [], []
        c0 = o0 = 0
        for dev in self.devices:
            self.ctrl_slices.append(slice(c0, c0 + dev.n_controls))
            self.out_slices.append(slice(o0, o0 + dev.n_outputs))
            c0, o0 = c0 + dev.n_controls, o0 + dev.n_outputs
        # junction diodes (ESD clamps, package diodes: often most of the devices) are evaluated together in the
        # DC Newton, one array operation for all of them (the same arithmetic as JunctionDiode.evaluate)
        group = [k for k, dev in enumerate(self.devices) if type(dev) is JunctionDiode]
        self._diodes = None if len(group) < 2 else (
            np.array(group), np.array([self.ctrl_slices[k].start for k in group]),
            np.array([self.out_slices[k].start for k in group]),
            np.array([self.devices[k].d.is_ for k in group]),
            np.array([self.devices[k].d.n * self.devices[k].d.vt for k in group]),
            np.array([self.devices[k].gmin for k in group], dtype=float))
        self.P, self.S, self.own = np.zeros((c0, n)), np.zeros((n, o0)), np.zeros((n, n))
        for dev, cs, os_ in zip(self.devices, self.ctrl_slices, self.out_slices):
            for k, ctrl in enumerate(dev.controls):
                if ctrl[0] == "v":
                    self._stamp(self.P, cs.start + k, ctrl[1], ctrl[2], dev, rows=True)
                elif ctrl[1] in self.branch_index:
                    self.P[cs.start + k, self.branch_index[ctrl[1]]] = 1.0
                else:
                    raise CircuitError(f"{dev.name}: controlling current of {ctrl[1]!r}: no voltage source or own "
                                       "branch of that name")
            for k, out in enumerate(dev.outputs):
                if out.kind == "i":
                    self._stamp(self.S, os_.start + k, out.p, out.m, dev, rows=False)
                else:  # a voltage carried by the device's own branch current
                    br = self.branch_index[out.branch]
                    self._stamp(self.own, br, out.p, out.m, dev, rows=True)
                    self._stamp(self.own, br, out.p, out.m, dev, rows=False)
                    self.S[br, os_.start + k] = -1.0
            for a, b, g in getattr(dev, "dc_conductances", ()):  # SPICE's gmin from a substrate to its junction
                for node, value in ((a, g), (b, -g)):  # row a: +g·(v_a − v_b); row b: −g·(v_a − v_b)
                    self._stamp(self.own, self._index(node, dev), a, b, dev, rows=True, value=value)
        self.A = np.real(self._padded(self.system.M(0.0).toarray())) + self.own
        self.b = np.zeros(n)
        for e in network:
            if e.kind in ("V", "I"):
                dc = network.values(e, self.params).get("dc", 0.0)
                if e.kind == "V":
                    self.b[self.branch_index[e.key]] = dc
                else:  # dc flows from n+ through the source to n−: it leaves n+ and enters n−
                    for node, sign in ((e.nodes[0], -dc), (e.nodes[1], dc)):
                        if node != GROUND:
                            self.b[self.node_index[node]] += sign

    def _index(self, node: str, dev: NonlinearDevice) -> int | None:
        if node == GROUND:
            return None
        if node not in self.node_index:
            raise CircuitError(f"{dev.name}: node {node} is connected to nothing else")
        return self.node_index[node]

    def _stamp(self, mat, line, p, m, dev, *, rows: bool, value: float = 1.0):
        """``+value`` at node ``p``, ``−value`` at node ``m`` in row (``rows``) or column ``line`` of ``mat``."""
        if line is None:
            return
        for node, sign in ((p, value), (m, -value)):
            idx = self._index(node, dev)
            if idx is not None:
                if rows:
                    mat[line, idx] += sign
                else:
                    mat[idx, line] += sign

    def _padded(self, matrix: np.ndarray) -> np.ndarray:
        out = np.zeros((self.size, self.size), dtype=matrix.dtype)
        out[: matrix.shape[0], : matrix.shape[1]] = matrix
        return out

    @property
    def ndr_devices(self) -> list[int]:
        return [k for k, d in enumerate(self.devices) if d.family == "ndr"]

    def evaluate(self, x: np.ndarray, charges: bool = True):
        """All devices at the stacked control values ``x`` (shape ``(T, n_controls)``):
        ``(f, q, df, dq)`` with block-diagonal derivatives ``(T, n_outputs, n_controls)``. ``charges=False``
        (DC Newton): ``q`` and ``dq`` are not needed, and devices that can skip them do (left zero)."""
        x = np.atleast_2d(x)
        n_out, n_ctrl = self.S.shape[1], self.P.shape[0]
        f, q = np.zeros((x.shape[0], n_out)), np.zeros((x.shape[0], n_out))
        df, dq = np.zeros((x.shape[0], n_out, n_ctrl)), np.zeros((x.shape[0], n_out, n_ctrl))
        skip = ()
        if not charges and self._diodes is not None:
            skip, ctrl, out, i_sat, n_vt, gmin = self._diodes
            v = x[:, ctrl]
            i, g = gp.junction_current(v, i_sat, n_vt)  # gp.diode_current, for every diode at once
            f[:, out], df[:, out, ctrl] = i + gmin * v, g + gmin
            skip = set(skip.tolist())
        for k, (dev, cs, os_) in enumerate(zip(self.devices, self.ctrl_slices, self.out_slices)):
            if k in skip:
                continue
            ev = dev.evaluate(x[:, cs], charges=False) if not charges and dev.dc_only else dev.evaluate(x[:, cs])
            f[:, os_], q[:, os_], df[:, os_, cs], dq[:, os_, cs] = ev.f, ev.q, ev.df, ev.dq
        return f, q, df, dq

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

    def newton(self, y0: np.ndarray, states: list | None = None, *, lam: float = 1.0, gshunt: float = 0.0,
               pins: Mapping[int, float] | None = None, max_iter: int = 150):
        """Newton on the companion model from ``y0``: ``(y, states, converged, iterations)``.

        ``states`` are the devices' control values of the previous iteration (limiting is relative to them;
        None: each device's :meth:`~NonlinearDevice.start`, else the controls of ``y0``). ``pins`` hold NDR
        devices at a value of their first control (a strong linear pull), for starting points."""
        y = np.array(y0, dtype=float)
        fresh = states is None
        if fresh:
            x_all = self.P @ y
            states = [x_all[cs] if start is None else start
                      for start, cs in ((dev.start(), cs) for dev, cs in zip(self.devices, self.ctrl_slices))]
        states = [np.array(s, dtype=float) for s in states]
        node_diag = np.diag((np.arange(self.size) < self.n_nodes) * gshunt)
        for it in range(max_iter):
            x_all, x_lim, limited = self.P @ y, np.zeros(self.P.shape[0]), False
            for k, (dev, cs) in enumerate(zip(self.devices, self.ctrl_slices)):
                if not (fresh and it == 0):
                    states[k], lim = dev.limit(x_all[cs], states[k])
                    limited = limited or lim
                x_lim[cs] = states[k]
            with np.errstate(all="ignore"):
                f, _, df, _ = self.evaluate(x_lim, charges=False)
            f, df = f[0].copy(), df[0].copy()
            for k, value in (pins or {}).items():
                o, c = self.out_slices[k].start, self.ctrl_slices[k].start
                strength = 1e4 if self.devices[k].outputs[0].kind == "i" else 1e9
                f[o] += strength * (x_lim[c] - value)
                df[o, c] += strength
            if not (np.all(np.isfinite(f)) and np.all(np.isfinite(df))):
                return y, states, False, it + 1
            jac = self.A + self.S @ df @ self.P + node_diag
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
            jac_ext, b_ext = jac.astype(np.longdouble), b.astype(np.longdouble)
            for _ in range(steps):
                x = x + la.lu_solve(lu, (b_ext - jac_ext @ x.astype(np.longdouble)).astype(float))
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
    y, states, ok, total = problem.newton(zero)
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
            ok = step >= 1e-6
    if ok:
        return Solution(True, y, "source stepping", total)
    for y in multistart_points(problem, first=None, distinct=False, limit=1):
        return Solution(True, y, "pinned start", total)
    return Solution(False, y, "none converged", total)


def multistart_points(problem: NonlinearProblem, starts_per_device: int = STARTS_PER_DEVICE, *,
                      first: Solution | None | bool = True, distinct: bool = True, limit: int | None = None
                      ) -> list[np.ndarray]:
    """Distinct DC solutions from the zero state (:func:`solve`, unless ``first`` is None) and from starts with every
    NDR device pinned on a grid of ``starts_per_device`` values across its window (all combinations), each pinned
    solution released. Unlike the one-device load-line search this cannot promise that no solution is missed."""
    found: list[np.ndarray] = []
    if first is True:
        first = solve(problem)
    if first is not None and first.converged:
        found.append(first.y)
    ndr = problem.ndr_devices
    grids = []
    for k in ndr:
        lo, hi = problem.devices[k].curve.window()
        grids.append(np.linspace(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo), starts_per_device))
    y = np.zeros(problem.size)
    for combo in (itertools.product(*grids) if ndr else ()):
        pins = dict(zip(ndr, combo))
        y_pin, _, ok, _ = problem.newton(y, [problem.controls(y, k) for k in range(len(problem.devices))]
                                         if y.any() else None, pins=pins)
        if not ok:
            y_pin, _, ok, _ = problem.newton(np.zeros(problem.size), pins=pins)
        if not ok:
            continue
        y = y_pin
        sol, _, ok, _ = problem.newton(y_pin, [problem.controls(y_pin, k) for k in range(len(problem.devices))])
        scale = 1e-9 * (1.0 + np.max(np.abs(sol)))
        if ok and not (distinct and any(np.max(np.abs(sol - other)) <= scale for other in found)):
            found.append(sol)
            if limit is not None and len(found) >= limit:
                break
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

    def root(a: float, b: float) -> float:
        return float(brentq(scalar, a, b, xtol=xtol, rtol=8.9e-16))

    roots = [(float(x[k]), False) for k in np.flatnonzero(f == 0.0)]
    roots += [(root(x[k], x[k + 1]), False) for k in np.flatnonzero(f[:-1] * f[1:] < 0)]
    af = np.abs(f)
    for k in range(1, n - 1):
        if not (af[k] <= af[k - 1] and af[k] <= af[k + 1]) or f[k] == 0.0 or f[k - 1] * f[k] <= 0 \
                or f[k] * f[k + 1] <= 0:
            continue  # not a local minimum of |f|, or a sign change is right there (already found)
        sign = 1.0 if f[k] > 0 else -1.0
        xm = float(minimize_scalar(lambda t: sign * scalar(t), bounds=(x[k - 1], x[k + 1]), method="bounded",
                                   options={"xatol": xtol}).x)
        fm = scalar(xm)
        if fm * sign < 0:  # two roots hidden between grid points
            roots += [(root(x[k - 1], xm), False), (root(xm, x[k + 1]), False)]
        elif abs(fm) <= ftol:
            roots.append((xm, True))
    merged: list[tuple[float, bool]] = []
    spacing = (hi - lo) / max(n - 1, 1)
    for r, tangent in sorted(roots):
        if merged and abs(r - merged[-1][0]) <= 1e-9 * spacing + xtol:
            merged[-1] = (merged[-1][0], merged[-1][1] or tangent)
        else:
            merged.append((r, tangent))
    return merged


def load_line_points(device: Device, line: LoadLine, n: int = GRID_POINTS, rtol_tangent: float = 1e-12
                     ) -> list[CurvePoint]:
    """All intersections of ``line`` with the device curve, sorted by the controlling variable.

    A point counts as *tangent* when the residual's extremum is within ``rtol_tangent`` of the residual's
    scale (``|a|·|v| + |b|·|i| + |c|`` over the window). Outside the device window the curve rises, so with a
    passive line each outer branch holds at most one intersection, bracketed by doubling."""
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
    vv, ii = device.curve(np.linspace(w_lo, w_hi, 201))
    scale = float(np.max(np.abs(a * vv) + np.abs(b * ii)) + abs(c))
    found = all_roots(residual, w_lo, w_hi, n=n, ftol=rtol_tangent * scale)
    for edge, direction in (((w_lo, -1.0), (w_hi, 1.0)) if line.passive else ()):
        if float(residual(np.array([edge]))[0]) * direction >= 0:
            continue  # below the window F rises: a root there iff F(w_lo) > 0; above it iff F(w_hi) < 0
        step = span
        with np.errstate(over="ignore"):
            while float(residual(np.array([edge + direction * step]))[0]) * direction <= 0:
                step *= 2.0
                if step > 1e60 * span:  # pragma: no cover - only for a curve that never rises
                    raise CircuitError("no bracket for the outer operating point: the device curve does not rise")
        lo_b, hi_b = sorted((edge, edge + direction * step))
        found.append((float(brentq(lambda t: float(residual(np.array([t]))[0]), lo_b, hi_b, xtol=1e-15,
                                   rtol=8.9e-16)), False))
    out = []
    for xr, tangent in sorted(found):
        y = float(device.response(xr))
        out.append(CurvePoint(*((float(xr), y) if n_type else (y, float(xr))), tangent=tangent))
    return out


def load_line(problem: NonlinearProblem, k: int = 0) -> tuple[LoadLine, Callable[[float, float], np.ndarray]]:
    """The rest of the circuit seen by NDR device ``k`` at DC — the other devices must be absent — as a load line,
    with the solution ``y(v, i)`` along it. Both come from the problem's own matrices: with the device's response
    ``t`` (its current, N-type; its voltage, S-type) as a free source, ``A·y = b − S_k·t`` is affine in ``t``
    (Thevenin); where ``A`` is singular (no DC path but the device) the controlling variable is imposed instead
    (Norton, a bordered system)."""
    dev = problem.devices[k]
    o, c = problem.out_slices[k].start, problem.ctrl_slices[k].start
    s, p = problem.S[:, o], problem.P[c]
    n_type = not isinstance(dev, STypeDevice)
    lu = _factor(problem.A)
    if lu is not None:  # y = y0 + t·y1
        y0, y1 = la.lu_solve(lu, problem.b), la.lu_solve(lu, -s)
        x0, x1 = float(p @ y0), float(p @ y1)
        line = LoadLine(1.0, -x1, x0) if n_type else LoadLine(-x1, 1.0, x0)
        return line, lambda v, i: y0 + (i if n_type else v) * y1
    bordered = np.block([[problem.A, s[:, None]], [p[None, :], np.zeros((1, 1))]])
    lu = _factor(bordered)
    if lu is None:
        raise CircuitError(f"the DC equations of the circuit around {dev.name} are singular: a node has no DC path "
                           "(only capacitors or current sources reach it) or voltage sources/inductors form a loop")
    z0 = la.lu_solve(lu, np.append(problem.b, 0.0))
    z1 = la.lu_solve(lu, np.append(np.zeros(problem.size), 1.0))  # y = y0 + x·y1, t = t0 + x·t1
    t0, t1 = float(z0[-1]), float(z1[-1])
    line = LoadLine(-t1, 1.0, t0) if n_type else LoadLine(1.0, -t1, t0)
    return line, lambda v, i: z0[:-1] + (v if n_type else i) * z1[:-1]


def _factor(matrix: np.ndarray):
    """LU factors, or None when the matrix is (numerically) singular."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.LinAlgWarning)
        try:
            lu = la.lu_factor(matrix)
        except (la.LinAlgError, ValueError):
            return None
    if np.min(np.abs(np.diag(lu[0]))) <= 1e-12 * max(np.max(np.abs(matrix)), 1e-300):
        return None
    return lu


# ---------------------------------------------------------------------------------------------------------
# operating points as results


@dataclass
class DCPoint:
    """A DC operating point of a circuit with nonlinear devices.

    ``voltages``: every node (internal device nodes ``<Q>.bi`` ... included), ``currents``: branch current of
    every V source and inductor (from its ``n+`` through it to ``n−``), ``method``: how it was found. ``transistors``,
    ``diodes``: bias records by element name; ``ndr``: ``(v, i)`` of each NDR device; ``devices``: what each device
    reports."""

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
        index = self.problem.system.branch_index
        return {e.name.lower(): float(self.y[index[e.key]]) for e in self.problem.network
                if e.kind in ("V", "L") and e.key in index}

    def controls(self, k: int) -> np.ndarray:
        return self.problem.controls(self.y, k)

    @property
    def transistors(self) -> dict[str, TransistorBias]:
        volts = self.voltages
        return {d.name: d.bias(self.controls(k), volts) for k, d in enumerate(self.problem.devices)
                if isinstance(d, BipolarTransistor)}

    @property
    def diodes(self) -> dict[str, dict]:
        return {d.name: d.describe(self.controls(k)) for k, d in enumerate(self.problem.devices)
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
                "diodes": list(self.diodes.values()), "devices": self.devices,
                "method": self.method, "iterations": self.iterations, "temp_c": self.problem.temp_c,
                "gmin": self.problem.gmin, "notes": [*self.device_notes, *self.notes]}

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
        raise CircuitError("DC operating point: Newton's method did not converge (plain, with gmin stepping, with "
                           "source stepping, or from pinned starts); check the bias network (a node without a DC "
                           "path?)")
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
        line, y_of = load_line(problem)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            points = load_line_points(problem.devices[0].curve, line, n=n_grid)
        if not points:
            raise CircuitError("operating points: the load line does not meet the device curve (no DC solution)")
        notes = [str(w.message) for w in caught]
        return [DCPoint(problem, y_of(cp.v, cp.i), "load line", 0, tangent=bool(cp.tangent), notes=list(notes))
                for cp in points]
    if not ndr:
        sol = _warm_solve(problem, start) if start is not None else None
        sol = sol if sol is not None else solve(problem)
        if not sol.converged:
            raise CircuitError("DC operating point: Newton's method did not converge (plain, with gmin stepping, "
                               "or with source stepping); check the bias network (a node without a DC path?)")
        kind = "behavioural sources" if any(d.family == "behavioural" for d in problem.devices) else \
            "a transistor circuit"
        note = (f"DC operating point by {sol.method} ({sol.iterations} iterations); further operating points of "
                f"{kind}, if any, are not searched")
        return [DCPoint(problem, sol.y, sol.method, sol.iterations, notes=[note])]
    found = multistart_points(problem)
    if not found:
        raise CircuitError("operating points: Newton's method (with gmin and source stepping) found no DC solution")
    found.sort(key=lambda y: float(problem.controls(y, ndr[0])[0]))
    note = (f"{len(problem.devices)} nonlinear devices: operating points found by damped Newton from "
            f"{STARTS_PER_DEVICE ** len(ndr) + 1} starts; unlike the one-device load-line search, points may be missed")
    return [DCPoint(problem, y, "multi-start Newton", 0, notes=[note]) for y in found]


def _warm_solve(problem: NonlinearProblem, start: DCPoint) -> Solution | None:
    """Newton from ``start``'s solution with its device states, or ``None`` when the layouts differ or it fails."""
    if start.y.shape != (problem.size,) or start.problem.system.node_index != problem.system.node_index:
        return None
    x_all = problem.P @ start.y  # limiting relative to the start's own controls, not the devices' cold starts
    y, _, ok, its = problem.newton(start.y, [x_all[cs] for cs in problem.ctrl_slices])
    return Solution(True, y, "newton from the given start", its) if ok else None
