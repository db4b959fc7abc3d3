"""The non-Foster design steps as library calls: equivalent L or C at a port, load correction, resistance
compensation, transmission-line loads, and the admissible external load per design.

A negative-impedance converter realises ``L_eq(f) = Im Zin / ω`` (or ``C_eq(f) = −1/(ω Im Zin)``) at its port.
The negative-inductor paper (``../shared/seeds/DIGEST.md`` §2) designs one in steps, each a call here:

- :func:`equivalent` — ``L_eq(f)`` / ``C_eq(f)`` from a port impedance;
- :func:`band_statistics` — min, max and the deviation ``(X − target)/|target|`` over a band;
- :func:`tolerance_band` — the widest contiguous frequency range containing a given frequency (the design
  band's geometric centre) where ``|X/target − 1| ≤ tol``, edges located by root finding;
- :func:`tune_center` — step 4: the value of one load element that makes the deviation over the band
  symmetric (``(max + min)/2 = target``); :func:`tune_widest` — the value that makes the ±tol band widest
  (Tables 2–4);
- :func:`compensate_resistance` — step 5: a load resistor that makes ``Re Zin`` over the band symmetric
  about zero;
- :func:`line_section` and :func:`with_line_load` — step 3, Eqs. 1–3: the transmission-line section
  (``ω0·Ls = Z0·sin θ``, ``ω0·Cp = tan(θ/2)/Z0``) that replaces a lumped load inductor;
- :func:`design` — all of it for one design (tune, compensate, band, the admissible range of an external
  element through :func:`stabkit.analysis.loads.admissible_range`, whose verdicts come from
  :func:`stabkit.analysis.verdict.decide_linear`), and :func:`design_columns` /
  :func:`design_rows` — one design per value of a second parameter (re-biased and re-tuned per column:
  Tables 2 and 3) or per target and tolerance (Table 4).

Circuits with transistors are linearized at their DC point (per column where a column moves it); the
port impedance is that of the circuit with the *external* elements (the source and ``L_ext`` of the
stability sweep) removed.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la
from scipy.optimize import brentq

from stabkit.analysis.mna import assemble
from stabkit.analysis.ports import impedance, port_pair
from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError, ParameterError

__all__ = ["equivalent", "port_impedance", "band_grid", "band_statistics", "tolerance_band", "line_section", "with_line_load",
           "PortModel", "tune_center", "tune_widest", "compensate_resistance", "EquivDesign", "design",
           "design_columns", "design_rows", "DEFAULT_BAND_POINTS"]

TWO_PI = 2.0 * np.pi
#: frequencies (log-spaced) on which min/max over the design band are taken
DEFAULT_BAND_POINTS = 121
#: frequencies (log-spaced) of the search for the ±tol band edges (refined by root finding)
DEFAULT_SEARCH_POINTS = 241


# ----------------------------------------------------------------------------------------- closed forms
def equivalent(z: np.ndarray, freqs_hz: np.ndarray, kind: str = "L") -> np.ndarray:
    """``L_eq = Im Z/ω`` (H) for ``kind="L"`` or ``C_eq = −1/(ω Im Z)`` (F) for ``kind="C"``."""
    w = TWO_PI * np.asarray(freqs_hz, dtype=float)
    z = np.asarray(z, dtype=complex)
    if kind == "L":
        return z.imag / w
    if kind == "C":
        with np.errstate(divide="ignore"):
            return -1.0 / (w * z.imag)
    raise ValueError(f"kind must be 'L' or 'C', got {kind!r}")


def band_grid(band: tuple[float, float], points: int = DEFAULT_BAND_POINTS) -> np.ndarray:
    """Log-spaced frequencies over ``band = (f_lo, f_hi)`` (Hz), ends included."""
    lo, hi = float(band[0]), float(band[1])
    if not 0 < lo < hi:
        raise ValueError(f"a band needs 0 < f_lo < f_hi, got {band}")
    return np.geomspace(lo, hi, points)


def band_statistics(values: np.ndarray, target: float) -> dict:
    """Min, max and the deviation ``(X − target)/|target|`` in % (``[most negative, most positive]``) over
    the values of a band (the paper's "−0.16/+0.06 nH = −3.2/+1.2 %" for −5.16 … −4.94 nH at −5 nH)."""
    v = np.asarray(values, dtype=float)
    dev = (v - target) / abs(target) * 100.0
    return {"min": float(v.min()), "max": float(v.max()), "deviation_pct": [float(dev.min()), float(dev.max())]}


def tolerance_band(freqs_hz: np.ndarray, values: np.ndarray, target: float, tol: float, centre_hz: float,
                   refine=None) -> tuple[float, float] | None:
    """The widest contiguous range of ``freqs_hz`` containing ``centre_hz`` where ``|X/target − 1| ≤ tol``.

    ``values`` are ``X`` on the (sorted) grid ``freqs_hz``; ``refine(f) -> X`` (optional) evaluates ``X`` at one
    frequency, and each edge is then located between grid points by Brent's method. ``None`` when ``X`` is
    outside the tolerance at ``centre_hz`` (or the grid does not reach it). An edge at the grid's end means
    "at least to there"."""
    f = np.asarray(freqs_hz, dtype=float)
    err = np.abs(np.asarray(values, dtype=float) / target - 1.0) - tol
    if not f[0] <= centre_hz <= f[-1]:
        return None
    k = int(np.searchsorted(f, centre_hz))
    k = min(max(k, 0), f.size - 1)
    if k > 0 and abs(math.log(f[k - 1] / centre_hz)) < abs(math.log(f[k] / centre_hz)):
        k -= 1
    if refine is not None:
        e_centre = abs(refine(centre_hz) / target - 1.0) - tol
    else:
        e_centre = err[k]
    if not e_centre <= 0:
        return None
    lo = k
    while lo > 0 and err[lo - 1] <= 0:
        lo -= 1
    hi = k
    while hi < f.size - 1 and err[hi + 1] <= 0:
        hi += 1
    if err[k] > 0:  # the centre is inside but its nearest grid point is not: a very narrow band
        lo = hi = k

    def e(x):
        return abs(refine(x) / target - 1.0) - tol

    f_lo, f_hi = float(f[lo]), float(f[hi])
    if refine is not None:
        if lo > 0:
            a, b = (f[lo - 1], f[lo]) if err[lo] <= 0 else (f[lo - 1], centre_hz)
            f_lo = float(brentq(e, a, b, xtol=1e-9 * b, rtol=1e-10))
        if hi < f.size - 1:
            a, b = (f[hi], f[hi + 1]) if err[hi] <= 0 else (centre_hz, f[hi + 1])
            f_hi = float(brentq(e, a, b, xtol=1e-9 * b, rtol=1e-10))
    return f_lo, f_hi


def line_section(ls: float, z0: float, f0: float) -> dict[str, float]:
    """The transmission-line section equivalent to a lumped load inductor ``ls`` at ``f0`` (Eqs. 1–3):
    ``θ = arcsin(ω0·Ls/Z0)`` (rad), its Π-equivalent shunt capacitances ``Cp = tan(θ/2)/(ω0·Z0)`` (F) and the
    delay ``td = θ/ω0`` (s). Valid for ``ω0·Ls ≤ Z0`` (``θ ≤ 90°``)."""
    w0 = TWO_PI * float(f0)
    ratio = w0 * float(ls) / float(z0)
    if not 0 < ratio <= 1:
        raise ValueError(f"a line of Z0 = {z0:g} Ω cannot replace {ls:g} H at {f0:g} Hz: ω0·Ls/Z0 = {ratio:.4g} "
                         "must lie in (0, 1] (θ ≤ 90°); raise Z0")
    theta = math.asin(ratio)
    return {"theta_rad": theta, "theta_deg": math.degrees(theta), "cp": math.tan(theta / 2) / (w0 * z0),
            "td": theta / w0, "z0": float(z0), "f0": float(f0), "ls": float(ls)}


def with_line_load(circuit: Circuit, inductor: str, z0: float, f0: float) -> Circuit:
    """A copy of ``circuit`` whose inductor ``inductor`` is replaced by the equivalent line section (step 3):
    a lossless line ``T`` between the inductor's nodes (ground return) with ``Z0 = z0`` and
    ``TD = arcsin(ω0·Ls/Z0)/ω0``, where ``Ls`` is the inductor's value — a number or its expression, so tuning
    the parameter behind it tunes the line's electrical length (θ stays at 90° where ``ω0·Ls > Z0``)."""
    e = circuit.element(inductor)
    if e.kind != "L":
        raise CircuitError(f"{inductor}: a line section replaces an inductor, not a {e.kind} element")
    value = e.values["value"]
    ls = f"({value})" if isinstance(value, str) else f"{float(value)!r}"
    w0 = f"{TWO_PI * float(f0)!r}"
    out = circuit.without([e.name])
    # θ saturates at 90° where ω0·Ls would exceed Z0 (a tuner may try such values on its way)
    out.add_tline(f"T{e.name}", e.nodes[0], GROUND, e.nodes[1], GROUND, float(z0),
                  td=f"asin(min({w0}*{ls}/{float(z0)!r}, 1))/{w0}")
    return out


# ----------------------------------------------------------------------------------------- the port
class _QZPort:
    """``Z(jω)`` of a lumped system at one port from its complex QZ factorization (computed once)."""

    #: from this many frequencies on, the triangular solves run as one back substitution over all of them
    BATCH = 8

    def __init__(self, system, node_plus: str, node_minus: str):
        inc = system.incidence(node_plus, node_minus)
        if not inc.any():
            raise CircuitError(f"port {node_plus},{node_minus}: the two nodes are the same")
        self.S, self.T, Q, Zm = la.qz(system.G.toarray(), system.C.toarray(), output="complex")
        self.qb = Q.conj().T @ inc
        self.bz = inc @ Zm

    def __call__(self, freqs: np.ndarray) -> np.ndarray:
        if freqs.size >= self.BATCH:
            return self._batch(freqs)
        out = np.empty(freqs.shape, dtype=complex)
        for i, f in enumerate(freqs):
            m = self.S + (1j * TWO_PI * f) * self.T
            d = np.abs(np.diag(m))
            if d.min() <= 1e-14 * max(d.max(), 1e-300):
                out[i] = np.inf
                continue
            out[i] = self.bz @ la.solve_triangular(m, self.qb, check_finite=False)
        return out

    def _batch(self, freqs: np.ndarray) -> np.ndarray:
        """Back substitution on ``S + jωT`` (upper triangular) for all frequencies at once, row by row."""
        s = 1j * TWO_PI * np.asarray(freqs, dtype=float).ravel()
        S, T, qb = self.S, self.T, self.qb
        diag = np.diag(S)[:, None] + np.diag(T)[:, None] * s[None, :]
        d = np.abs(diag)
        singular = d.min(axis=0) <= 1e-14 * np.maximum(d.max(axis=0), 1e-300)
        diag[:, singular] = 1.0
        x = np.empty((qb.size, s.size), dtype=complex)  # unknown × frequency
        for i in range(qb.size - 1, -1, -1):
            x[i] = (qb[i] - S[i, i + 1:] @ x[i + 1:] - s * (T[i, i + 1:] @ x[i + 1:])) / diag[i]
        out = self.bz @ x
        out[singular] = np.inf
        return out.reshape(np.shape(freqs))


class _DensePort:
    """``Z(jω)`` of a (small) distributed system at one port: a dense solve of ``G + jωC + D(jω)`` per frequency
    (batched over the frequencies)."""

    #: complex entries of the stacked matrices solved at once (about 64 MB)
    CHUNK_ENTRIES = 1 << 22

    def __init__(self, system, node_plus: str, node_minus: str):
        self.inc = system.incidence(node_plus, node_minus)
        if not self.inc.any():
            raise CircuitError(f"port {node_plus},{node_minus}: the two nodes are the same")
        self.system = system
        self.G = system.G.toarray().astype(complex)
        self.C = system.C.toarray()
        self.rows, self.cols = np.nonzero((self.G != 0) | (self.C != 0))

    def __call__(self, freqs: np.ndarray) -> np.ndarray:
        f = np.asarray(freqs, dtype=float).ravel()
        out = np.empty(f.shape, dtype=complex)
        n = max(self.G.shape[0], 1)
        step = max(self.CHUNK_ENTRIES // (n * n), 1)
        for lo in range(0, f.size, step):
            out[lo:lo + step] = self._solve(f[lo:lo + step])
        return out.reshape(np.shape(freqs))

    def _solve(self, f: np.ndarray) -> np.ndarray:
        s = 1j * TWO_PI * f
        m = np.zeros((f.size,) + self.G.shape, dtype=complex)  # G + sC, written where either is non-zero
        m[:, self.rows, self.cols] = self.G[self.rows, self.cols][None, :] + s[:, None] * self.C[self.rows, self.cols][None, :]
        for entry in self.system.distributed:
            m[:, entry.row, entry.col] += np.asarray(entry.fn(s), dtype=complex)
        b = self.inc.astype(complex)
        try:
            return np.linalg.solve(m, np.broadcast_to(b[:, None], (f.size, b.size, 1)))[:, :, 0] @ self.inc
        except np.linalg.LinAlgError:  # some frequency is singular: one at a time
            out = np.empty(f.size, dtype=complex)
            for i in range(f.size):
                try:
                    out[i] = self.inc @ np.linalg.solve(m[i], b)
                except np.linalg.LinAlgError:
                    out[i] = np.inf
            return out


def port_impedance(system, freqs_hz: np.ndarray, node_plus: str, node_minus: str = GROUND) -> np.ndarray:
    """``Z(jω)`` between two nodes, like :func:`stabkit.analysis.ports.impedance`, but for lumped systems by one
    complex QZ factorization ``G = Q·S·Zᴴ``, ``C = Q·T·Zᴴ`` and a triangular solve per frequency (exact; over a
    few hundred frequencies an order of magnitude faster); distributed systems by a dense solve per frequency."""
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    if system.n == 0:
        return impedance(system, freqs, node_plus, node_minus)
    if not system.is_lumped:
        return _DensePort(system, node_plus, node_minus)(freqs)
    return _QZPort(system, node_plus, node_minus)(freqs)


class PortModel:
    """The port impedance of a circuit as a function of parameter overrides: the (linearized) circuit with the
    external elements removed, re-biased where an override moves the DC point.

    Parameters
    ----------
    circuit : Circuit
        Linear, or with transistors/diodes (linearized at ``params``).
    port : str or (str, str)
        The port (a node to ground, or two nodes).
    params : mapping
        Fixed overrides (``.param`` or element names, SI).
    external : iterable of str
        Elements removed for the port impedance (the source and series ``L_ext`` of the stability sweep).
    point : int, optional
        Operating point (1-based) for circuits with several.
    """

    def __init__(self, circuit: Circuit, port, params: Mapping[str, float] | None = None,
                 external: Iterable[str] = (), point: int | None = None):
        from stabkit.analysis.points import linear_point_near, nonlinear_kinds

        self.port = port_pair(port)
        self.params = {k.lower(): float(v) for k, v in (params or {}).items()}
        self.external = [x for x in external]
        for name in self.external:
            if name not in circuit:
                raise CircuitError(f"--external {name}: no element of that name in the circuit")
        self.source = circuit
        self.point_index = point
        self.nonlinear = any(nonlinear_kinds(circuit))
        self._moving: dict[str, bool] = {}
        self.point = linear_point_near(circuit, self.params, point=point) if self.nonlinear else None
        self.linear = self.point.circuit if self.point is not None else circuit.with_values(self.params)
        self._port_circuit = self.linear.without(self.external)
        self._solvers: dict[tuple, object] = {}

    def __getstate__(self) -> dict:
        # for a process pool: the port solvers stay behind (rebuilt on demand), and so does the DC solution's
        # nonlinear problem (the warm start of a re-bias; a distributed system's entries are closures)
        state = dict(self.__dict__)
        state["_solvers"] = {}
        if self.point is not None and self.point.dc is not None:
            state["point"] = dataclasses.replace(self.point, dc=None)
        return state

    def with_params(self, overrides: Mapping[str, float]) -> PortModel:
        """The same port with more fixed overrides. Where none of them moves the DC point the linearization (and
        what is known of which names move it) is shared, not redone."""
        over = {k.lower(): float(v) for k, v in overrides.items()}
        if not over:
            return self
        if any(self.moves_bias(k) for k in over):
            return PortModel(self.source, self.port, {**self.params, **over}, self.external, self.point_index)
        out = copy.copy(self)
        out.params = {**self.params, **over}
        out.linear = self.linear.with_values(over)
        out._port_circuit = out.linear.without(out.external)
        out._solvers = {}
        return out

    def moves_bias(self, name: str) -> bool:
        """True when ``name`` takes part in the DC solution (then every evaluation re-biases)."""
        from stabkit.analysis.points import bias_movers

        key = name.lower()
        if not self.nonlinear:
            return False
        if key not in self._moving:
            value = self.value_of(key)
            trial = [value * 0.9, value * 1.1] if value else [0.0, 1e-3]
            self._moving[key] = bool(bias_movers(self.source, {key: trial}, self.params, self.point_index))
        return self._moving[key]

    def value_of(self, name: str) -> float:
        key = name.lower()
        c = self.linear
        if key in c.params:
            return float(c.resolve_params()[key])
        if key in c:
            return float(c.values(c.element(key), c.resolve_params())["value"])
        raise ParameterError(f"no parameter or element {name!r} in the circuit")

    def circuit_at(self, overrides: Mapping[str, float] | None = None, *, with_external: bool = False) -> Circuit:
        """The linear circuit at ``overrides`` (re-biased when one of them moves the DC point)."""
        from stabkit.analysis.points import linear_point_near

        over = {k.lower(): float(v) for k, v in (overrides or {}).items()}
        if over and any(self.moves_bias(k) for k in over):
            lin = linear_point_near(self.source, {**self.params, **over}, near=self.point,
                                    point=self.point_index).circuit
        else:
            lin = self.linear.with_values(over) if over else self.linear
        return lin if with_external else lin.without(self.external)

    def z(self, freqs_hz, overrides: Mapping[str, float] | None = None) -> np.ndarray:
        """``Zin(f)`` (Ω, complex) with the external elements removed."""
        over = {k.lower(): float(v) for k, v in (overrides or {}).items()}
        key = tuple(sorted(over.items()))
        solver = self._solvers.get(key)
        if solver is None:
            if all(k in self._port_circuit.params and not self.moves_bias(k) for k in over):
                system = assemble(self._port_circuit, over)  # parameters only: no copy of the circuit
            else:
                system = assemble(self.circuit_at(over))
            solver = _QZPort(system, *self.port) if system.is_lumped else _DensePort(system, *self.port)
            if len(self._solvers) > 64:
                self._solvers.clear()
            self._solvers[key] = solver
        return solver(np.atleast_1d(np.asarray(freqs_hz, dtype=float)))

    def bias(self) -> dict | None:
        from stabkit.analysis.points import bias_summary

        return bias_summary(self.point) if self.point is not None else None


# ----------------------------------------------------------------------------------------- tuning
def _bracket(fn, x0: float, *, lo: float | None = None, hi: float | None = None, factor: float = 1.08,
             steps: int = 60) -> tuple[float, float]:
    """A sign change of ``fn`` around ``x0`` (expanding geometrically both ways, within [lo, hi])."""
    f0 = fn(x0)
    if f0 == 0:
        return x0, x0
    a = b = x0
    fa = fb = f0
    for _ in range(steps):
        a_new, b_new = a / factor, b * factor
        if lo is not None:
            a_new = max(a_new, lo)
        if hi is not None:
            b_new = min(b_new, hi)
        if a_new != a:
            f_new = fn(a_new)
            if np.sign(f_new) != np.sign(fa):
                return a_new, a
            a, fa = a_new, f_new
        if b_new != b:
            f_new = fn(b_new)
            if np.sign(f_new) != np.sign(fb):
                return b, b_new
            b, fb = b_new, f_new
        factor = min(factor * 1.15, 2.0)
    raise CircuitError(f"no value between {a:.4g} and {b:.4g} brings the deviation to zero")


def tune_center(model: PortModel, name: str, band: tuple[float, float], target: float, *, kind: str = "L",
                fixed: Mapping[str, float] | None = None, points: int = DEFAULT_BAND_POINTS,
                xrtol: float = 1e-9) -> float:
    """Step 4: the value of ``name`` (a ``.param`` or element) for which ``(max + min)/2`` of ``X_eq`` over
    ``band`` equals ``target``: the deviation becomes symmetric. Brent's method on a bracket found around the
    present value."""
    f = band_grid(band, points)
    fixed = dict(fixed or {})

    def mid(v):
        x = equivalent(model.z(f, {**fixed, name: v}), f, kind)
        return 0.5 * (x.max() + x.min()) - target

    x0 = fixed.get(name.lower(), model.value_of(name))
    a, b = _bracket(mid, x0, lo=abs(x0) * 1e-3 if x0 > 0 else None)
    if a == b:
        return a
    return float(brentq(mid, a, b, xtol=xrtol * max(abs(a), abs(b)), rtol=4 * np.finfo(float).eps))


def _log_width(model, name, v, fixed, band, target, tol, kind, search, refine_edges=False) -> tuple[float, tuple | None]:
    centre = math.sqrt(band[0] * band[1])
    over = {**fixed, name: v}
    values = equivalent(model.z(search, over), search, kind)
    refine = (lambda x: float(equivalent(model.z([x], over), np.array([x]), kind)[0])) if refine_edges else None
    edges = tolerance_band(search, values, target, tol, centre, refine=refine)
    if edges is None:
        # outside the tolerance at the centre: a negative score that still points towards it
        x_c = float(equivalent(model.z([centre], over), np.array([centre]), kind)[0])
        return -abs(x_c / target - 1.0), None
    return math.log(edges[1] / edges[0]), edges


def tune_widest(model: PortModel, name: str, band: tuple[float, float], target: float, tol: float, *,
                kind: str = "L", fixed: Mapping[str, float] | None = None, search: tuple[float, float] | None = None,
                span: float = 0.15, scan: int = 61, zoom: int = 9, xrtol: float = 1e-5) -> float:
    """The value of ``name`` for which the ±``tol`` band (containing the band's geometric centre) is widest, in
    the ratio ``f+/f−``.

    The width is not smooth in the tuned value: it jumps where a stretch of ``X_eq`` just outside the tolerance
    dips into it and joins the band. So the search is by scans: ``scan`` values within ``±span`` (relative) of
    the centre-tuned value (moved along while the best lies at an end of the scan), then zoomed scans of ``zoom`` values between the best one's neighbours until they are
    ``xrtol`` (relative) apart."""
    fixed = dict(fixed or {})
    v_c = tune_center(model, name, band, target, kind=kind, fixed=fixed)
    grid_f = np.geomspace(*(search or (band[0] / 10, band[1] * 10)), DEFAULT_SEARCH_POINTS)

    seen: dict[float, float] = {}  # a zoom's ends are the previous round's values

    def score(v):
        v = float(v)
        if v not in seen:
            seen[v] = _log_width(model, name, v, fixed, band, target, tol, kind, grid_f, True)[0]
        return seen[v]

    centre = v_c
    for _ in range(8):  # while the best value lies at an end of the scan, move the scan along
        values = centre * (1 + np.linspace(-span, span, scan))
        scores = [score(v) for v in values]
        k = int(np.argmax(scores))
        if 0 < k < len(values) - 1:
            break
        centre = float(values[k])
    best_v, best_s = float(values[k]), float(scores[k])
    a, b = float(values[max(k - 1, 0)]), float(values[min(k + 1, len(values) - 1)])
    while b - a > xrtol * abs(v_c):
        values = np.linspace(a, b, zoom)
        scores = [score(v) for v in values]
        k = int(np.argmax(scores))
        if scores[k] > best_s:
            best_v, best_s = float(values[k]), float(scores[k])
        a, b = float(values[max(k - 1, 0)]), float(values[min(k + 1, len(values) - 1)])
    return best_v


def compensate_resistance(model: PortModel, name: str, band: tuple[float, float], *,
                          fixed: Mapping[str, float] | None = None, points: int = DEFAULT_BAND_POINTS,
                          xrtol: float = 1e-9) -> float:
    """Step 5: the value of the load resistor ``name`` for which ``Re Zin`` over ``band`` is symmetric about
    zero (``max + min = 0``); the NIC turns the load resistance into a negative one at its port."""
    f = band_grid(band, points)
    fixed = dict(fixed or {})

    def mid(v):
        r = model.z(f, {**fixed, name: v}).real
        return 0.5 * (r.max() + r.min())

    x0 = fixed.get(name.lower(), model.value_of(name)) or 1.0
    a, b = _bracket(mid, max(x0, 1e-3), lo=1e-6)
    if a == b:
        return a
    return float(brentq(mid, a, b, xtol=xrtol * max(abs(a), abs(b)), rtol=4 * np.finfo(float).eps))


# ----------------------------------------------------------------------------------------- designs
@dataclass
class EquivDesign:
    """One design: ``X_eq`` over the band after tuning, the ±tol band and (optionally) the admissible range of
    an external element. ``column`` is ``(name, value)`` of the ``--by`` parameter when there is one."""

    kind: str
    target: float
    band: tuple[float, float]
    tol: float
    freq_hz: np.ndarray
    values: np.ndarray
    z: np.ndarray
    tol_band_hz: tuple[float, float] | None
    tuned: dict[str, float] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    column: tuple[str, float] | None = None
    bias: dict | None = None
    admissible: object | None = None  # AdmissibleRange
    line: dict | None = None
    mode: str = "center"
    warnings: list[str] = field(default_factory=list)

    @property
    def statistics(self) -> dict:
        return band_statistics(self.values, self.target)

    @property
    def f0_hz(self) -> float | None:
        """Geometric centre of the ±tol band."""
        return None if self.tol_band_hz is None else math.sqrt(self.tol_band_hz[0] * self.tol_band_hz[1])

    @property
    def bandwidth_pct(self) -> float | None:
        """``(f+ − f−)/f0`` in %, ``f0`` the ±tol band's geometric centre (the paper's Table 4)."""
        if self.tol_band_hz is None:
            return None
        return (self.tol_band_hz[1] - self.tol_band_hz[0]) / self.f0_hz * 100.0

    @property
    def bandwidth_pct_band_centre(self) -> float | None:
        """``(f+ − f−)/f_c`` in %, ``f_c`` the design band's geometric centre (the paper's Tables 2–3)."""
        if self.tol_band_hz is None:
            return None
        return (self.tol_band_hz[1] - self.tol_band_hz[0]) / math.sqrt(self.band[0] * self.band[1]) * 100.0

    @property
    def intervals(self) -> list[tuple[float, float]] | None:
        return None if self.admissible is None else list(self.admissible.intervals)

    def to_dict(self) -> dict:
        stats = self.statistics
        out = {"kind": self.kind, "target": self.target, "min": stats["min"], "max": stats["max"],
               "deviation_pct": stats["deviation_pct"], "tol_pct": self.tol * 100.0,
               "tol_band_hz": None if self.tol_band_hz is None else list(self.tol_band_hz),
               "tuned": dict(self.tuned), "mode": self.mode, "band_hz": list(self.band), "f0_hz": self.f0_hz,
               "bandwidth_pct": self.bandwidth_pct, "bandwidth_pct_band_centre": self.bandwidth_pct_band_centre,
               "re_z_ohm": [float(self.z.real.min()), float(self.z.real.max())], "warnings": list(self.warnings)}
        if self.column is not None:
            out[self.column[0]] = self.column[1]
        if self.bias is not None:
            out["bias"] = self.bias
        if self.line is not None:
            out["line"] = dict(self.line)
        if self.admissible is not None:
            a = self.admissible
            out["intervals"] = [[float(x), float(y)] for x, y in a.intervals]
            out["loads"] = {"param": a.param, "from": a.lo, "to": a.hi, "verdict": a.verdict,
                            "edges": [e.to_dict() for e in a.edges], "uncertain": [[float(x), r] for x, r in a.uncertain]}
        return out

    def plot(self, ax=None):
        """``X_eq(f)`` over the band with the target and the ±tol lines."""
        from stabkit.report.plots import plot_equivalent

        return plot_equivalent(self.freq_hz, self.values, self.target, self.tol, self.kind, ax=ax,
                               tol_band_hz=self.tol_band_hz)


def design(circuit: Circuit, port, band: tuple[float, float], target: float, *, kind: str = "L",
           tune: str | None = None, mode: str = "center", tol: float = 0.05, compensate: str | None = None,
           params: Mapping[str, float] | None = None, external: Iterable[str] = (),
           loads: tuple[str, float, float] | None = None, search: tuple[float, float] | None = None,
           line: tuple[str, float] | None = None, point: int | None = None, column: tuple[str, float] | None = None,
           band_points: int = DEFAULT_BAND_POINTS, rtol: float = 1e-3, load_points: int = 31,
           fmin: float | None = None, fmax: float | None = None) -> EquivDesign:
    """One negative-L (or C) design at a port: tune, compensate, measure, and find the admissible external load.

    Parameters
    ----------
    circuit : Circuit
        The NIC with its external load (linear or with transistors; linearized at its DC point).
    port : str or (str, str)
        The NIC's input.
    band : (float, float)
        Design band (Hz).
    target : float
        Target ``X_eq`` (H for ``kind="L"``, F for ``"C"``), e.g. ``-5e-9``.
    tune : str, optional
        Load element or parameter to tune (step 4): ``mode="center"`` makes the deviation over the band
        symmetric, ``"widest"`` makes the ±``tol`` band widest.
    compensate : str, optional
        Load resistor to tune so ``Re Zin`` over the band is symmetric about zero (step 5); ``tune`` is then
        re-tuned, alternating until both settle.
    params : mapping, optional
        Overrides (SI); ``column`` (name, value) is one of them, reported as the design's column.
    external : iterable of str
        Elements removed for the port impedance (the source and ``L_ext``).
    loads : (name, lo, hi), optional
        The external element (or parameter) whose admissible range is found (the stability verdicts come
        from :func:`stabkit.analysis.loads.admissible_range`).
    search : (float, float), optional
        Frequency range searched for the ±tol band (default a decade beyond the band each way).
    line : (inductor, z0), optional
        Replace the load inductor by a line section of impedance ``z0`` (step 3, θ from Eq. 3 at the band's
        geometric centre).
    point : int, optional
        DC operating point (1-based) for circuits with several.
    column : (str, float), optional
        The ``--by`` parameter and its value (one of the overrides), reported as the design's column.
    fmin, fmax : float, optional
        Band (Hz) of the NDF behind each stability verdict of the ``loads`` sweep (default: from the circuit,
        :func:`stabkit.analysis.ndf.default_band`; the tail beyond ``fmax`` is still extended until the NDF
        settles).

    Returns
    -------
    EquivDesign
    """
    _check_design_args(mode, tol)
    fixed = {k.lower(): float(v) for k, v in (params or {}).items()}
    if column is not None:
        fixed[column[0].lower()] = float(column[1])
    if line is not None:
        circuit = with_line_load(circuit, line[0], line[1], math.sqrt(band[0] * band[1]))
    steps = _Steps(band=(float(band[0]), float(band[1])), kind=kind, tune=tune, mode=mode, compensate=compensate,
                   search=search, line=line, loads=loads, point=point, band_points=band_points, rtol=rtol,
                   load_points=load_points, fmin=fmin, fmax=fmax)
    with _one_blas_thread():
        model = PortModel(circuit, port, fixed, external, point)
        centred = steps.centre(model, target, tol)
        return steps.finish(model, target, tol, centred, column=column)


def _one_blas_thread():
    """BLAS on one thread while a design runs: its matrices are small (tens of unknowns), where a second BLAS thread
    only spins (the centring of Table 4 took 3x the CPU time and 2.5x the wall time with two), and the rows' pool
    has a process per core already."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _check_design_args(mode: str, tol: float) -> None:
    if mode not in ("center", "widest"):
        raise ValueError(f"mode must be 'center' or 'widest', got {mode!r}")
    if not 0 < tol < 1:
        raise ValueError(f"tol must be a fraction in (0, 1), got {tol}")


@dataclass
class _Centred:
    """The outcome of steps 4–5 alternated (:meth:`_Steps.centre`): the tuned values, notes, the elements still
    being tuned (``None`` where tuning failed) and whether the tolerance entered (then it is a tolerance's own)."""

    tuned: dict[str, float]
    notes: list[str]
    tune: str | None
    compensate: str | None
    uses_tol: bool


@dataclass
class _Steps:
    """The design steps of :func:`design` with their settings, split where :func:`design_rows` shares work: the
    centring (:meth:`centre`, with ``--compensate`` the same for every tolerance of a target) and the rest of
    a design (:meth:`finish`: the widest-band tuning of its tolerance, the ±tol band and the admissible range)."""

    band: tuple[float, float]
    kind: str = "L"
    tune: str | None = None
    mode: str = "center"
    compensate: str | None = None
    search: tuple[float, float] | None = None
    line: tuple[str, float] | None = None
    loads: tuple[str, float, float] | None = None
    point: int | None = None
    band_points: int = DEFAULT_BAND_POINTS
    rtol: float = 1e-3
    load_points: int = 31
    fmin: float | None = None
    fmax: float | None = None

    def centre(self, model: PortModel, target: float, tol: float) -> _Centred:
        """Step 4 (``tune``) and step 5 (``compensate``) alternated until both settle. With ``compensate`` step 4
        centres the deviation whatever ``mode`` (the widest band is :meth:`finish`'s), so the tolerance does not
        enter unless compensation fails."""
        band, kind, search = self.band, self.kind, self.search
        tune, compensate = self.tune, self.compensate
        fixed = model.params
        tuned: dict[str, float] = {}
        notes: list[str] = []
        uses_tol = False
        if compensate:
            tuned[compensate.lower()] = model.value_of(compensate)
        for _ in range(25 if compensate else 1):
            before = dict(tuned)
            if compensate:
                try:
                    tuned[compensate.lower()] = compensate_resistance(model, compensate, band, fixed=tuned)
                except CircuitError as exc:
                    notes.append(f"{compensate} cannot make Re Zin symmetric about zero over the band ({exc}); "
                                 f"kept at {tuned[compensate.lower()]:.6g}")
                    compensate = None
            if tune:
                try:
                    if self.mode == "widest" and not compensate:
                        uses_tol = True
                        tuned[tune.lower()] = tune_widest(model, tune, band, target, tol, kind=kind, fixed=tuned,
                                                          search=search)
                    else:
                        tuned[tune.lower()] = tune_center(model, tune, band, target, kind=kind, fixed=tuned)
                except CircuitError as exc:
                    tuned.setdefault(tune.lower(), model.value_of(tune) if tune.lower() not in fixed else
                                     fixed[tune.lower()])
                    notes.append(f"{tune} cannot centre X_eq on the target over the band ({exc}); kept at "
                                 f"{tuned[tune.lower()]:.6g}")
                    tune = None
            if before and all(abs(tuned[k] - before.get(k, math.inf)) <= 1e-7 * abs(tuned[k]) for k in tuned):
                break
        return _Centred(tuned=tuned, notes=notes, tune=tune, compensate=compensate, uses_tol=uses_tol)

    def tuned(self, model: PortModel, target: float, tol: float, centred: _Centred) -> dict[str, float]:
        """The design's final values: the centring's, with ``tune`` re-tuned for the widest ±tol band
        (``mode="widest"`` with ``compensate``)."""
        tuned = dict(centred.tuned)
        tune = centred.tune
        if centred.compensate and tune and self.mode == "widest":
            tuned[tune.lower()] = tune_widest(model, tune, self.band, target, tol, kind=self.kind, fixed=tuned,
                                              search=self.search)
        return tuned

    def finish(self, model: PortModel, target: float, tol: float, centred: _Centred, *,
               column: tuple[str, float] | None = None, tuned: dict[str, float] | None = None) -> EquivDesign:
        """The rest of one design from its centring: its final values (:meth:`tuned`, unless given), the line
        section's numbers, ``X_eq`` over the band, the ±tol band and the admissible range of the external element
        (verdicts by :func:`stabkit.analysis.loads.admissible_range`)."""
        from stabkit.analysis.loads import admissible_range

        band, kind, search, line = self.band, self.kind, self.search, self.line
        circuit = model.source
        fixed = dict(model.params)
        tuned = dict(tuned) if tuned is not None else self.tuned(model, target, tol, centred)
        line_info = None
        if line is not None:
            e = circuit.element(f"T{line[0]}")
            resolved = circuit.resolve_params({k: v for k, v in {**fixed, **tuned}.items() if k in circuit.params})
            td = float(circuit.values(e, resolved)["td"])
            w0 = TWO_PI * math.sqrt(band[0] * band[1])
            line_info = {"z0": float(line[1]), "f0": w0 / TWO_PI, "theta_deg": math.degrees(td * w0), "td": td,
                         "ls": math.sin(td * w0) * line[1] / w0, "cp": math.tan(td * w0 / 2) / (w0 * line[1])}
        f = band_grid(band, self.band_points)
        z = model.z(f, tuned)
        values = equivalent(z, f, kind)
        grid = np.geomspace(*(search or (band[0] / 10, band[1] * 10)), DEFAULT_SEARCH_POINTS)
        edges = tolerance_band(grid, equivalent(model.z(grid, tuned), grid, kind), target, tol,
                               math.sqrt(band[0] * band[1]),
                               refine=lambda x: float(equivalent(model.z([x], tuned), np.array([x]), kind)[0]))
        admissible = None
        if self.loads is not None:
            name, lo, hi = self.loads
            if model.nonlinear and (model.moves_bias(name) or any(model.moves_bias(k) for k in tuned)):
                full = circuit  # re-biased at every value of the swept element
                ps = {**fixed, **tuned}
            else:
                full = model.circuit_at(tuned, with_external=True)
                ps = {k: v for k, v in {**fixed, **tuned}.items() if k in full.params}
            admissible = admissible_range(full, name, lo, hi, params=ps, rtol=self.rtol, points=self.load_points,
                                          point=self.point, fmin=self.fmin, fmax=self.fmax)
        return EquivDesign(kind=kind, target=float(target), band=band, tol=float(tol), freq_hz=f, values=values, z=z,
                           tol_band_hz=edges, tuned=tuned, params=fixed,
                           column=None if column is None else (column[0].lower(), float(column[1])),
                           bias=model.bias(), admissible=admissible, line=line_info, mode=self.mode,
                           warnings=list(centred.notes))


def design_columns(circuit: Circuit, port, band, target, by: str, values: Sequence[float], *,
                   workers: int | None = None, executor=None, progress: bool = False, **kwargs) -> list[EquivDesign]:
    """One :func:`design` per value of ``by`` (a supply, a stabilizing resistor …): each column re-biased,
    re-linearized and re-tuned (the paper's Tables 2 and 3). The columns run on a process pool of ``workers``
    (default: every core; ``executor``: a pool of the caller's) with a progress bar on a terminal (``progress``),
    as :func:`design_rows`."""
    from stabkit.analysis.loads import _run_jobs

    job = _ColumnDesign(circuit, port, band, target, by, kwargs)
    with _one_blas_thread():
        return _run_jobs(job, [float(v) for v in values], executor, workers, progress, f"designs over {by}")


class _ColumnDesign:
    """One column of :func:`design_columns` (picklable)."""

    def __init__(self, circuit, port, band, target, by, kwargs):
        self.circuit, self.port, self.band, self.target, self.by, self.kwargs = circuit, port, band, target, by, kwargs

    def __call__(self, value: float) -> EquivDesign:
        return design(self.circuit, self.port, self.band, self.target, column=(self.by, value), **self.kwargs)


class _RowJob:
    """The rest of one row of :func:`design_rows` (picklable, for a process pool)."""

    def __init__(self, steps: _Steps, model: PortModel, target: float, tol: float, centred: _Centred,
                 tuned: dict[str, float] | None = None):
        self.steps, self.model, self.target, self.tol, self.centred, self.tuned = \
            steps, model, target, tol, centred, tuned

    def final(self) -> dict[str, float]:
        """The row's final values (computed once)."""
        if self.tuned is None:
            self.tuned = self.steps.tuned(self.model, self.target, self.tol, self.centred)
        return self.tuned

    def __call__(self) -> EquivDesign:
        return self.steps.finish(self.model, self.target, self.tol, self.centred, tuned=self.tuned)


def design_rows(circuit: Circuit, port, band, targets: Sequence[float], tols: Sequence[float], *,
                line_above: float | None = None, line: tuple[str, float] | None = None, tol: None = None,
                params: Mapping[str, float] | None = None, external: Iterable[str] = (), point: int | None = None,
                workers: int | None = None, executor=None, progress: bool = False,
                **kwargs) -> list[EquivDesign]:
    """One :func:`design` per target and tolerance (the paper's Table 4), rows in the order of ``targets``, then
    ``tols``; with ``line`` and ``line_above``, targets with ``|target| ≥ line_above`` use the line-section load,
    the others the lumped one. Each target starts from the previous row's ``tune`` value scaled by the ratio of
    the targets (a target whose ``tune`` cannot centre ``X_eq`` keeps that value).

    The rows share what they have in common: one linearized port per load (lumped, line) and one centring per
    target (:func:`design`'s alternation of ``tune`` and ``compensate``; with ``compensate`` the tolerance only
    enters the final widest-band tuning, so the centring is the same for every tolerance of a target). It starts
    from the previous target's centring, which settles to the same values as from the previous row's; only when
    ``tune`` cannot centre ``X_eq`` (and keeps its start) is the previous row finished first, as above. The rest
    of each row (widest-band tuning, the ±tol band, the admissible range) runs on a process pool of ``workers``
    (default: every core; ``executor``: a pool of the caller's), one BLAS thread each; ``progress`` draws a bar on a
    terminal (:mod:`stabkit.report.progress`). Every stability verdict is
    :func:`stabkit.analysis.loads.admissible_range`'s, as in :func:`design`.

    Other keyword arguments are :func:`design`'s (``kind``, ``tune``, ``mode``, ``compensate``, ``loads``,
    ``search``, ``band_points``, ``rtol``, ``load_points``, ``fmin``, ``fmax``)."""
    from stabkit.analysis.loads import _run_jobs

    if tol is not None:
        raise TypeError("design_rows takes a list of tolerances, tols=, not tol=")
    targets, tols = [float(t) for t in targets], [float(t) for t in tols]
    steps = _Steps(band=(float(band[0]), float(band[1])), **kwargs)
    for t in tols:
        _check_design_args(steps.mode, t)
    fixed = {k.lower(): float(v) for k, v in (params or {}).items()}
    jobs = _row_jobs(steps, circuit, port, targets, tols, fixed, external, point, line, line_above, progress)
    with _one_blas_thread():
        return _run_jobs(_call, jobs, executor, workers, progress, "designs", total=len(targets) * len(tols))


def _row_jobs(steps: _Steps, circuit: Circuit, port, targets: list[float], tols: list[float], fixed: dict,
              external, point, line, line_above, progress: bool):
    """The rows of :func:`design_rows` as :class:`_RowJob`, made target by target (each centring done here, the
    jobs given out as soon as they are known, except each target's last, which the next target may need)."""
    from stabkit.report.progress import Progress

    band = steps.band
    tune = steps.tune.lower() if steps.tune else None
    models: dict[tuple | None, PortModel] = {}
    previous: tuple[float, dict] | None = None  # (target, centred values) of the previous target
    held: _RowJob | None = None  # the previous target's last row
    with Progress(len(targets), "centring", enabled=None if progress else False) as bar:
        for target in targets:
            use_line = line if (line is not None and (line_above is None or abs(target) >= line_above)) else None
            key = None if use_line is None else tuple(use_line)
            if key not in models:
                variant = circuit if use_line is None else with_line_load(circuit, use_line[0], use_line[1],
                                                                           math.sqrt(band[0] * band[1]))
                models[key] = PortModel(variant, port, fixed, external, point)
            row_steps = dataclasses.replace(steps, line=use_line)

            def centre(start: tuple[float, dict] | None, tol_: float) -> tuple[PortModel, _Centred]:
                model = models[key]
                if tune and start is not None and tune in start[1]:  # start from the previous one, scaled
                    model = model.with_params({tune: start[1][tune] * target / start[0]})
                return model, row_steps.centre(model, target, tol_)

            model, centred = centre(previous, tols[0])
            if tune and centred.tune is None and held is not None:
                # the start is kept: make it the previous row's final value, as design() one row after another
                model, centred = centre((held.target, held.final()), tols[0])
            if held is not None:
                yield held
            for k, t in enumerate(tols):
                own = row_steps.centre(model, target, t) if k and centred.uses_tol else centred
                job = _RowJob(row_steps, model, target, t, own)
                if k < len(tols) - 1:
                    yield job
                else:
                    held = job
            previous = (target, centred.tuned)
            bar.update()
    if held is not None:
        yield held


def _call(job: _RowJob) -> EquivDesign:
    return job()
