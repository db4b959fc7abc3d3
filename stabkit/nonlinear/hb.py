"""Harmonic balance: periodic steady states of autonomous circuits (oscillators) on the one nonlinear layer.

Every unknown ``y_i(t)`` of the DC problem (:class:`~stabkit.nonlinear.dc.NonlinearProblem`) is a truncated
Fourier series ``y_i(t) = Y_i0 + Σ_{k=1..K} Re(Y_ik·e^{jkωt})`` (``|Y_i1|`` is the peak of the fundamental).
At every harmonic the circuit equations balance::

    M(jkω)·Y_k + S·(F_k + jkω·Q_k) = b·δ_k0

``M(s)`` is the linear network (lines and dependent sources included), ``F_k``, ``Q_k`` the Fourier coefficients of
the devices' currents and charges evaluated on ``N`` time samples of one period (FFT in matrix form), ``S`` their
scatter. Newton's Jacobian is exact (the devices' derivatives, moved through the same transforms).

An oscillator's frequency is an unknown and ``Y = 0`` (the DC point) always solves the equations; so the
solution is found with a *probe* (an auxiliary generator of amplitude ``A`` at ``ω`` on one node ``p``): for
given ``(A, ω)`` the equations are solved with ``Y_p1 = A`` fixed and the KCL balance of node ``p`` at the
fundamental left out; what the probe must supply is ``I_p(A, ω)``, and ``Y(A, ω) = I_p/A`` is the admittance the
whole circuit presents to it at that amplitude — the describing function. A steady oscillation is a zero:
``Y(A, ω) = 0`` (the negative-resistance condition ``Z_N + Z_L = 0`` for the whole circuit at once).
:func:`probe_admittance` computes ``Y(A, ω)``; :func:`periodic_solutions` sweeps ``A`` from small to large (the
soft start from an unstable DC point and large-amplitude starts for hard-start oscillators alike), finds every
zero of ``G(A) = Re Y`` with ``Im Y = 0``, refines it by Newton on ``(A, ω)``, and raises the number of harmonics
until frequency and amplitude stop changing.

Stability of a periodic solution, two ways:

* Kurokawa (probe admittance): ``∂G/∂A·∂B/∂ω − ∂B/∂A·∂G/∂ω > 0`` at the zero;
* Floquet (Hill's method, lumped circuits): the exponents ``λ`` with ``det J(λ) = 0``, ``J(λ)`` the harmonic
  balance Jacobian with ``d/dt → λ + jkω``; one exponent is 0 (the phase), the orbit is stable iff all others
  (within ``|Im λ| ≤ ω/2``) have ``Re λ < 0``. Multipliers ``μ = exp(λT)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la

from stabkit.nonlinear.dc import NonlinearProblem

__all__ = ["HarmonicBasis", "HBState", "harmonic_residual", "solve_fixed_probe", "probe_admittance",
           "PeriodicSolution", "periodic_solutions", "refine", "floquet_exponents", "kurokawa",
           "settle_harmonics"]

TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------------------------------------------
# the real Fourier basis: a signal is [a0, Re1, Im1, ..., ReK, ImK] (H = 2K + 1 numbers)


@dataclass
class HarmonicBasis:
    """Transforms between ``H = 2K + 1`` real harmonic coefficients and ``N`` time samples of one period."""

    k: int
    n_samples: int

    def __post_init__(self):
        k, n = self.k, self.n_samples
        theta = TWO_PI * np.arange(n) / n
        self.h = 2 * k + 1
        inv = np.ones((n, self.h))  # time samples from coefficients
        fwd = np.zeros((self.h, n))  # coefficients from time samples
        fwd[0] = 1.0 / n
        for m in range(1, k + 1):
            c, s = np.cos(m * theta), np.sin(m * theta)
            inv[:, 2 * m - 1], inv[:, 2 * m] = c, -s
            fwd[2 * m - 1], fwd[2 * m] = 2.0 * c / n, -2.0 * s / n
        self.to_time = inv
        self.to_freq = fwd
        self.theta = theta

    def derivative(self, omega: float) -> np.ndarray:
        """``d/dt`` on coefficients: ``(Re, Im)_m → (−mω·Im, mω·Re)``."""
        d = np.zeros((self.h, self.h))
        for m in range(1, self.k + 1):
            d[2 * m - 1, 2 * m] = -m * omega
            d[2 * m, 2 * m - 1] = m * omega
        return d

    @staticmethod
    def for_harmonics(k: int) -> "HarmonicBasis":
        return HarmonicBasis(k, max(64, 4 * (k + 1)))


@dataclass
class HBState:
    """A harmonic-balance iterate: coefficients ``z`` (``size × H``) and the angular frequency ``omega``."""

    z: np.ndarray
    omega: float

    def phasors(self) -> np.ndarray:
        """Complex harmonics ``(size, K + 1)``: column 0 the DC value, column m the phasor of harmonic m."""
        k = (self.z.shape[1] - 1) // 2
        out = np.zeros((self.z.shape[0], k + 1), dtype=complex)
        out[:, 0] = self.z[:, 0]
        out[:, 1:] = self.z[:, 1::2] + 1j * self.z[:, 2::2]
        return out

    def resized(self, k: int) -> "HBState":
        """The same iterate with ``k`` harmonics (truncated or padded with zeros)."""
        z = np.zeros((self.z.shape[0], 2 * k + 1))
        h = min(z.shape[1], self.z.shape[1])
        z[:, :h] = self.z[:, :h]
        return HBState(z, self.omega)


def _linear_blocks(problem: NonlinearProblem, omega: float, k: int) -> list[np.ndarray]:
    return [problem.matrix_at(1j * m * omega) for m in range(k + 1)]


def harmonic_residual(problem: NonlinearProblem, state: HBState, basis: HarmonicBasis, *, jacobian: bool = True,
                      blocks: list[np.ndarray] | None = None):
    """The harmonic-balance residual ``R`` (``size × H``) and, with ``jacobian``, ``∂R/∂z`` (``(size·H)²``,
    unknowns ordered ``z.ravel()``)."""
    z, omega = state.z, state.omega
    size, h = z.shape
    blocks = blocks if blocks is not None else _linear_blocks(problem, omega, basis.k)
    # linear part
    res = np.zeros((size, h))
    res[:, 0] = np.real(blocks[0]) @ z[:, 0] - problem.b
    for m in range(1, basis.k + 1):
        x = z[:, 2 * m - 1] + 1j * z[:, 2 * m]
        r = blocks[m] @ x
        res[:, 2 * m - 1], res[:, 2 * m] = r.real, r.imag
    # devices on time samples
    xt = problem.P @ z @ basis.to_time.T  # (n_ctrl, N)
    with np.errstate(all="ignore"):
        f, q, df, dq = problem.evaluate(xt.T)
    dmat = basis.derivative(omega)
    fh = basis.to_freq @ f  # (H, n_out)
    qh = basis.to_freq @ q
    res += problem.S @ (fh + dmat @ qh).T
    if not jacobian:
        return res, None
    jac = np.zeros((size, h, size, h))
    # linear: block m couples (Re, Im)_m of every unknown
    jac[:, 0, :, 0] = np.real(blocks[0])
    for m in range(1, basis.k + 1):
        a, b_ = blocks[m].real, blocks[m].imag
        re, im = 2 * m - 1, 2 * m
        jac[:, re, :, re] = a
        jac[:, re, :, im] = -b_
        jac[:, im, :, re] = b_
        jac[:, im, :, im] = a
    # nonlinear: Γ·diag(df)·Γ⁻¹ per (output, control), through S and P
    gamma, gamma_inv = basis.to_freq, basis.to_time
    conv_f = np.einsum("hn,noc,nk->ochk", gamma, df, gamma_inv, optimize=True)
    conv_q = np.einsum("hn,noc,nk->ochk", dmat @ gamma, dq, gamma_inv, optimize=True)
    conv = conv_f + conv_q
    jac += np.einsum("io,ochk,cj->ihjk", problem.S, conv, problem.P, optimize=True)
    return res, jac.reshape(size * h, size * h)


def _finite(*arrays) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


def solve_fixed_probe(problem: NonlinearProblem, state: HBState, basis: HarmonicBasis, probe: int, amplitude: float,
                      *, max_iter: int = 60, tol: float = 1e-10):
    """Solve the harmonic-balance equations with the probe node's fundamental fixed at ``amplitude`` (phase 0)
    and its fundamental KCL balance left out. Returns ``(state, probe_current, converged)``; ``probe_current`` is
    the complex fundamental current the probe supplies (leaving node ``probe`` into the circuit)."""
    size, h = state.z.shape
    z = state.z.copy()
    z[probe, 1], z[probe, 2] = amplitude, 0.0
    fixed = np.array([probe * h + 1, probe * h + 2])
    free = np.setdiff1d(np.arange(size * h), fixed)
    blocks = _linear_blocks(problem, state.omega, basis.k)
    converged = False
    norm_prev = math.inf
    for _ in range(max_iter):
        res, jac = harmonic_residual(problem, HBState(z, state.omega), basis, blocks=blocks)
        r = res.ravel()
        if not _finite(r, jac):
            return HBState(z, state.omega), complex("nan"), False
        rf = r[free]
        norm = float(np.max(np.abs(rf)))
        if norm <= tol * max(1.0, float(np.max(np.abs(problem.b))) if problem.b.size else 1.0):
            converged = True
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", la.LinAlgWarning)
            try:
                step = la.solve(jac[np.ix_(free, free)], -rf)
            except (la.LinAlgError, ValueError):
                return HBState(z, state.omega), complex("nan"), False
        # damping: no control voltage moves by more than 0.5 V per step; halve while the residual grows
        zflat = z.ravel().copy()
        alpha = 1.0
        dz = np.zeros(size * h)
        dz[free] = step
        move = np.max(np.abs(problem.P @ dz.reshape(size, h)))
        if move > 0.5:
            alpha = 0.5 / move
        for _ in range(12):
            trial = zflat + alpha * dz
            r_trial, _ = harmonic_residual(problem, HBState(trial.reshape(size, h), state.omega), basis,
                                           jacobian=False, blocks=blocks)
            n_trial = float(np.max(np.abs(r_trial.ravel()[free]))) if _finite(r_trial) else math.inf
            if n_trial < norm or alpha < 1e-3:
                break
            alpha *= 0.5
        z = (zflat + alpha * dz).reshape(size, h)
        if abs(norm - norm_prev) <= 1e-15 and alpha < 1e-3:
            break
        norm_prev = norm
    res, _ = harmonic_residual(problem, HBState(z, state.omega), basis, jacobian=False, blocks=blocks)
    current = complex(res[probe, 1], res[probe, 2])
    return HBState(z, state.omega), current, converged


def probe_admittance(problem: NonlinearProblem, state: HBState, basis: HarmonicBasis, probe: int, amplitude: float,
                     omega: float):
    """``Y(A, ω) = I_p/A`` (S): the admittance the circuit presents to a probe of amplitude ``amplitude`` at
    ``omega`` on node ``probe``. Returns ``(Y, state, converged)``."""
    st, current, ok = solve_fixed_probe(problem, HBState(state.z, omega), basis, probe, amplitude)
    return current / amplitude, st, ok


# ---------------------------------------------------------------------------------------------------------
# finding the periodic solutions


@dataclass
class PeriodicSolution:
    """A zero of the probe admittance: a periodic steady state with ``harmonics`` harmonics."""

    state: HBState
    harmonics: int
    amplitude: float
    omega: float
    probe: int
    kurokawa: float  # ∂G/∂A·∂B/∂ω − ∂B/∂A·∂G/∂ω (S²·s/V): > 0 stable
    converged: bool
    floquet: np.ndarray | None = None  # exponents (1/s), the phase exponent removed
    notes: list[str] = field(default_factory=list)

    @property
    def frequency_hz(self) -> float:
        return self.omega / TWO_PI

    @property
    def stable_kurokawa(self) -> bool:
        return self.kurokawa > 0


def _omega_balance(problem, state, basis, probe, amplitude, omega, *, max_iter: int = 30):
    """For fixed ``amplitude``, the frequency where ``Im Y = 0`` (secant on ω). Returns ``(omega, Y, state, ok)``."""
    y0, st0, ok0 = probe_admittance(problem, state, basis, probe, amplitude, omega)
    if not ok0:
        return omega, y0, st0, False
    w1 = omega * (1.0 + 1e-4)
    y1, st1, ok1 = probe_admittance(problem, st0, basis, probe, amplitude, w1)
    w0 = omega
    for _ in range(max_iter):
        if not ok1:
            return w1, y1, st1, False
        if abs(y1.imag - y0.imag) == 0:
            break
        w2 = w1 - y1.imag * (w1 - w0) / (y1.imag - y0.imag)
        w2 = min(max(w2, 0.5 * w1), 2.0 * w1)
        w0, y0 = w1, y1
        w1 = w2
        y1, st1, ok1 = probe_admittance(problem, st1, basis, probe, amplitude, w1)
        if abs(w1 - w0) <= 1e-12 * w1:
            break
    return w1, y1, st1, ok1


def refine(problem: NonlinearProblem, state: HBState, basis: HarmonicBasis, probe: int, amplitude: float,
           omega: float, *, max_iter: int = 40):
    """Newton on ``(A, ω)`` for ``Y(A, ω) = 0`` (finite-difference Jacobian). Returns
    ``(amplitude, omega, state, jacobian, converged)`` with ``jacobian = [[∂G/∂A, ∂G/∂ω], [∂B/∂A, ∂B/∂ω]]``."""
    a, w = amplitude, omega
    st = state
    jac = np.full((2, 2), np.nan)
    for _ in range(max_iter):
        y, st, ok = probe_admittance(problem, st, basis, probe, a, w)
        if not ok or not np.isfinite(y):
            return a, w, st, jac, False
        da, dw = 1e-6 * a, 1e-7 * w
        ya, _, oka = probe_admittance(problem, st, basis, probe, a + da, w)
        yw, _, okw = probe_admittance(problem, st, basis, probe, a, w + dw)
        if not (oka and okw):
            return a, w, st, jac, False
        jac = np.array([[(ya - y).real / da, (yw - y).real / dw], [(ya - y).imag / da, (yw - y).imag / dw]])
        scale = max(abs(jac[0, 0]) * a, abs(jac[1, 1]) * w, 1e-300)
        if abs(y) <= 1e-10 * scale:
            return a, w, st, jac, True
        try:
            step = np.linalg.solve(jac, -np.array([y.real, y.imag]))
        except np.linalg.LinAlgError:
            return a, w, st, jac, False
        step_a = float(np.clip(step[0], -0.5 * a, 0.5 * a))
        step_w = float(np.clip(step[1], -0.1 * w, 0.1 * w))
        a, w = a + step_a, w + step_w
        if abs(step_a) <= 1e-12 * a and abs(step_w) <= 1e-13 * w:
            y, st, ok = probe_admittance(problem, st, basis, probe, a, w)
            return a, w, st, jac, ok
    return a, w, st, jac, False


def kurokawa(jac: np.ndarray) -> float:
    """Kurokawa's stability number of an oscillation from the probe admittance's derivatives
    ``[[∂G/∂A, ∂G/∂ω], [∂B/∂A, ∂B/∂ω]]``: ``∂G/∂A·∂B/∂ω − ∂B/∂A·∂G/∂ω`` (stable when positive)."""
    return float(jac[0, 0] * jac[1, 1] - jac[1, 0] * jac[0, 1])


def periodic_solutions(problem: NonlinearProblem, y_dc: np.ndarray, omega0: float, probe: int, *,
                       amplitudes: np.ndarray, harmonics: int = 5):
    """Sweep the probe amplitude over ``amplitudes`` (ascending) at ``harmonics`` harmonics, balancing ``Im Y``
    in ω from ``omega0``; every sign change of ``G = Re Y`` is refined to a periodic solution. Returns
    ``(solutions, sweep)`` with ``sweep = [(A, ω, Y, converged), ...]``."""
    basis = HarmonicBasis.for_harmonics(harmonics)
    z = np.zeros((problem.size, basis.h))
    z[:, 0] = y_dc
    state = HBState(z, omega0)
    omega = omega0
    sweep = []
    states = []
    for a in amplitudes:
        omega_new, y, st, ok = _omega_balance(problem, state, basis, probe, float(a), omega)
        sweep.append((float(a), float(omega_new), complex(y), bool(ok)))
        states.append(st)
        if ok and np.isfinite(y) and omega_new > 0:
            state, omega = st, omega_new
    solutions = []
    for j in range(len(sweep) - 1):
        (a0, w0, y0, ok0), (a1, w1, y1, ok1) = sweep[j], sweep[j + 1]
        if not (ok0 and ok1) or not (np.isfinite(y0) and np.isfinite(y1)):
            continue
        if y0.real * y1.real > 0:
            continue
        t = y0.real / (y0.real - y1.real)
        a_guess = a0 * (a1 / a0) ** t
        w_guess = w0 + t * (w1 - w0)
        a, w, st, jac, ok = refine(problem, states[j], basis, probe, a_guess, w_guess)
        if ok:
            solutions.append(PeriodicSolution(state=st, harmonics=harmonics, amplitude=a, omega=w, probe=probe,
                                              kurokawa=kurokawa(jac), converged=True))
    return solutions, sweep


def settle_harmonics(problem: NonlinearProblem, solution: PeriodicSolution, *, start: int = 5, max_harmonics: int = 40,
                     fixed: int | None = None, rtol_freq: float = 1e-5, rtol_amp: float = 1e-4):
    """Raise the number of harmonics (doubling, from ``start``) until frequency and fundamental amplitude change
    by less than ``rtol_freq``/``rtol_amp`` relative, or use exactly ``fixed`` harmonics. Returns
    ``(solution, settled, history)`` with ``history = [(K, f_hz, amplitude), ...]``."""
    history = [(solution.harmonics, solution.frequency_hz, solution.amplitude)]
    current = solution
    ladder = [fixed] if fixed is not None else []
    k = start
    if fixed is None:
        while k < max_harmonics:
            k = min(2 * k + 1, max_harmonics)
            ladder.append(k)
    settled = False
    for k in ladder:
        basis = HarmonicBasis.for_harmonics(k)
        st = current.state.resized(k)
        a, w, st, jac, ok = refine(problem, st, basis, current.probe, current.amplitude, current.omega)
        if not ok:
            return current, False, history
        new = PeriodicSolution(state=st, harmonics=k, amplitude=a, omega=w, probe=current.probe,
                               kurokawa=kurokawa(jac), converged=True)
        history.append((k, new.frequency_hz, a))
        same = (abs(new.omega - current.omega) <= rtol_freq * new.omega
                and abs(new.amplitude - current.amplitude) <= rtol_amp * new.amplitude)
        current = new
        if fixed is None and same:
            settled = True
            break
    if fixed is not None:
        phasors = current.state.phasors()
        top = np.max(np.abs(phasors[:, -1]))
        fundamental = np.max(np.abs(phasors[:, 1]))
        settled = bool(top <= 1e-4 * fundamental)
    return current, settled, history


# ---------------------------------------------------------------------------------------------------------
# Floquet exponents by Hill's method


def floquet_exponents(problem: NonlinearProblem, solution: PeriodicSolution) -> np.ndarray | None:
    """Floquet exponents (1/s) of the periodic solution: finite eigenvalues ``λ`` of ``J(0) + λ·C_H`` (the
    harmonic-balance Jacobian and its derivative with respect to ``d/dt → d/dt + λ``) with ``|Im λ| ≤ ω/2``,
    the one nearest 0 (the phase) removed. None for circuits with distributed elements (lines, S-parameter
    blocks): ``M(s)`` is not a matrix pencil there."""
    if not problem.system.is_lumped:
        return None
    k = solution.harmonics
    basis = HarmonicBasis.for_harmonics(k)
    state = solution.state
    _, jac = harmonic_residual(problem, state, basis)
    size, h = state.z.shape
    # the λ-derivative: linear C (M(s) = G + sC for lumped circuits) and the devices' dq, on every harmonic
    c_lin = problem.pad(problem.system.C.toarray())
    xt = problem.P @ state.z @ basis.to_time.T
    with np.errstate(all="ignore"):
        _, _, _, dq = problem.evaluate(xt.T)
    c_dev = np.einsum("hn,noc,nk->ochk", basis.to_freq, dq, basis.to_time, optimize=True)
    c_h = np.einsum("io,ochk,cj->ihjk", problem.S, c_dev, problem.P, optimize=True)
    for m in range(h):
        c_h[:, m, :, m] += c_lin
    # d/dt + λ on a real (Re, Im) pair is not λ·I in the real form: use complex harmonics for Hill's matrix
    j_c, c_c = _to_complex(jac.reshape(size, h, size, h), k), _to_complex(c_h, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lam = la.eig(j_c, -c_c, right=False)
    lam = lam[np.isfinite(lam)]
    w = solution.omega
    central = lam[np.abs(lam.imag) <= 0.5 * w * (1 + 1e-9)]
    if central.size == 0:
        return central
    phase = int(np.argmin(np.abs(central)))
    return np.delete(central, phase)


def _to_complex(mat: np.ndarray, k: int) -> np.ndarray:
    """A real (Re, Im)-pair operator on harmonics 0..K rewritten on complex harmonics −K..K (Hill's form):
    coefficient ``c_m`` of ``e^{jmωt}`` for ``m = −K..K``."""
    size, h = mat.shape[0], mat.shape[1]
    # real coefficients r = T c with c = (c_−K..c_K): a0 = c_0, Re_m = 2 Re c_m, Im_m = 2 Im c_m (c_−m = c_m*)
    n = 2 * k + 1
    t = np.zeros((h, n), dtype=complex)
    t[0, k] = 1.0
    for m in range(1, k + 1):
        t[2 * m - 1, k + m], t[2 * m - 1, k - m] = 1.0, 1.0  # Re: c_m + c_−m
        t[2 * m, k + m], t[2 * m, k - m] = -1j, 1j  # Im: (c_m − c_−m)/j
    t_inv = np.linalg.inv(t)
    out = np.einsum("ab,ibjc,cd->iajd", t_inv, mat.astype(complex), t, optimize=True)
    return out.reshape(size * n, size * n)
