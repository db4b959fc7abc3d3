"""Harmonic balance: periodic steady states of autonomous circuits (oscillators) on the one nonlinear layer.

Every unknown ``y_i(t)`` of the DC problem (:class:`~stabkit.nonlinear.dc.NonlinearProblem`) is a truncated
Fourier series ``y_i(t) = a_i0 + Σ_{m=1..K} (c_im·cos mωt − s_im·sin mωt)``, stored as the real row
``[a0, c1, s1, ..., cK, sK]`` (``H = 2K + 1`` numbers; ``c_m + j·s_m`` is the phasor of harmonic ``m``, its modulus
the peak). At every harmonic the circuit equations balance::

    M(jmω)·Y_m + S·(F_m + jmω·Q_m) = b·δ_m0

``M(s)`` is the linear network (lines and dependent sources included), ``F_m``, ``Q_m`` the Fourier coefficients of
the devices' currents and charges on ``N`` time samples of one period, ``S`` their scatter (the same ``S``, ``P`` as
the DC solver). The Jacobian is exact and **sparse**: the linear part is block-diagonal over harmonics (one copy of
the sparse ``M(jmω)`` each), a device couples harmonics only through its own control→output pairs, each an
``H×H`` conversion block ``Γ·diag(∂f/∂x(t_n))·Γ⁻¹`` placed where ``S`` and ``P`` put that device. So a transistor with
a vendor package model (30-odd unknowns) at 47 harmonics is a sparse LU of a few thousand unknowns.

:class:`HarmonicBalance` holds the equations at one number of harmonics and solves them by damped Newton in
three ways, all with a *probe* on one node ``p`` (the oscillation's phase reference, ``s_p1 = 0``):

``probe_current``   ``(A, ω)`` given, the probe's fundamental fixed at ``A``: the current the probe supplies,
                    ``Y(A, ω) = I_p/A`` the admittance the whole circuit presents at that amplitude (its
                    describing function); with a nonzero ``Y`` the circuit is *driven*, not oscillating;
``balance``         ``A`` given, ``ω`` found with ``Im Y = 0``: the conductance ``G(A)`` left over (a sweep of ``A``
                    brackets the oscillations: ``G`` changes sign);
``autonomous``      ``A`` and ``ω`` both unknown, every equation kept: the oscillation itself.

Stability of an oscillation, two ways: Kurokawa's number ``∂G/∂A·∂B/∂ω − ∂B/∂A·∂G/∂ω`` (positive: stable), with
the derivatives of ``Y`` exact (one more sparse solve); and Floquet exponents (Hill's method, lumped circuits): the
eigenvalues ``λ`` of ``J + λ·C_H = 0``, ``J`` the Jacobian at the orbit and ``C_H`` its charge part; one is 0 (the
phase), the orbit is stable iff every other one with ``|Im λ| ≤ ω/2`` has ``Re λ < 0``. Multipliers ``exp(λT)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from stabkit.nonlinear.dc import NonlinearProblem

__all__ = ["HarmonicBasis", "HarmonicBalance", "PeriodicSolution", "SweepPoint", "probe_sweep", "find_oscillations",
           "settle_harmonics", "floquet_exponents", "HARMONIC_LADDER"]

TWO_PI = 2.0 * math.pi
#: the numbers of harmonics tried in turn until frequency and amplitude stop changing
HARMONIC_LADDER = (5, 11, 23, 47, 95)
#: largest change of any control voltage (V, per harmonic coefficient) in one Newton step
MAX_STEP_V = 0.5


class HarmonicBasis:
    """Transforms between ``H = 2K + 1`` real harmonic coefficients and ``N`` time samples of one period."""

    def __init__(self, k: int, n_samples: int | None = None):
        self.k = k
        self.h = 2 * k + 1
        self.n_samples = n = n_samples or max(64, 4 * (k + 1))
        self.theta = TWO_PI * np.arange(n) / n
        m = np.arange(1, k + 1)
        cos, sin = np.cos(np.outer(self.theta, m)), np.sin(np.outer(self.theta, m))
        self.to_time = np.ones((n, self.h))  # samples from coefficients
        self.to_time[:, 1::2], self.to_time[:, 2::2] = cos, -sin
        self.to_freq = np.full((self.h, n), 1.0 / n)  # coefficients from samples
        self.to_freq[1::2], self.to_freq[2::2] = 2.0 * cos.T / n, -2.0 * sin.T / n
        self.d1 = np.zeros((self.h, self.h))  # d/dt at ω = 1: (c, s)_m → (−m·s, m·c)
        self.d1[2 * m - 1, 2 * m], self.d1[2 * m, 2 * m - 1] = -m, m


@dataclass
class PeriodicSolution:
    """A periodic steady state: coefficients ``z`` (``size × H``), angular frequency ``omega``, the probe node's index
    (its fundamental has phase 0), Kurokawa's number at the probe and the Floquet exponents (1/s, phase removed)."""

    z: np.ndarray
    omega: float
    probe: int
    kurokawa: float | None = None
    floquet: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def harmonics(self) -> int:
        return (self.z.shape[1] - 1) // 2

    @property
    def amplitude(self) -> float:
        """Peak of the fundamental at the probe node (V)."""
        return float(math.hypot(self.z[self.probe, 1], self.z[self.probe, 2]))

    @property
    def frequency_hz(self) -> float:
        return float(self.omega) / TWO_PI

    def phasors(self) -> np.ndarray:
        """Complex harmonics ``(size, K + 1)``: column 0 the mean, column m the phasor (peak) of harmonic m."""
        return np.concatenate([self.z[:, :1].astype(complex), self.z[:, 1::2] + 1j * self.z[:, 2::2]], axis=1)

    def resized(self, k: int) -> np.ndarray:
        """The coefficients with ``k`` harmonics (truncated or padded with zeros)."""
        z = np.zeros((self.z.shape[0], 2 * k + 1))
        h = min(z.shape[1], self.z.shape[1])
        z[:, :h] = self.z[:, :h]
        return z


class HarmonicBalance:
    """The harmonic-balance equations of ``problem`` at ``harmonics`` harmonics on ``n_samples`` time samples per
    period (default ``max(64, 4(K + 1))``; see the module docstring)."""

    def __init__(self, problem: NonlinearProblem, harmonics: int, n_samples: int | None = None):
        self.problem = problem
        self.basis = HarmonicBasis(harmonics, n_samples)
        self.size, h = problem.size, self.basis.h
        system = problem.system
        self.lumped = system.is_lumped
        own = sp.coo_matrix(problem.own)
        g = _padded(system.G, self.size) + own
        self._g = sp.coo_matrix(g)
        self._c = sp.coo_matrix(_padded(system.C, self.size))
        # every (output, control) pair inside a device, and where S and P put it: row i, column j, sign
        s_mat, p_mat = problem.S, problem.P
        pairs, rows, cols, signs, pair_of = [], [], [], [], []
        for cs, os_ in zip(problem.ctrl_slices, problem.out_slices):
            for o in range(os_.start, os_.stop):
                for c in range(cs.start, cs.stop):
                    pairs.append((o, c))
                    for i in np.flatnonzero(s_mat[:, o]):
                        for j in np.flatnonzero(p_mat[c]):
                            rows.append(i), cols.append(j), signs.append(s_mat[i, o] * p_mat[c, j])
                            pair_of.append(len(pairs) - 1)
        self._pairs = np.array(pairs, dtype=int).reshape(-1, 2)
        self._entry = (np.array(rows, dtype=int), np.array(cols, dtype=int), np.array(signs, dtype=float),
                       np.array(pair_of, dtype=int))
        self._rhs = np.zeros((self.size, h))
        self._rhs[:, 0] = problem.b
        self._cache: tuple[float, sp.csr_matrix] | None = None
        self._unit: tuple[sp.csr_matrix, sp.csr_matrix] | None = None

    # -- the equations -------------------------------------------------------------------------------------------
    def linear(self, omega: float) -> sp.csr_matrix:
        """The linear network on all harmonics, real form (``size·H`` square, unknowns ``z.ravel()``)."""
        if self._cache is not None and self._cache[0] == omega:
            return self._cache[1]
        if self._unit is None:  # lumped: G on every harmonic plus ω times the (c, s) rotation of m·C
            k, h = self.basis.k, self.basis.h
            m = np.arange(1, k + 1)
            g, c = self._g, self._c
            parts = [(g.row * h, g.col * h, g.data)]
            for rr in (2 * m - 1, 2 * m):
                parts.append(((g.row[:, None] * h + rr).ravel(), (g.col[:, None] * h + rr).ravel(), np.repeat(g.data, k)))
            base = _assemble(parts, self.size * h)
            parts = [((c.row[:, None] * h + rr).ravel(), (c.col[:, None] * h + cc).ravel(),
                      (c.data[:, None] * (sign * m)).ravel()) for rr, cc, sign in ((2 * m - 1, 2 * m, -1), (2 * m, 2 * m - 1, 1))]
            self._unit = (base, _assemble(parts, self.size * h))
        mat = self._unit[0] + omega * self._unit[1]
        if not self.lumped:  # lines, N-ports: the entire functions of s, harmonic by harmonic
            parts = []
            for mm in range(self.basis.k + 1):
                extra = sp.coo_matrix(_padded(self.problem.system.distributed_matrix(1j * mm * omega), self.size))
                parts.extend(_realified(extra, mm, self.basis.h))
            mat = mat + _assemble(parts, self.size * self.basis.h)
        self._cache = (omega, mat.tocsr())
        return self._cache[1]

    def evaluate(self, z: np.ndarray, omega: float):
        """``(R, devices)``: the residual ``R`` (``size × H``; A for KCL rows, V for branch rows) and the devices'
        ``(f, q, df, dq)`` on the time samples (what :meth:`jacobian` needs)."""
        b = self.basis
        xt = (self.problem.P @ z) @ b.to_time.T  # (n_controls, N)
        with np.errstate(all="ignore"):
            devices = self.problem.evaluate(xt.T)
        f, q = devices[0], devices[1]
        res = (self.linear(omega) @ z.ravel()).reshape(z.shape) - self._rhs
        res += self.problem.S @ (b.to_freq @ f + omega * b.d1 @ (b.to_freq @ q)).T
        return res, devices

    def jacobian(self, omega: float, devices) -> sp.csr_matrix:
        """``∂R/∂z`` (sparse CSR) from the devices' samples of :meth:`evaluate`."""
        _, _, df, dq = devices
        return (self.linear(omega) + self._conversion(df, dq, omega * self.basis.d1)).tocsr()

    def _conversion(self, df, dq, dmat) -> sp.csr_matrix:
        """The devices' part of the Jacobian: ``Γ·diag(df)·Γ⁻¹ + D·Γ·diag(dq)·Γ⁻¹`` per (output, control) pair
        (``df`` None: ``Γ·diag(dq)·Γ⁻¹`` alone, the λ-derivative Floquet needs)."""
        b, h, n = self.basis, self.basis.h, self.size * self.basis.h
        po, pc = self._pairs[:, 0], self._pairs[:, 1]
        fa = np.zeros((len(po), b.n_samples)) if df is None else df[:, po, pc].T
        qa = dq[:, po, pc].T
        active = np.flatnonzero(np.any(fa != 0, axis=1) | np.any(qa != 0, axis=1))
        rows, cols, signs, pair_of = self._entry
        keep = np.isin(pair_of, active)
        if not np.any(keep):
            return sp.csr_matrix((n, n))
        where = np.full(len(po), -1)
        where[active] = np.arange(active.size)
        blocks = (b.to_freq[None] * qa[active][:, None, :]) @ b.to_time
        if df is not None:
            blocks = dmat @ blocks + (b.to_freq[None] * fa[active][:, None, :]) @ b.to_time
        rows, cols, signs, pair_of = rows[keep], cols[keep], signs[keep], where[pair_of[keep]]
        data = signs[:, None, None] * blocks[pair_of]
        ar = np.arange(h)
        r_idx = np.broadcast_to((rows * h)[:, None, None] + ar[None, :, None], data.shape)
        c_idx = np.broadcast_to((cols * h)[:, None, None] + ar[None, None, :], data.shape)
        return sp.csr_matrix((data.ravel(), (r_idx.ravel(), c_idx.ravel())), shape=(n, n))

    def d_omega(self, z: np.ndarray, omega: float, devices) -> np.ndarray:
        """``∂R/∂ω`` at fixed coefficients (``size·H``)."""
        if self.lumped:
            self.linear(omega)
            lin = self._unit[1] @ z.ravel()
        else:
            step = 1e-7 * omega
            lin = (self.linear(omega + step) @ z.ravel() - self.linear(omega - step) @ z.ravel()) / (2 * step)
        q = devices[1]
        return lin + (self.problem.S @ (self.basis.d1 @ (self.basis.to_freq @ q)).T).ravel()

    # -- Newton ----------------------------------------------------------------------------------------------------
    def _newton(self, z, omega, probe, *, mode: str, max_iter: int = 30):
        """Damped Newton in one of the three modes (module docstring). Returns ``(z, omega, converged)``."""
        h = self.basis.h
        n = self.size * h
        pre, pim = probe * h + 1, probe * h + 2
        fixed = {"probe": [pre, pim], "balance": [pre, pim], "autonomous": [pim]}[mode]
        dropped = {"probe": [pre, pim], "balance": [pre], "autonomous": []}[mode]
        free = np.setdiff1d(np.arange(n), fixed)
        eqs = np.setdiff1d(np.arange(n), dropped)
        omega_free = mode != "probe"
        res, devices = self.evaluate(z, omega)
        for _ in range(max_iter):
            r = res.ravel()[eqs]
            jac = self.jacobian(omega, devices)
            if not (np.all(np.isfinite(r)) and np.all(np.isfinite(jac.data))):
                return z, omega, False
            j_red = jac[eqs][:, free]
            if omega_free:
                j_red = sp.hstack([j_red, sp.csr_matrix(self.d_omega(z, omega, devices)[eqs][:, None])])
            step = _sparse_solve(j_red, -r)
            if step is None:
                return z, omega, False
            dz = np.zeros(n)
            dz[free] = step[: free.size]
            dw = float(step[-1]) if omega_free else 0.0
            move = float(np.max(np.abs(self.problem.P @ dz.reshape(z.shape)), initial=0.0))
            alpha = min(1.0, MAX_STEP_V / move) if move > 0 else 1.0
            if omega_free and abs(dw) > 0.2 * omega:
                alpha = min(alpha, 0.2 * omega / abs(dw))
            norm = float(np.max(np.abs(r)))
            for _ in range(10):
                trial_z, trial_w = z + alpha * dz.reshape(z.shape), omega + alpha * dw
                trial_res, trial_dev = self.evaluate(trial_z, trial_w)
                trial = trial_res.ravel()[eqs]
                if np.all(np.isfinite(trial)) and (np.max(np.abs(trial)) < max(norm, 1e-30) or alpha < 0.02):
                    break
                alpha *= 0.5
            # converged: the residual at the new point is at the rounding level of the terms that balance (a step
            # criterion would never hold: nodes held only by gmin, an ESD clamp's midpoint, keep a µV step noise)
            z, omega, res, devices = trial_z, trial_w, trial_res, trial_dev
            floor = 1e-12 * float(np.max(np.abs(self.linear(omega) @ z.ravel())))
            if np.max(np.abs(trial)) <= floor:
                return z, omega, bool(np.all(np.isfinite(z)))
        return z, omega, False

    def probe_current(self, z, omega, probe, amplitude):
        """Solve with the probe's fundamental fixed at ``amplitude`` (phase 0). Returns ``(z, I_p, converged)``:
        ``I_p`` the complex fundamental current the probe supplies into node ``probe``."""
        z = z.copy()
        z[probe, 1:3] = amplitude, 0.0
        z, _, ok = self._newton(z, omega, probe, mode="probe")
        res, _ = self.evaluate(z, omega)
        return z, complex(res[probe, 1], res[probe, 2]), ok

    def balance(self, z, omega, probe, amplitude):
        """Solve with the probe's fundamental fixed at ``amplitude`` and ``ω`` chosen so that ``Im Y = 0``.
        Returns ``(z, ω, G, converged)`` with ``G = Re Y(A, ω)`` (S)."""
        z = z.copy()
        z[probe, 1:3] = amplitude, 0.0
        z, omega, ok = self._newton(z, omega, probe, mode="balance")
        res, _ = self.evaluate(z, omega)
        return z, omega, float(res[probe, 1]) / amplitude, ok

    def autonomous(self, z, omega, probe):
        """The oscillation: ``A`` and ``ω`` unknown. Returns ``(z, ω, converged)``."""
        z = z.copy()
        z[probe, 2] = 0.0
        return self._newton(z, omega, probe, mode="autonomous")

    def admittance_derivatives(self, z, omega, probe) -> np.ndarray:
        """``[[∂G/∂A, ∂G/∂ω], [∂B/∂A, ∂B/∂ω]]`` of the probe admittance ``Y = G + jB`` at a solution ``z`` (exact:
        implicit differentiation of the fixed-probe equations)."""
        h = self.basis.h
        n = self.size * h
        pre, pim = probe * h + 1, probe * h + 2
        free = np.setdiff1d(np.arange(n), [pre, pim])
        eqs = free
        _, devices = self.evaluate(z, omega)
        jac = self.jacobian(omega, devices)
        rhs = np.column_stack([jac[:, [pre]].toarray()[:, 0], self.d_omega(z, omega, devices)])
        lu = _factor(jac[eqs][:, free])
        if lu is None:
            return np.full((2, 2), np.nan)
        dz = -lu.solve(rhs[eqs])
        d_current = jac[[pre, pim]][:, free] @ dz + rhs[[pre, pim]]  # rows: Re I, Im I; columns: A, ω
        return d_current / float(z[probe, 1])


def _assemble(parts, n: int) -> sp.csr_matrix:
    return sp.csr_matrix((np.concatenate([p[2] for p in parts]),
                          (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))), shape=(n, n))


def _padded(matrix, size: int):
    m = sp.coo_matrix(matrix)
    return sp.coo_matrix((m.data, (m.row, m.col)), shape=(size, size))


def _realified(m: sp.coo_matrix, harmonic: int, h: int):
    """COO triplets of a complex matrix acting on harmonic ``harmonic`` in the real ``(c, s)`` form."""
    if harmonic == 0:
        return [(m.row * h, m.col * h, m.data.real)]
    re, im = 2 * harmonic - 1, 2 * harmonic
    a, b = m.data.real, m.data.imag
    return [(m.row * h + re, m.col * h + re, a), (m.row * h + re, m.col * h + im, -b),
            (m.row * h + im, m.col * h + re, b), (m.row * h + im, m.col * h + im, a)]


def _factor(matrix):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
            return spla.splu(sp.csc_matrix(matrix))
    except RuntimeError:  # exactly singular
        return None


def _sparse_solve(matrix, rhs):
    lu = _factor(matrix)
    if lu is None:
        return None
    x = lu.solve(rhs)
    return x if np.all(np.isfinite(x)) else None


# ---------------------------------------------------------------------------------------------------------
# finding the oscillations


@dataclass
class SweepPoint:
    """One amplitude of the probe sweep: ``G(A) = Re Y`` at the ``ω`` where ``Im Y = 0``."""

    amplitude: float
    omega: float
    conductance: float
    converged: bool
    z: np.ndarray = field(repr=False, default=None)


def probe_sweep(hb: HarmonicBalance, y_dc: np.ndarray, omega0: float, probe: int, a_min: float, a_max: float, *,
                max_points: int = 80) -> list[SweepPoint]:
    """``G(A)`` from ``a_min`` up to ``a_max`` by natural continuation, each amplitude solved from the previous one.
    The step (a ratio of amplitudes) grows where ``G`` hardly changes and shrinks where it changes fast without
    changing sign (a dip that could hide two zeros), where it changes sign (each zero bracketed within 20 % for
    the Newton start) or where Newton fails; the sweep stops where it cannot continue (a last, unconverged
    point)."""
    z = np.zeros((hb.size, hb.basis.h))
    z[:, 0] = y_dc
    omega, ratio, a = omega0, 2.0, a_min
    out: list[SweepPoint] = []
    while len(out) < max_points:
        prev = out[-1] if out else None
        guess = z.copy()
        if prev is not None:
            guess[:, 1:3] *= a / prev.amplitude
        z_new, w_new, g, ok = hb.balance(guess, omega, probe, a)
        ok = ok and w_new > 0 and math.isfinite(g)
        change = abs(g - prev.conductance) / max(abs(g), abs(prev.conductance), 1e-300) if ok and prev else 0.0
        crossed = ok and prev is not None and g * prev.conductance <= 0
        if prev is not None and ratio > 1.1 and (not ok or (not crossed and change > 0.5) or (crossed and ratio > 1.2)):
            ratio = math.sqrt(ratio)  # too far (or a zero bracketed too loosely to start Newton from): retry nearer
            a = prev.amplitude * ratio
            continue
        if not ok:
            out.append(SweepPoint(a, omega, math.nan, False))
            return out
        out.append(SweepPoint(a, w_new, g, True, z_new))
        z, omega = z_new, w_new
        if a >= a_max:
            return out
        if change < 0.05:
            ratio = min(ratio ** 1.5, 4.0)
        a = min(a * ratio, a_max)
    return out


def find_oscillations(hb: HarmonicBalance, sweep: list[SweepPoint], probe: int) -> list[PeriodicSolution]:
    """Every sign change of ``G`` along the sweep, solved as an autonomous oscillation (distinct ones)."""
    found: list[PeriodicSolution] = []
    for p0, p1 in zip(sweep, sweep[1:]):
        if not (p0.converged and p1.converged) or p0.conductance * p1.conductance > 0:
            continue
        t = p0.conductance / (p0.conductance - p1.conductance)
        z = (1 - t) * p0.z + t * p1.z
        z, omega, ok = hb.autonomous(z, (1 - t) * p0.omega + t * p1.omega, probe)
        if not ok or omega <= 0:
            continue
        sol = PeriodicSolution(z, omega, probe)
        if sol.amplitude > 1e-3 * p0.amplitude and not any(
                abs(s.amplitude - sol.amplitude) <= 1e-6 * sol.amplitude and abs(s.omega - omega) <= 1e-9 * omega
                for s in found):
            found.append(sol)
    return found


def settle_harmonics(problem: NonlinearProblem, solution: PeriodicSolution, *, fixed: int | None = None,
                     max_harmonics: int = HARMONIC_LADDER[-1], rtol_freq: float = 1e-5, rtol_amp: float = 1e-4):
    """Raise the number of harmonics along :data:`HARMONIC_LADDER` until frequency and fundamental amplitude change
    by less than ``rtol_freq``/``rtol_amp`` relative, or use exactly ``fixed`` harmonics (settled when the highest
    harmonic at every node is below ``rtol_amp`` of the largest fundamental). Returns ``(solution, settled,
    history, hb)`` with ``history = [(K, f_hz, amplitude), ...]`` and ``hb`` the equations of the last ``K``."""
    history = [(solution.harmonics, solution.frequency_hz, solution.amplitude)]
    ladder = ([fixed] if fixed != solution.harmonics else []) if fixed is not None else \
        [k for k in HARMONIC_LADDER if solution.harmonics < k <= max_harmonics]
    current, settled, hb = solution, False, None
    for k in ladder:
        hb = HarmonicBalance(problem, k)
        z, omega, ok = hb.autonomous(current.resized(k), current.omega, current.probe)
        if not ok:
            return current, False, history, hb
        new = PeriodicSolution(z, omega, current.probe)
        history.append((k, new.frequency_hz, new.amplitude))
        same = (abs(new.omega - current.omega) <= rtol_freq * new.omega
                and abs(new.amplitude - current.amplitude) <= rtol_amp * new.amplitude)
        current = new
        if fixed is None and same:
            settled = True
            break
    if fixed is not None:
        ph = np.abs(current.phasors())
        settled = bool(np.max(ph[:, -1]) <= rtol_amp * np.max(ph[:, 1]))
    if hb is None:
        hb = HarmonicBalance(problem, current.harmonics)
    return current, settled, history, hb


def floquet_exponents(problem: NonlinearProblem, solution: PeriodicSolution, *, max_unknowns: int = 1600):
    """Floquet exponents (1/s) of the periodic solution, the phase exponent removed: the eigenvalues ``λ`` of
    ``J·v = −λ·C_H·v`` (Hill's method, dense) with ``|Im λ| ≤ ω/2``. When ``size·(2K + 1)`` exceeds ``max_unknowns``
    the orbit is solved again at the largest rung of :data:`HARMONIC_LADDER` that fits and the exponents are taken
    there (the ones near the imaginary axis, which decide, converge fast in ``K``; the strongly damped ones are
    truncation artefacts at any ``K``). Returns ``(exponents, K)``; ``(None, None)`` for circuits with lines or
    S-parameter blocks (``M(s)`` is not a matrix pencil there)."""
    if not problem.system.is_lumped:
        return None, None
    k = solution.harmonics
    if problem.size * (2 * k + 1) > max_unknowns:
        k = max([r for r in HARMONIC_LADDER if problem.size * (2 * r + 1) <= max_unknowns] or [1])
    hb = HarmonicBalance(problem, k)
    z, omega = solution.resized(k), solution.omega
    if k != solution.harmonics:
        z, omega, ok = hb.autonomous(z, omega, solution.probe)
        if not ok:
            return None, None
    _, devices = hb.evaluate(z, omega)
    jac = hb.jacobian(omega, devices)
    c_h = sp.kron(sp.csr_matrix(hb._c), sp.identity(hb.basis.h)) + hb._conversion(None, devices[3], None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lam = la.eig(jac.toarray(), -c_h.toarray(), right=False)
    lam = lam[np.isfinite(lam)]
    central = lam[np.abs(lam.imag) <= 0.5 * omega * (1 + 1e-9)]
    if central.size:
        central = np.delete(central, int(np.argmin(np.abs(central))))
    return central, k
