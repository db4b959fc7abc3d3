"""Rightmost (least-damped) natural frequencies of large lumped circuits by shift-invert Arnoldi.

The exact full spectrum (:func:`stabkit.analysis.poles.poles`) is a dense eigen-solution: ``O(n³)`` time and
``O(n²)`` memory, minutes and gigabytes beyond a few thousand unknowns. What a stability verdict needs is
the natural frequencies near and right of the jω axis. With a shift ``σ`` the pencil ``(G + s·C)·x = 0``
becomes the standard problem::

    (G + σC)⁻¹ C · x = μ · x,      s = σ − 1/μ

whose largest ``|μ|`` are the natural frequencies nearest ``σ``; a Krylov subspace of the operator finds
them: one sparse LU of ``G + σC`` and an Arnoldi factorization of a few dozen solves (no implicit restarts:
see :func:`shift_invert_modes`). Infinite eigenvalues of the pencil (algebraic unknowns) map to ``μ = 0`` and
never come out. The shifts: one real shift at the band's low end (the slowest modes, either side of the
axis), then a walk up the ray ``ω·(offset + j)`` just right of the jω axis, each next shift past the
candidates the previous one found and at least ``10^(1/shifts_per_decade)`` higher, up to the band's top;
when the NDF counts more right-half-plane modes than were found, the same walk along the positive real axis
and the diagonal ``ω(1 + j)``.

Each candidate is checked *a posteriori* against the circuit's own pencil: a few Rayleigh-quotient steps
(a fresh sparse LU of ``G + sC`` at the current value, one inverse-iteration step for the right and the
left vector, a Newton correction) and the componentwise first-order error bound of
:mod:`stabkit.analysis.poles` (condition number ``|y|ᵀ(|G| + |s||C|)|x| / |yᴴCx|`` times the rounding level,
plus the residual term and a tenth of the last step, times the safety factor). A candidate whose bound stays
above ``defaults["rightmost.verified_rtol"]`` of its size (a mode the Krylov space could not separate from a
dense cluster) is left out, and the result says how many were.

Completeness is *not* claimed: a mode may hide between or beyond the shifts. The result says so
(``complete=False``) and :func:`stabkit.analysis.verdict.judge` cross-checks it with the NDF count: when the
NDF counts unstable modes and none was found, or when the NDF is sure of stability and a verified mode is in
the right half-plane, the verdict is ``uncertain``; a verified unstable mode with a larger NDF count is
``unstable`` (the count is the NDF's, with a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from stabkit.analysis.mna import MNASystem, assemble
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError, DistributedCircuitError

__all__ = ["METHOD", "defaults", "rightmost_poles", "slowest_modes", "shift_invert_modes"]

TWO_PI = 2.0 * np.pi
EPS = np.finfo(float).eps
#: the ``method`` a :class:`~stabkit.analysis.poles.PoleResult` from here carries
METHOD = "shift-invert Arnoldi"

#: tunables
defaults: dict[str, float] = {
    # natural frequencies asked for at each shift (the nearest ones)
    "rightmost.k": 12,
    # shifts per decade of the band along the axis
    "rightmost.shifts_per_decade": 1.0,
    # at most this many shifts along the axis
    "rightmost.max_shifts": 24,
    # real part of an axis shift, as a fraction of its imaginary part ("just right of the axis")
    "rightmost.offset": 0.1,
    # Krylov dimension per shift: at least this (and 3k)
    "rightmost.krylov_min": 30,
    # a Ritz value is a candidate when its Ritz residual is below this fraction of |μ|
    "rightmost.ritz_rtol": 1e-3,
    # at most this many refinement steps (a sparse LU each) per candidate
    "rightmost.refine_steps": 4,
    # a mode is kept only when its error bound is below this fraction of its size
    "rightmost.verified_rtol": 1e-6,
    # two modes closer than this (relative) are one
    "rightmost.merge_rtol": 1e-7,
}


def _d(key: str):
    return defaults[f"rightmost.{key}"]


def _factor(A: sp.csc_matrix):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
        return spla.splu(A.tocsc(), permc_spec="COLAMD")


def shift_invert_modes(G: sp.spmatrix, C: sp.spmatrix, sigma: complex, k: int, *, seed: int = 0
                       ) -> tuple[np.ndarray, np.ndarray, complex]:
    """Candidate natural frequencies of ``(G + s·C)x = 0`` near ``sigma`` (rad/s) with their right vectors
    (columns): Ritz pairs of an Arnoldi factorization of ``(G + σC)⁻¹C`` of dimension ``m = max(3k, 30)``
    (one sparse LU, ``m`` solves, Gram–Schmidt twice), those whose Ritz residual is below
    ``defaults["rightmost.ritz_rtol"]`` of ``|μ|``, at most ``k`` of them, largest ``|μ|`` first (nearest
    ``σ``). They are candidates: :func:`rightmost_poles` verifies each against the pencil. Returns
    ``(values, vectors, sigma_used)``; a shift on an eigenvalue is nudged (relative 1e-7) until
    ``G + σC`` factors. No implicit restarts (ARPACK's restarts spend their time resolving dense clusters
    deep in the left half-plane that a verdict does not need); the isolated extremal ``μ`` — natural
    frequencies near the shift standing out from the rest — converge first."""
    G, C = sp.csc_matrix(G), sp.csc_matrix(C)
    n = G.shape[0]
    lu = None
    for attempt in range(4):
        try:
            lu = _factor(G.astype(complex) + sigma * C)
            break
        except RuntimeError:  # exactly singular: σ is an eigenvalue
            sigma = sigma + 1e-7 * max(abs(sigma), 1.0) * (1 + 1j) ** (attempt + 1)
    if lu is None:
        raise CircuitError("shift-invert Arnoldi: G + σC is singular at every shift tried (the pencil is singular)")
    m = int(min(n, max(3 * k, int(_d("krylov_min")))))
    if m < 1 or k < 1:
        return np.zeros(0, complex), np.zeros((n, 0), complex), sigma
    V = np.zeros((n, m + 1), dtype=complex, order="F")  # columns contiguous: BLAS gemv without copies
    H = np.zeros((m + 1, m), dtype=complex)
    v = np.random.default_rng(seed).standard_normal(n) + 0j
    V[:, 0] = v / np.linalg.norm(v)
    size = m
    for j in range(m):
        w = lu.solve(np.asarray(C @ V[:, j], dtype=complex))
        basis = V[:, :j + 1]
        h = (w.conj() @ basis).conj()
        w = w - basis @ h
        h2 = (w.conj() @ basis).conj()  # classical Gram–Schmidt, twice
        w = w - basis @ h2
        h = h + h2
        H[:j + 1, j] = h
        beta = float(np.linalg.norm(w))
        H[j + 1, j] = beta
        if beta <= 1e-13 * max(float(np.linalg.norm(h)), 1e-300):  # an invariant subspace: exact Ritz pairs
            size = j + 1
            break
        V[:, j + 1] = w / beta
    Hm = H[:size, :size]
    mu, Z = np.linalg.eig(Hm)
    resid = abs(H[size, size - 1]) * np.abs(Z[size - 1, :])
    scale = np.max(np.abs(mu), initial=0.0)
    good = (np.abs(mu) > 1e3 * EPS * scale) & (resid <= _d("ritz_rtol") * np.abs(mu))
    order = np.flatnonzero(good)[np.argsort(-np.abs(mu[good]))][:k]
    X = V[:, :size] @ Z[:, order]
    return sigma - 1.0 / mu[order], X, sigma


def _refine(G: sp.csc_matrix, C: sp.csc_matrix, s: complex, x: np.ndarray, Ga, Ca, floor: float
            ) -> tuple[complex, float]:
    """Rayleigh-quotient-style refinement of a candidate mode against the pencil (at most
    ``defaults["rightmost.refine_steps"]`` steps, each a sparse LU of ``G + sC`` at the current value and one
    inverse-iteration step for the right and left vectors, then a Newton correction), and the componentwise
    first-order error bound (rad/s) at the result."""
    from stabkit.analysis.poles import defaults as pole_defaults

    n = G.shape[0]
    y = np.random.default_rng(7).standard_normal(n) + 0j
    err = np.inf
    for _ in range(int(_d("refine_steps"))):
        A = G.astype(complex) + s * C
        try:
            lu = _factor(A)
        except RuntimeError:  # s is an eigenvalue to the last bit: take it a hair away
            lu = _factor(G.astype(complex) + (s * (1 + 1e-13) + 1e-300) * C)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            x = lu.solve(np.asarray(C @ x, dtype=complex))
            x /= np.linalg.norm(x)
            y = lu.solve(np.asarray(C.conj().T @ y, dtype=complex), trans="H")
            y /= np.linalg.norm(y)
            cxy = complex(np.vdot(y, C @ x))
            if not np.isfinite(cxy) or cxy == 0:
                return s, np.inf
            step = -complex(np.vdot(y, A @ x)) / cxy
            s = s + step
            r_new = G @ x + s * (C @ x)
            ax, ay = np.abs(x), np.abs(y)
            kappa = float(ay @ (Ga @ ax + abs(s) * (Ca @ ax))) / abs(cxy)
            residual = float(np.linalg.norm(r_new) * np.linalg.norm(y)) / abs(cxy)
            err = pole_defaults["poles.error_safety"] * (floor * kappa + residual
                                                        + pole_defaults["poles.newton_residual"] * abs(step))
        if not np.isfinite(err) or abs(step) <= 1e-3 * err:
            break
    return s, float(err) if np.isfinite(err) else np.inf


def _merge(values: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-values.real)
    kept_v: list[complex] = []
    kept_e: list[float] = []
    for v, e in zip(values[order], errors[order]):
        if any(abs(v - u) <= _d("merge_rtol") * max(abs(u), abs(v)) for u in kept_v):
            continue
        kept_v.append(complex(v))
        kept_e.append(float(e))
    return np.array(kept_v, dtype=complex), np.array(kept_e)


def slowest_modes(G: sp.spmatrix, C: sp.spmatrix, w_floor: float, k: int = 6) -> np.ndarray:
    """The ``k`` natural frequencies nearest ``s = 0`` (rad/s), for the NDF's band: shift ``w_floor`` (a real
    rate far below the circuit's; structural zero modes at ``s = 0`` come out near zero and are left to the
    caller). Empty when the pencil cannot be factored."""
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1):
            vals, _, _ = shift_invert_modes(G, C, complex(w_floor), k)
    except (CircuitError, ValueError, RuntimeError):
        return np.zeros(0, dtype=complex)
    return vals


def rightmost_poles(circuit: Circuit | MNASystem, params: Mapping[str, float] | None = None, *,
                    fmin: float | None = None, fmax: float | None = None, k: int | None = None,
                    expected_rhp: int | None = None):
    """Rightmost / least-damped natural frequencies of a (large) lumped circuit by shift-invert Arnoldi on the
    sparse pencil ``G + sC``.

    Parameters
    ----------
    circuit : Circuit or MNASystem
    params : mapping, optional
        ``.param`` overrides (a Circuit only).
    fmin, fmax : float, optional
        The band (Hz) the shifts cover; default from the NDF's default band at the low end and the fastest
        element time scale at the top (:func:`stabkit.analysis.ndf.element_frequency_band`).
    k : int, optional
        Natural frequencies per shift (default ``defaults["rightmost.k"]``).
    expected_rhp : int, optional
        The NDF's count of right-half-plane natural frequencies: while fewer are found, shifts on the
        positive real axis and on the diagonal ``ω(1 + j)`` over the band are added.

    Returns
    -------
    PoleResult
        ``method == "shift-invert Arnoldi"``, ``complete == False`` (a part of the spectrum: completeness comes
        from the NDF count, see :func:`stabkit.analysis.verdict.judge`), every mode with its a-posteriori error
        bound, conjugates included; the shifts and the covered discs in ``warnings``.
    """
    from threadpoolctl import threadpool_limits

    # many small dense steps: BLAS threads only contend (10x slower on a shared 2-core machine)
    with threadpool_limits(limits=1):
        return _rightmost_poles(circuit, params, fmin, fmax, k, expected_rhp)


def _rightmost_poles(circuit, params, fmin, fmax, k, expected_rhp):
    from stabkit.analysis.ndf import default_band, element_frequency_band
    from stabkit.analysis.poles import PoleResult, pole_doubts

    system = circuit if isinstance(circuit, MNASystem) else assemble(circuit, params)
    if not system.is_lumped:
        names = sorted({d.element for d in system.distributed})
        raise DistributedCircuitError(f"the circuit has distributed elements ({', '.join(names)}): no finite pencil; "
                                      "use the NDF")
    G, C = system.G.tocsc(), system.C.tocsc()
    n = system.n
    if n == 0:
        return PoleResult(poles=np.zeros(0, complex), params=dict(system.params), title=system.circuit.title,
                          errors=np.zeros(0), method=METHOD, complete=False)
    lo_hz, _ = default_band(system)
    _, w_elements = element_frequency_band(system)
    f_lo = float(fmin) if fmin is not None else lo_hz
    f_hi = float(fmax) if fmax is not None else w_elements / TWO_PI
    if not (0 < f_lo < f_hi and np.isfinite(f_hi)):
        raise CircuitError(f"rightmost poles: need 0 < fmin < fmax, got fmin={f_lo:g} Hz, fmax={f_hi:g} Hz")
    kk = int(k if k is not None else _d("k"))
    found, vectors, discs = [], [], []

    def run(sigma):
        vals, X, used = shift_invert_modes(G, C, sigma, kk, seed=len(discs))
        radius = float(np.max(np.abs(vals - used))) if vals.size else 0.0
        discs.append((used, radius))
        found.extend(vals)
        vectors.extend(X.T)
        return radius

    def walk(start: complex, direction: complex, w_top: float) -> None:
        """Shifts ``start + t·direction`` (``t`` up from ``|start|``), each placed where the discs so far stop
        covering the ray, at least a factor ``10^(1/shifts_per_decade)`` apart."""
        step = 10.0 ** (1.0 / _d("shifts_per_decade"))
        t = abs(start)
        while len(discs) < _d("max_shifts"):
            sigma = t * direction
            radius = run(sigma)
            if t >= w_top:
                break
            t = min(max(t * step, t + radius), w_top)  # past the candidates this shift found

    w_lo, w_hi = TWO_PI * f_lo, TWO_PI * f_hi
    run(complex(w_lo))  # the slowest modes, on either side of the axis
    walk(w_lo, _d("offset") + 1j, w_hi)  # along, just right of, the jω axis
    if expected_rhp is not None:
        # fewer right-half-plane modes than the NDF counts: look further right (real and diagonal rays)
        for direction in (1.0 + 0j, (1.0 + 1j) / np.sqrt(2.0)):
            if np.sum(np.real(found) > 0) >= expected_rhp:
                break
            walk(w_lo, direction, w_hi)
    shifts = [u for u, _ in discs]
    Ga, Ca = abs(G), abs(C)
    floor = (max(int(np.max(np.diff(G.indptr), initial=0)), int(np.max(np.diff(C.indptr), initial=0))) + 2) * EPS
    values, errors = [], []
    for s, x in zip(found, vectors):
        s_new, err = _refine(G, C, complex(s), np.asarray(x), Ga, Ca, floor)
        values.append(s_new)
        errors.append(err)
    values, errors = np.array(values, dtype=complex), np.array(errors, dtype=float)
    # a Ritz value whose a-posteriori bound is not small (the Krylov space did not separate it from a cluster) is not a
    # verified mode: left out (the NDF cross-check covers whatever is missing)
    verified = errors < _d("verified_rtol") * np.abs(values)
    dropped = int(np.sum(~verified))
    values, errors = values[verified], errors[verified]
    # a real pencil: the spectrum is symmetric about the real axis
    real = np.abs(values.imag) <= np.maximum(errors, 1e-12 * np.abs(values))
    values = np.where(real, values.real + 0j, values)
    values = np.concatenate([values, values[~real].conj()])
    errors = np.concatenate([errors, errors[~real]])
    values, errors = _merge(values, errors)
    order = np.lexsort((values.imag, -values.real))
    values, errors = values[order], errors[order]
    note = (f"{METHOD}: {values.size} natural frequencies verified near {len(shifts)} shifts along and right of the "
            f"jω axis from {f_lo:.3g} Hz to {f_hi:.3g} Hz (up to {kk} per shift); a "
            "part of the spectrum, complete only where cross-checked by the NDF count"
            + (f"; {dropped} Ritz value(s) left out (not separated from a cluster: error bound above "
               f"{_d('verified_rtol'):g} of the mode)" if dropped else ""))
    return PoleResult(poles=values, params=dict(system.params), title=system.circuit.title, errors=errors,
                      doubts=pole_doubts(values, errors, False), warnings=[note], method=METHOD, complete=False)
