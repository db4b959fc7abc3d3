"""Pole continuation: follow natural frequencies along a parameter sweep and locate where one crosses the jω axis.

A lumped circuit whose element values depend on a parameter ``p`` has the pencil ``G(p) + s·C(p)``; its natural
frequencies ``s(p)`` move continuously with ``p`` (away from collisions). Instead of solving the whole
eigenproblem at every value, a chosen pole is *followed*:

- **predict** its value at the next ``p`` from the previous ones: the secant through the last two accepted
  points, or (at the first step, or with ``predictor="tangent"``) the first-order eigenvalue derivative
  ``ds/dp = −yᴴ(∂G/∂p + s·∂C/∂p)x / (yᴴCx)`` with the left/right null vectors ``y``, ``x``
  (:func:`stabkit.analysis.sensitivity.pole_derivative`; ``∂G/∂p``, ``∂C/∂p`` by a forward difference of the
  pencil);
- **correct** by two-sided Rayleigh-quotient (shifted inverse) iteration on ``G + σC`` — one LU per iteration,
  dense up to :data:`defaults` ``["continuation.dense_max_n"]`` unknowns, sparse (SuperLU) above — warm-started
  from the previous null vectors; the relative residual ``‖(G + sC)x‖ / (‖G‖ + |s|·‖C‖)`` says when it has
  converged;
- **step control**: a step is accepted only if the correction converged, moved the pole by less than a fraction
  of the predicted move (a larger correction means it landed on another pole), kept the mode shape
  (``|x₀ᴴx₁| ≥ min_overlap``) and did not merge two tracked poles; otherwise it is halved. A step still failing
  after ``max_halvings`` halvings is accepted with a warning when the corrector converged there (two poles
  collide: the path has a square-root corner), else the track stops (``complete = False``).

:func:`track_poles` follows poles over a list of values; :func:`edge_by_continuation` follows the
right-half-plane poles of the unstable end of a bracket towards its stable end and finds where the real part
of one crosses zero (Brent's method on ``Re s(p)``, each evaluation continued from the nearest followed point),
giving the edge and the oscillation frequency ``|Im s|/2π`` there. Everything works on a callable
``pencil_at(p) -> (G, C)`` (real ``(n, n)`` arrays or sparse matrices, ``n`` fixed along the sweep); SI units,
poles in rad/s.

The verdict at any value stays with :mod:`stabkit.analysis.verdict`: a located edge is only a candidate until
the verdicts either side of it agree (:func:`stabkit.analysis.loads.admissible_range` does that cross-check).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from stabkit.analysis.sensitivity import RESIDUAL_RTOL, EigenTriple, pole_derivative, select_modes

__all__ = ["PencilFn", "CorrectedPole", "PoleTrack", "EdgeLocation", "defaults", "correct_pole",
           "pencil_derivative", "pole_derivatives", "track_poles", "edge_by_continuation"]

TWO_PI = 2.0 * np.pi
#: ``pencil_at(p) -> (G, C)``: the real pencil at parameter value ``p``
PencilFn = Callable[[float], tuple]

#: tunables (python-control style)
defaults: dict[str, float] = {
    # the corrector stops when the relative residual is below this ...
    "continuation.residual_rtol": 1e-12,
    # ... or when the Rayleigh quotient stagnates (|Δs| below this × |s|) with a residual below RESIDUAL_RTOL
    "continuation.stagnation_rtol": 1e-13,
    # Rayleigh-quotient iterations (one LU each) before a correction is declared failed
    "continuation.max_iterations": 12,
    # a step is accepted when its correction is below this fraction of the predicted move (+ the floor below)
    "continuation.max_correction": 0.5,
    # ... or below this × |s| (a pole that hardly moves)
    "continuation.correction_floor": 1e-9,
    # |x₀ᴴx₁| of unit right null vectors at consecutive points must be at least this (the same mode)
    "continuation.min_overlap": 0.7,
    # ... and a correction beyond max_correction is accepted when the overlap is at least this (plainly the same
    # mode: a pole that hardly moves, nudged by a neighbour passing by) and the correction below nudge_rtol × |s|
    "continuation.sure_overlap": 0.995,
    "continuation.nudge_rtol": 1e-3,
    # two tracked poles closer than this × |s| have merged (a jump of one onto the other)
    "continuation.merge_rtol": 1e-7,
    # halvings of one step before it is accepted anyway (converged) or the track stops
    "continuation.max_halvings": 14,
    # forward-difference step of ∂G/∂p, ∂C/∂p, relative to max(|p|, the sweep's span)
    "continuation.derivative_rtol": 1e-6,
    # a followed pole growing beyond this × its starting size has left through infinity
    "continuation.blowup": 1e8,
    # at most this many pencils per track or edge search
    "continuation.max_pencils": 400,
    # dense LU up to this many unknowns, SuperLU above (LAPACK's threaded LU of a 130×130 matrix took 85 ms on a
    # shared 2-core machine, SuperLU 0.6 ms; limiting BLAS threads per call instead made results depend on
    # another thread's timing)
    "continuation.dense_max_n": 64,
    # safety factor on the rounding-level error bound of a pole at a located edge (as poles.error_safety)
    "continuation.error_safety": 10.0,
}


def _d(key: str) -> float:
    return defaults["continuation." + key]


class _CorrectionFailed(Exception):
    pass


class _ThroughInfinity(_CorrectionFailed):
    pass


# ---------------------------------------------------------------------------------------------- corrector
@dataclass
class CorrectedPole(EigenTriple):
    """A pole refined on the pencil (an :class:`~stabkit.analysis.sensitivity.EigenTriple`: ``s`` in rad/s, unit
    right/left null vectors, relative ``residual``, ``shift`` moved from the guess relative to ``|s|``), with the
    Rayleigh-quotient ``iterations`` spent (LU factorizations) and whether it ``converged``."""

    iterations: int = 0
    converged: bool = False


def _as_matrix(M):
    return M.tocsc() if sp.issparse(M) else np.asarray(M)


def _norm1(M) -> float:
    return float(spla.norm(M, 1)) if sp.issparse(M) else float(la.norm(M, 1))


class _Factor:
    """LU of the complex matrix ``A`` (dense or SuperLU), solving with ``A`` and with ``Aᴴ``."""

    def __init__(self, A, sparse: bool):
        self.sparse = sparse
        if sparse:
            self.lu = spla.splu(sp.csc_matrix(A, dtype=complex))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", la.LinAlgWarning)
                with np.errstate(all="ignore"):
                    self.lu = la.lu_factor(np.asarray(A, dtype=complex), check_finite=False)
            if not np.all(np.isfinite(self.lu[0])) or np.any(np.diag(self.lu[0]) == 0):
                raise RuntimeError("exactly singular")

    def solve(self, b, adjoint: bool = False):
        if self.sparse:
            return self.lu.solve(b, trans="H" if adjoint else "N")
        with np.errstate(all="ignore"):
            return la.lu_solve(self.lu, b, trans=2 if adjoint else 0, check_finite=False)


def correct_pole(G, C, s_guess: complex, *, right: np.ndarray | None = None, left: np.ndarray | None = None,
                 max_iterations: int | None = None, tol: float | None = None, spread: float = 0.0) -> CorrectedPole:
    """The eigenvalue of ``G + s·C`` next to ``s_guess`` (rad/s), with its right and left null vectors.

    Two-sided Rayleigh-quotient iteration: solve ``(G + σC) x' = C x`` and ``(G + σC)ᴴ y' = Cᴴ y``, take
    ``s = −yᴴGx / yᴴCx`` and shift ``σ`` there (one LU per iteration; locally cubic for a simple eigenvalue).
    ``right``/``left`` warm-start the vectors (those of the same pole at a neighbouring parameter value).

    Parameters
    ----------
    G, C : array_like or sparse matrix
        The real pencil, ``(n, n)``.
    s_guess : complex
        Where to look (rad/s), e.g. a predicted pole.
    right, left : ndarray, optional
        Starting right and left vectors (random otherwise).
    max_iterations : int, optional
        LU factorizations at most (default ``defaults["continuation.max_iterations"]``).
    tol : float, optional
        Relative residual to reach (default ``defaults["continuation.residual_rtol"]``).
    spread : float
        Imaginary offset (rad/s) of the first shift: a real guess next to a complex pair (two real poles that
        just collided) otherwise sits between the two and converges slowly.

    Returns
    -------
    CorrectedPole
        ``converged`` when the residual reached ``tol``, or the iteration stagnated at a residual below
        :data:`~stabkit.analysis.sensitivity.RESIDUAL_RTOL`.
    """
    G, C = _as_matrix(G), _as_matrix(C)
    n = G.shape[0]
    real_pencil = not (np.iscomplexobj(G) or np.iscomplexobj(C))
    max_iterations = int(max_iterations if max_iterations is not None else _d("max_iterations"))
    tol = float(tol if tol is not None else _d("residual_rtol"))
    sparse = sp.issparse(G) and n > _d("dense_max_n")
    if not sparse and sp.issparse(G):
        G, C = G.toarray(), C.toarray()
    rng = np.random.default_rng(2024)
    x = right.astype(complex) if right is not None else rng.standard_normal(n) + 1j * rng.standard_normal(n)
    y = left.astype(complex) if left is not None else rng.standard_normal(n) + 1j * rng.standard_normal(n)
    x, y = x / la.norm(x), y / la.norm(y)
    norm_g, norm_c = _norm1(G), _norm1(C)
    s0 = complex(s_guess)
    scale = max(abs(s0), 1e-300)
    # a shift a hair off the real axis: a real guess between a complex pair still picks one of the two
    sigma = s0 + 1j * max(1e-10 * scale, abs(spread))
    s, res, it, converged = s0, math.inf, 0, False
    for it in range(1, max_iterations + 1):
        try:
            lu = _Factor(G + sigma * C, sparse)
        except RuntimeError:  # σ is (to rounding) an eigenvalue: step off it (by the pencil's own scale at 0)
            sigma = sigma * (1 + 1e-9) + 1e-9j * max(scale, norm_g / max(norm_c, 1e-300))
            try:
                lu = _Factor(G + sigma * C, sparse)
            except RuntimeError:
                break
        x_new = lu.solve(C @ x)
        y_new = lu.solve(C.conj().T @ y, adjoint=True)
        nx, ny = la.norm(x_new), la.norm(y_new)
        if not (np.isfinite(nx) and np.isfinite(ny)) or nx == 0 or ny == 0:
            break
        x, y = x_new / nx, y_new / ny
        denom = np.vdot(y, C @ x)
        if denom == 0:
            break
        s_new = complex(-np.vdot(y, G @ x) / denom)
        gx = G @ x + s_new * (C @ x)
        gy = (G.conj().T @ y) + np.conj(s_new) * (C.conj().T @ y)
        res = float(max(la.norm(gx), la.norm(gy)) / max(norm_g + abs(s_new) * norm_c, 1e-300))
        stagnated = abs(s_new - s) <= _d("stagnation_rtol") * max(abs(s_new), 1e-300)
        s = s_new
        if res <= tol or (stagnated and res <= RESIDUAL_RTOL):
            converged = True
            break
        sigma = s if s != sigma else s * (1 + 1e-12)
    # near a multiple eigenvalue the residual stalls above `tol` (the pole is only defined to √ε there): a
    # residual at the level of a genuine eigenvalue is converged all the same
    converged = converged or res <= RESIDUAL_RTOL
    if converged and real_pencil and abs(s.imag) <= 1e-11 * abs(s):
        s = complex(s.real, 0.0)
    return CorrectedPole(s=s, right=x, left=y, residual=res, shift=float(abs(s - s0) / scale), iterations=it,
                         converged=converged)


def pencil_derivative(pencil_at: PencilFn, p: float, h: float, base: tuple | None = None) -> tuple:
    """``(∂G/∂p, ∂C/∂p)`` at ``p`` by a forward difference with step ``h`` (``base``: the pencil at ``p`` when
    already known; a central difference otherwise)."""
    if base is None:
        g1, c1 = pencil_at(p + h)
        g0, c0 = pencil_at(p - h)
        return (g1 - g0) / (2 * h), (c1 - c0) / (2 * h)
    g1, c1 = pencil_at(p + h)
    return (g1 - base[0]) / h, (c1 - base[1]) / h


def pole_derivatives(pencil_at: PencilFn, p: float, poles, *, h: float | None = None) -> np.ndarray:
    """How fast each natural frequency moves with the parameter: ``ds/dp``.

    The first-order perturbation ``−yᴴ(∂G/∂p + s·∂C/∂p)x / (yᴴCx)``
    (:func:`stabkit.analysis.sensitivity.pole_derivative`) with the right/left null vectors of the pole refined on
    the pencil at ``p``, and ``∂G/∂p``, ``∂C/∂p`` by a central difference of the pencil.

    Parameters
    ----------
    pencil_at : callable
        ``pencil_at(p) -> (G, C)`` (see :func:`track_poles`).
    p : float
        The parameter value.
    poles : array_like
        Natural frequencies at ``p`` (rad/s).
    h : float, optional
        Difference step (default ``defaults["continuation.derivative_rtol"]·max(|p|, 1)``).

    Returns
    -------
    ndarray
        ``ds/dp`` in rad/s per unit of ``p``, one per pole.

    Raises
    ------
    ValueError
        A pole is not an eigenvalue of the pencil at ``p`` (to a relative 10⁻⁶).
    """
    p = float(p)
    h = float(h) if h is not None else _d("derivative_rtol") * max(abs(p), 1.0)
    G, C = (_as_matrix(m) for m in pencil_at(p))
    dG, dC = pencil_derivative(pencil_at, p, h)
    out = []
    for s0 in np.atleast_1d(np.asarray(poles, dtype=complex)):
        c = correct_pole(G, C, complex(s0))
        if not c.converged or c.shift > 1e-6:
            nearest = f"; the nearest is {c.s / TWO_PI:.6g} Hz" if c.converged else ""
            raise ValueError(f"{s0 / TWO_PI:.6g} Hz is not an eigenvalue of the pencil at {p:g}{nearest}")
        out.append(pole_derivative(c, C, dG, dC))
    return np.array(out, dtype=complex)


# ---------------------------------------------------------------------------------------------- states
@dataclass
class _State:
    """The followed poles at one parameter value, with their null vectors and the pencil there."""

    p: float
    poles: list[CorrectedPole]
    pencil: tuple | None = None
    #: ``ds/dp`` of each pole here, once computed (tangent predictor)
    slope: np.ndarray | None = None

    @property
    def s(self) -> np.ndarray:
        return np.array([c.s for c in self.poles], dtype=complex)


class _Budget:
    """Counts pencil evaluations and LU factorizations; stops a run that exceeds ``max_pencils``."""

    def __init__(self, pencil_at: PencilFn, max_pencils: int, n: int | None = None):
        self.pencil_at, self.max_pencils = pencil_at, int(max_pencils)
        self.pencils = 0
        self.factorizations = 0
        self.halvings = 0
        self.n = n

    def __call__(self, p: float) -> tuple:
        if self.pencils >= self.max_pencils:
            raise _CorrectionFailed(f"more than {self.max_pencils} pencil evaluations")
        self.pencils += 1
        G, C = self.pencil_at(float(p))
        G, C = _as_matrix(G), _as_matrix(C)
        if G.shape != C.shape or G.shape[0] != G.shape[1]:
            raise ValueError(f"pencil_at({p:g}) gave matrices of shapes {G.shape} and {C.shape}: expected square "
                             "(n, n) ones")
        if self.n is None:
            self.n = G.shape[0]
        elif G.shape[0] != self.n:
            raise _CorrectionFailed(f"the pencil has {G.shape[0]} unknowns at {p:g}, {self.n} elsewhere")
        return G, C


def _tangent(budget: _Budget, state: _State, h: float) -> np.ndarray:
    """``ds/dp`` of every pole of ``state`` (first-order perturbation, forward-difference pencil derivative)."""
    dG, dC = pencil_derivative(budget, state.p, h, base=state.pencil)
    C = state.pencil[1]
    return np.array([pole_derivative(c, C, dG, dC) for c in state.poles], dtype=complex)


def _predict(history: Sequence[_State], p1: float, budget: _Budget, h: float, tangent: bool) -> np.ndarray:
    """The poles at ``p1`` extrapolated (or interpolated) from the last two states, or along the tangent."""
    last = history[-1]
    if tangent or len(history) < 2:
        if last.slope is None:
            last.slope = _tangent(budget, last, h)
        return last.s + last.slope * (p1 - last.p)
    prev = history[-2]
    if last.p == prev.p:
        return last.s
    return last.s + (last.s - prev.s) * (p1 - last.p) / (last.p - prev.p)


def _attempt(budget: _Budget, history: Sequence[_State], p1: float, h: float, tangent: bool, scale: np.ndarray
             ) -> tuple[_State | None, str, _State, float]:
    """One continuation step to ``p1``: ``(accepted state or None, why not, the corrected state anyway, the largest
    correction / allowed correction)``."""
    last = history[-1]
    predicted = _predict(history, p1, budget, h, tangent)
    pencil = budget(p1)
    G, C = pencil
    corrected = []
    for k, (c0, s_pred) in enumerate(zip(last.poles, predicted)):
        move = abs(s_pred - c0.s)
        spread = 0.5 * move if abs(s_pred.imag) <= 1e-9 * abs(s_pred) else 0.0
        c1 = correct_pole(G, C, s_pred, right=c0.right, left=c0.left, spread=spread)
        budget.factorizations += c1.iterations
        # a guess symmetric between two poles (a complex pair splitting into two real poles) stalls: try it
        # shifted right, then left (the rightmost continuation first: it is the one that decides stability)
        for offset in (move, -move):
            if c1.converged or offset == 0:
                break
            c1 = correct_pole(G, C, s_pred + offset, right=c0.right, left=c0.left, spread=spread)
            budget.factorizations += c1.iterations
        corrected.append(c1)
    real_pencil = not (np.iscomplexobj(G) or np.iscomplexobj(C))
    if real_pencil:
        _split_conjugates(last.poles, corrected)
    _separate_merged(G, C, last.poles, corrected, predicted, budget)
    state = _State(p=float(p1), poles=corrected, pencil=pencil)
    worst = 0.0
    for k, (c0, c1, s_pred) in enumerate(zip(last.poles, corrected, predicted)):
        if not c1.converged:
            return None, f"pole {k + 1}: the corrector did not converge (residual {c1.residual:.2g})", state, math.inf
        move = abs(s_pred - c0.s)
        correction = abs(c1.s - s_pred)
        size = max(abs(c0.s), abs(c1.s), 1e-6 * scale[k], 1e-300)
        ratio = correction / max(_d("max_correction") * move + _d("correction_floor") * size, 1e-300)
        if real_pencil and c0.s.imag * c1.s.imag < 0:  # a real pencil's pole leaves the real axis only in pairs
            return None, f"pole {k + 1}: the step landed on the conjugate pole", state, math.inf
        overlap = abs(np.vdot(c0.right, c1.right))
        if overlap < _d("min_overlap"):
            return None, f"pole {k + 1}: the mode shape changed (overlap {overlap:.2f})", state, math.inf
        # a large correction is a jump onto another pole unless the mode shape is plainly the same (a pole that
        # hardly moves, nudged by a neighbour passing by)
        nudged = overlap >= _d("sure_overlap") and correction <= _d("nudge_rtol") * size
        if ratio > 1.0 and not nudged:
            return None, (f"pole {k + 1}: the correction ({correction / TWO_PI:.3g} Hz) is large against the "
                          f"predicted move ({move / TWO_PI:.3g} Hz)"), state, ratio
        worst = max(worst, min(ratio, 1.0))
    s0, s1 = last.s, state.s
    for i in range(len(s1)):
        for j in range(i + 1, len(s1)):
            tol = _d("merge_rtol") * max(abs(s1[i]), abs(s1[j]), 1e-300)
            if abs(s1[i] - s1[j]) <= tol and abs(s0[i] - s0[j]) > tol:
                return None, f"poles {i + 1} and {j + 1} merged at {s1[i] / TWO_PI:.6g} Hz", state, math.inf
    return state, "", state, worst


def _split_conjugates(before: list[CorrectedPole], after: list[CorrectedPole]) -> None:
    """Two followed real poles of a real pencil that collided and left the real axis as a complex pair both land
    on the same member of the pair: give the second one the conjugate (its null vectors conjugated too)."""
    tol = _d("merge_rtol")
    for i in range(len(after)):
        for j in range(i + 1, len(after)):
            si, sj = after[i].s, after[j].s
            size = max(abs(si), abs(sj), 1e-300)
            was_real = all(abs(c.s.imag) <= 1e-9 * max(abs(c.s), 1e-300) for c in (before[i], before[j]))
            if was_real and abs(si - sj) <= tol * size and abs(si.imag) > tol * size:
                c = after[j]
                after[j] = CorrectedPole(s=c.s.conjugate(), right=c.right.conj(), left=c.left.conj(),
                                         residual=c.residual, shift=c.shift, iterations=c.iterations,
                                         converged=c.converged)


def _separate_merged(G, C, before: list[CorrectedPole], after: list[CorrectedPole], predicted: np.ndarray,
                     budget: _Budget) -> None:
    """Two followed poles that were apart and converged onto the same one (a conjugate pair splitting into two
    real poles, or two paths passing close): look for the second one left, then right, of its prediction."""
    tol = _d("merge_rtol")
    for i in range(len(after)):
        for j in range(i + 1, len(after)):
            size = max(abs(after[i].s), abs(after[j].s), 1e-300)
            if abs(after[i].s - after[j].s) > tol * size or abs(before[i].s - before[j].s) <= tol * size:
                continue
            guess = complex(predicted[j])
            m = max(abs(guess - before[j].s), abs(after[i].s - guess), 1e-9 * size)
            for offset in (-m, m, -2 * m, 2 * m):
                c = correct_pole(G, C, guess + offset, right=before[j].right, left=before[j].left)
                budget.factorizations += c.iterations
                if c.converged and abs(c.s - after[i].s) > tol * size:
                    after[j] = c
                    break


def _continue(budget: _Budget, history: list[_State], target: float, h: float, tangent: bool,
              scale: np.ndarray, notes: list[str]) -> list[_State]:
    """Follow the poles of ``history[-1]`` to ``target`` with step control; returns the accepted states (the last
    one at ``target``). Raises :class:`_CorrectionFailed` when the track cannot go on.

    A failed step is halved; after a success the step doubles again. A step that fails at the smallest size
    (the full distance / 2^max_halvings) is accepted with a note when the corrector converged (the poles collide:
    a square-root corner of the path), else the track stops."""
    out: list[_State] = []
    p = history[-1].p
    full = target - p
    if full == 0:
        return out
    min_step = max(abs(full) * 2.0 ** -_d("max_halvings"), 64 * np.finfo(float).eps * max(abs(p), abs(target)))
    step = full
    while p != target:
        remaining = target - p
        if abs(step) >= abs(remaining) or abs(remaining - step) < 0.5 * min_step:
            step = remaining
        p1 = target if step == remaining else p + step
        state, why, tried, ratio = _attempt(budget, [*history, *out], p1, h, tangent, scale)
        if state is None and abs(step) > min_step * (1 + 1e-9):
            step = math.copysign(max(abs(step) / 2.0, min_step), step)
            budget.halvings += 1
            continue
        if state is None:
            if not all(c.converged for c in tried.poles):
                raise _CorrectionFailed(f"at {p1:g}: {why}, at the smallest step ({min_step:.3g})")
            notes.append(f"at {p1:.6g}: {why}; accepted at the smallest step (the poles collide or turn sharply "
                         "there)")
            state = tried
        if np.any(np.abs(state.s) > _d("blowup") * scale):
            raise _ThroughInfinity(f"at {p1:g}: a followed pole ({np.max(np.abs(state.s)) / TWO_PI:.3g} Hz) "
                                    "grows without bound: it leaves through infinity")
        out.append(state)
        p = p1
        # grow the step as far as the correction allows (it scales like the step squared); at most doubled
        step *= min(2.0, max(1.0, 0.5 / math.sqrt(max(ratio, 1e-12))))
    return out


# ---------------------------------------------------------------------------------------------- tracks
@dataclass
class PoleTrack:
    """Poles followed along a parameter.

    ``values`` are the accepted parameter values in the order visited (the requested ones and the intermediate
    steps step control inserted; ``requested`` marks the former), ``poles[i, k]`` the ``k``-th followed pole at
    ``values[i]`` (rad/s), ``residuals`` their relative residuals. ``complete`` is false when the track stopped
    early (``warnings`` say where and why). ``pencils``: pencil evaluations, ``factorizations``: LU
    factorizations, ``halvings``: step halvings."""

    param: str
    values: np.ndarray
    poles: np.ndarray
    residuals: np.ndarray
    requested: np.ndarray
    complete: bool = True
    pencils: int = 0
    factorizations: int = 0
    halvings: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def poles_hz(self) -> np.ndarray:
        """``poles / 2π`` (Hz)."""
        return self.poles / TWO_PI

    def at_requested(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, poles)`` at the requested parameter values only."""
        return self.values[self.requested], self.poles[self.requested]

    def to_dict(self) -> dict:
        return {"param": self.param, "values": [float(v) for v in self.values],
                "poles_hz": [[[float(z.real), float(z.imag)] for z in row] for row in self.poles_hz],
                "requested": [bool(r) for r in self.requested], "complete": self.complete, "pencils": self.pencils,
                "factorizations": self.factorizations, "halvings": self.halvings, "warnings": list(self.warnings)}

    def plot(self, ax=None, unit: str = "", edges: Sequence[float] = ()):
        """Re s/2π (and, on a second axes below, Im s/2π) of each followed pole versus the parameter; requested
        values marked, ``edges`` (parameter values) as vertical lines (:func:`stabkit.report.plots.plot_pole_track`)."""
        from stabkit.report.plots import plot_pole_track

        return plot_pole_track(self.values, self.poles_hz, self.requested, param=self.param, unit=unit,
                               edges=edges, ax=ax)


def _exact_poles(G, C) -> np.ndarray:
    """The finite eigenvalues of the pencil (dense, :func:`stabkit.analysis.poles.finite_eigenvalues`) without
    the rounding-level ones (|s| below 1e-9 of the largest: structural zero modes, whose ``Re s/|s|`` is noise)."""
    from stabkit.analysis.poles import finite_eigenvalues

    dense = (G.toarray(), C.toarray()) if sp.issparse(G) else (G, C)
    ev = finite_eigenvalues(np.asarray(dense[0], float), np.asarray(dense[1], float))
    if ev.size:
        ev = ev[np.abs(ev) > 1e-9 * np.max(np.abs(ev))]
    return ev


def _start_state(budget: _Budget, p0: float, start_poles, count: int) -> tuple[_State, list[str]]:
    G, C = budget(p0)
    notes: list[str] = []
    if start_poles is None:
        start_poles = select_modes(_exact_poles(G, C), count)
        if len(start_poles) == 0:
            raise ValueError(f"the pencil at {p0:g} has no finite natural frequency to follow")
    corrected = []
    for k, s0 in enumerate(np.atleast_1d(np.asarray(start_poles, dtype=complex))):
        c = correct_pole(G, C, complex(s0))
        budget.factorizations += c.iterations
        if not c.converged:
            raise _CorrectionFailed(f"start pole {k + 1} ({s0 / TWO_PI:.6g} Hz) is not an eigenvalue of the pencil at "
                                    f"{p0:g} (residual {c.residual:.2g})")
        if c.shift > 1e-3:
            notes.append(f"start pole {k + 1}: refined from {s0 / TWO_PI:.6g} Hz to {c.s / TWO_PI:.6g} Hz")
        corrected.append(c)
    return _State(p=float(p0), poles=corrected, pencil=(G, C)), notes


def track_poles(pencil_at: PencilFn, values: Sequence[float], start_poles=None, *, count: int = 1,
                predictor: str = "secant", param: str = "p", max_pencils: int | None = None) -> PoleTrack:
    """Follow natural frequencies of the pencil ``G(p) + s·C(p)`` over ``values``.

    Parameters
    ----------
    pencil_at : callable
        ``pencil_at(p) -> (G, C)``, real ``(n, n)`` arrays or sparse matrices (``n`` the same for every ``p``).
        For a circuit: :meth:`stabkit.analysis.loads.CircuitProbe.pencil`.
    values : sequence of float
        Parameter values, in the order to visit them (increasing or decreasing).
    start_poles : array_like, optional
        The poles to follow (rad/s) at ``values[0]``, refined on the pencil there. Default: the ``count`` with
        the largest ``Re s/|s|`` (one per conjugate pair, ``Im s ≥ 0``) of the exact eigenvalues at
        ``values[0]`` (:func:`stabkit.analysis.poles.finite_eigenvalues`, dense; rounding-level zeros — structural
        zero modes — left out). ``ValueError`` when a given pole is not an eigenvalue of the pencil there.
    count : int
        How many poles to follow when ``start_poles`` is not given.
    predictor : {"secant", "tangent"}
        ``secant``: extrapolate through the last two accepted points (the first step uses the tangent);
        ``tangent``: the first-order derivative ``ds/dp`` at every step (one more pencil per step).
    param : str
        The parameter's name (for plots and messages).
    max_pencils : int, optional
        Stop after this many pencil evaluations (default ``defaults["continuation.max_pencils"]``).

    Returns
    -------
    PoleTrack
        ``complete`` is false (with the reason in ``warnings``) when the track had to stop: a correction that
        does not converge, a pole leaving through infinity, the pencil changing size, the budget exhausted.

    Examples
    --------
    Series R–L–C with a total resistance ``R`` swept through zero: ``s = −R/2L ± j√(1/LC − (R/2L)²)``.

    >>> import numpy as np
    >>> L, C = 1e-6, 1e-9
    >>> pencil = lambda R: (np.array([[R, 1.0], [-1.0, 0.0]]), np.array([[L, 0.0], [0.0, C]]))
    >>> track = track_poles(pencil, np.linspace(-5.0, 5.0, 3))
    >>> bool(np.allclose(track.poles[-1, 0].real, -5.0 / (2 * L)))
    True
    """
    if predictor not in ("secant", "tangent"):
        raise ValueError(f"predictor must be 'secant' or 'tangent', got {predictor!r}")
    return _track_poles(pencil_at, values, start_poles, count, predictor, param, max_pencils)


def _track_poles(pencil_at, values, start_poles, count, predictor, param, max_pencils) -> PoleTrack:
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("track_poles needs at least one parameter value")
    if not all(math.isfinite(v) for v in vals):
        raise ValueError("the parameter values must be finite")
    diffs = np.diff(vals)
    if diffs.size and not (np.all(diffs > 0) or np.all(diffs < 0)):
        raise ValueError("the parameter values must be strictly increasing or strictly decreasing")
    budget = _Budget(pencil_at, max_pencils if max_pencils is not None else _d("max_pencils"))
    span = max(abs(vals[-1] - vals[0]), max(abs(v) for v in vals), 1e-300)
    h = _d("derivative_rtol") * span
    notes: list[str] = []
    try:
        start, start_notes = _start_state(budget, vals[0], start_poles, count)
    except _CorrectionFailed as exc:
        raise ValueError(str(exc)) from None
    notes += start_notes
    states, requested = [start], [True]
    scale = np.maximum(np.abs(start.s), 1e-300)
    complete = True
    for target in vals[1:]:
        try:
            new = _continue(budget, states, target, h, predictor == "tangent", scale, notes)
        except _CorrectionFailed as exc:
            notes.append(f"the track stopped: {exc}")
            complete = False
            break
        states += new
        requested += [False] * (len(new) - 1) + [True]
    return PoleTrack(param=param, values=np.array([st.p for st in states]),
                     poles=np.array([st.s for st in states], dtype=complex),
                     residuals=np.array([[c.residual for c in st.poles] for st in states]),
                     requested=np.array(requested, dtype=bool), complete=complete, pencils=budget.pencils,
                     factorizations=budget.factorizations, halvings=budget.halvings, warnings=notes)


# ---------------------------------------------------------------------------------------------- edges
@dataclass
class EdgeLocation:
    """Where a followed pole crosses the jω axis between the two ends of a bracket.

    ``value`` is the parameter value of the crossing (``None`` when not found: ``reason`` says why), located to
    ``tolerance`` (absolute: the root-finder's tolerance on ``Re s(p) = 0`` plus the first-order error bound of
    the eigenvalue at the root over ``|∂Re s/∂p|``); ``pole`` the pole there (rad/s, ``Im ≥ 0``
    for a pair), ``f_osc`` ``|Im s|/2π`` (Hz: the frequency the circuit starts to oscillate at past the edge; 0
    for a real pole), ``crossing`` ``"complex pair"`` or ``"real pole"``. ``track`` holds the path followed from
    the unstable end towards the stable one (all right-half-plane modes there), ``mode`` which of its columns
    crossed; ``pencils``/``factorizations`` the work spent. ``status``: ``"found"``, ``"infinity"`` (a real pole
    leaves through infinity: the pencil changes degree at the edge, there is no ``Re s = 0`` to find) or
    ``"failed"``."""

    value: float | None
    pole: complex | None
    f_osc: float | None
    crossing: str | None
    tolerance: float
    track: PoleTrack
    mode: int | None = None
    pencils: int = 0
    factorizations: int = 0
    reason: str = ""
    status: str = "found"

    @property
    def found(self) -> bool:
        return self.value is not None

    @property
    def pole_hz(self) -> complex | None:
        return None if self.pole is None else self.pole / TWO_PI

    def to_dict(self) -> dict:
        return {"value": self.value, "f_osc": self.f_osc, "crossing": self.crossing, "tolerance": self.tolerance,
                "pole_hz": None if self.pole is None else [float(self.pole.real / TWO_PI),
                                                           float(self.pole.imag / TWO_PI)],
                "mode": self.mode, "pencils": self.pencils, "factorizations": self.factorizations,
                "reason": self.reason, "status": self.status}


def _fail(track: PoleTrack, budget: _Budget, reason: str, status: str = "failed") -> EdgeLocation:
    return EdgeLocation(value=None, pole=None, f_osc=None, crossing=None, tolerance=math.inf, track=track,
                        pencils=budget.pencils, factorizations=budget.factorizations, reason=reason, status=status)


def _track_of(states: list[_State], requested: list[bool], param: str, budget: _Budget, complete: bool,
              notes: list[str]) -> PoleTrack:
    order = sorted(range(len(states)), key=lambda i: states[i].p)
    return PoleTrack(param=param, values=np.array([states[i].p for i in order]),
                     poles=np.array([states[i].s for i in order], dtype=complex),
                     residuals=np.array([[c.residual for c in states[i].poles] for i in order]),
                     requested=np.array([requested[i] for i in order], dtype=bool), complete=complete,
                     pencils=budget.pencils, factorizations=budget.factorizations,
                     halvings=budget.halvings, warnings=list(notes))


def _eigen_error(G, C, pole: CorrectedPole) -> float:
    """Error bound of a computed eigenvalue (rad/s), the rounding-level bound :mod:`stabkit.analysis.poles` uses:
    the componentwise condition number ``|y|ᵀ(|G| + |s||C|)|x| / |yᴴCx|`` times ``safety·max(ε, residual)``
    (``residual`` the corrector's relative residual, ``safety`` ``defaults["continuation.error_safety"]``)."""
    s, x, y = pole.s, pole.right, pole.left
    absG = abs(G) if sp.issparse(G) else np.abs(G)
    absC = abs(C) if sp.issparse(C) else np.abs(C)
    ax, ay = np.abs(x), np.abs(y)
    condition = float(ay @ (absG @ ax) + abs(s) * (ay @ (absC @ ax))) / max(abs(np.vdot(y, C @ x)), 1e-300)
    return condition * _d("error_safety") * max(np.finfo(float).eps, pole.residual)


def _edge_error(found: dict[float, _State], root: float) -> float:
    """How far the root of ``Re s(p)`` may sit from the computed one because ``s`` itself carries error: the
    eigenvalue's first-order error bound at the root (:func:`_eigen_error`) over the slope ``|∂Re s/∂p|`` (the
    secant through the evaluated points nearest the root on either side)."""
    state = found[root]
    G, C = state.pencil
    bound = _eigen_error(G, C, state.poles[0])
    below = [p for p in found if p < root]
    above = [p for p in found if p > root]
    if not below or not above:
        return 0.0
    lo, hi = max(below), min(above)
    slope = abs(found[hi].poles[0].s.real - found[lo].poles[0].s.real) / (hi - lo)
    return float(bound / slope) if slope > 0 else math.inf


def edge_by_continuation(pencil_at: PencilFn, stable_value: float, unstable_value: float, poles=None, *,
                         rtol: float = 1e-10, atol: float = 0.0, param: str = "p",
                         max_pencils: int | None = None) -> EdgeLocation:
    """The parameter value between ``stable_value`` and ``unstable_value`` where a natural frequency crosses the
    jω axis, by following the right-half-plane poles of the unstable end towards the stable end.

    Every right-half-plane mode at ``unstable_value`` (``poles``, one per conjugate pair) is followed
    (:func:`track_poles`, step control) to ``stable_value``, where each must have reached the left half-plane;
    for each, the followed path gives a bracket where ``Re s`` changes sign (the one nearest the stable end),
    and Brent's method finds the root of ``Re s(p)`` in it, each evaluation continued from the nearest followed
    point. The edge is the crossing nearest the stable end (the value where the verdict changes).

    Parameters
    ----------
    pencil_at : callable
        ``pencil_at(p) -> (G, C)`` (see :func:`track_poles`).
    stable_value, unstable_value : float
        The bracket: the circuit is stable at the first and unstable at the second (by the one verdict,
        :mod:`stabkit.analysis.verdict`).
    poles : array_like, optional
        Natural frequencies at ``unstable_value`` (rad/s), e.g. the exact poles the verdict computed; their
        right-half-plane members (``Im s ≥ 0``) are followed. Default: the exact eigenvalues there.
    rtol, atol : float
        Brent's tolerance on the root of ``Re s(p)``: ``max(atol, rtol·|edge|)``. The stated
        ``EdgeLocation.tolerance`` adds the pole's rounding-level error bound at the root over ``|∂Re s/∂p|``.
    param : str
        The parameter's name (for the track and messages).
    max_pencils : int, optional
        Pencil evaluations at most (default ``defaults["continuation.max_pencils"]``).

    Returns
    -------
    EdgeLocation
        ``value is None`` with the ``reason`` when the continuation could not locate the edge (no right-half-plane
        pole at the unstable end, a pole that does not reach the left half-plane — e.g. one leaving through
        infinity, where the pencil changes degree —, a correction that fails).
    """
    a, b = float(stable_value), float(unstable_value)
    if not (math.isfinite(a) and math.isfinite(b)) or a == b:
        raise ValueError(f"the bracket needs two different finite values, got {stable_value!r}, {unstable_value!r}")
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol}")
    return _edge_by_continuation(pencil_at, a, b, poles, rtol, atol, param, max_pencils)


def _edge_by_continuation(pencil_at, a, b, poles, rtol, atol, param, max_pencils) -> EdgeLocation:
    from scipy.optimize import brentq

    budget = _Budget(pencil_at, max_pencils if max_pencils is not None else _d("max_pencils"))
    empty = PoleTrack(param=param, values=np.array([b]), poles=np.zeros((1, 0), complex),
                      residuals=np.zeros((1, 0)), requested=np.array([True]), complete=False)
    notes: list[str] = []
    try:
        if poles is None:
            poles = _exact_poles(*budget(b))
        modes = select_modes(np.asarray(poles, dtype=complex), "rhp")
        if modes.size == 0:
            return _fail(empty, budget, f"no right-half-plane pole at the unstable end {param} = {b:g}")
        start, start_notes = _start_state(budget, b, modes, len(modes))
        notes += start_notes
    except _CorrectionFailed as exc:
        return _fail(empty, budget, str(exc))
    span = abs(b - a)
    h = _d("derivative_rtol") * max(span, abs(a), abs(b))
    scale = np.maximum(np.abs(start.s), 1e-300)
    states = [start]
    try:
        # a real pole that grows towards the stable end is on its way to infinity (the pencil changes degree
        # there: an ideal NIC at L_ext = L0), where no Re s = 0 exists to find
        slope = _tangent(budget, start, h)
        start.slope = slope
        for k, (s0, ds) in enumerate(zip(start.s, slope)):
            if s0.imag == 0 and s0.real > 0 and (ds.real * (a - b)) > 0:
                track = _track_of(states, [True], param, budget, False, notes)
                return _fail(track, budget, f"the real right-half-plane pole {s0 / TWO_PI:.4g} Hz grows towards the "
                                            f"stable end: it leaves through infinity, not through the jω axis",
                             status="infinity")
        states += _continue(budget, states, a, h, False, scale, notes)
    except _CorrectionFailed as exc:
        track = _track_of(states, [True] + [False] * (len(states) - 1), param, budget, False, notes)
        return _fail(track, budget, f"following the poles from {b:g} to {a:g}: {exc}",
                     status="infinity" if isinstance(exc, _ThroughInfinity) else "failed")
    requested = [True] + [False] * (len(states) - 2) + [True]
    track = _track_of(states, requested, param, budget, True, notes)
    # for each mode: the sign change of Re s nearest the stable end
    path = states  # ordered from the unstable end to the stable end
    candidates = []
    for k in range(len(start.poles)):
        re = np.array([st.poles[k].s.real for st in path])
        if re[-1] >= 0:
            return _fail(track, budget, f"mode {k + 1} is still in the right half-plane at the stable end {a:g} "
                                        f"({path[-1].poles[k].s / TWO_PI:.4g} Hz): it does not cross the jω axis "
                                        "in this bracket")
        i = len(path) - 2
        while i >= 0 and re[i] < 0:
            i -= 1
        if i < 0:
            return _fail(track, budget, f"mode {k + 1} ({path[0].poles[k].s / TWO_PI:.4g} Hz on the pencil at "
                                        f"{b:g}) is not in the right half-plane at the unstable end")
        candidates.append((k, i))  # Re s ≥ 0 at path[i], < 0 at path[i + 1]
    best = None
    for k, i in candidates:
        near, far = path[i + 1], path[i]  # stable side, unstable side of the sign change

        def re_s(p, _k=k, _near=near, _far=far):
            if p == _near.p:
                return _near.poles[_k].s.real
            if p == _far.p:
                return _far.poles[_k].s.real
            one = [_State(st.p, [st.poles[_k]], st.pencil) for st in (_far, _near)]
            if abs(p - _far.p) < abs(p - _near.p):
                one.reverse()
            got = _continue(budget, one, p, h, False, scale[_k:_k + 1], notes)
            found[p] = got[-1]
            return got[-1].poles[0].s.real

        found: dict[float, _State] = {st.p: _State(st.p, [st.poles[k]], st.pencil) for st in (near, far)}
        lo_p, hi_p = sorted((near.p, far.p))
        tol = max(atol, rtol * max(abs(lo_p), abs(hi_p)), 1e-300)
        try:
            if re_s(near.p) == 0:
                root = near.p
            elif re_s(far.p) == 0:
                root = far.p
            else:
                root = brentq(re_s, lo_p, hi_p, xtol=tol, rtol=max(rtol, 4 * np.finfo(float).eps), maxiter=200)
        except _CorrectionFailed as exc:
            return _fail(track, budget, f"mode {k + 1}: locating Re s = 0: {exc}")
        if root not in found:  # brentq returned a point it did not evaluate last: evaluate it
            try:
                re_s(root)
            except _CorrectionFailed as exc:
                return _fail(track, budget, f"mode {k + 1}: at the root: {exc}")
        # polish the pole at the root to the rounding level (its error bound scales with the residual)
        at_root = found[root]
        polished = correct_pole(*at_root.pencil, at_root.poles[0].s, right=at_root.poles[0].right,
                                left=at_root.poles[0].left, tol=4 * np.finfo(float).eps, max_iterations=3)
        budget.factorizations += polished.iterations
        if polished.converged and polished.residual < at_root.poles[0].residual:
            found[root] = _State(root, [polished], at_root.pencil)
        pole = found[root].poles[0]
        # real or a pair: by the followed path either side (at the root a real pole is ~0, its Im rounding)
        real = all(abs(c.s.imag) <= 1e-6 * abs(c.s) for c in (near.poles[k], far.poles[k]))
        tol += _edge_error(found, root)
        if best is None or abs(root - a) < abs(best[0] - a):
            best = (root, k, pole.s, tol, real)
    root, k, s, tol, real = best
    s = complex(s.real, 0.0) if real else complex(s.real, abs(s.imag))
    track.warnings = list(notes)
    return EdgeLocation(value=float(root), pole=s, f_osc=0.0 if real else float(abs(s.imag) / TWO_PI),
                        crossing="real pole" if real else "complex pair", tolerance=float(tol), track=track,
                        mode=k, pencils=budget.pencils, factorizations=budget.factorizations)
