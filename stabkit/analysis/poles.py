"""Exact natural frequencies of a lumped circuit: the finite generalized eigenvalues of ``(G, −C)``.

``det(G + s·C) = 0``. ``C`` is singular in MNA (resistive nodes, voltage-source branches), which puts
spurious infinite eigenvalues in a plain QZ solution. Instead of sorting eigenvalues with a magic cutoff,
the pencil is *deflated exactly*:

1. unknowns that no ``C`` entry touches are algebraic: they are eliminated by a Schur complement of
   ``G`` (exact linear algebra, no threshold);
2. what remains has a square ``C``; if it is still rank-deficient (capacitor-only cut-sets, series
   capacitors), a rank-revealing SVD of the *scaled* ``C`` splits off its null space, which is again
   eliminated by a Schur complement. Repeat until ``C`` is invertible;
3. the finite eigenvalues are then those of the standard problem ``−C⁻¹G`` (balanced).

Higher-index pencils (an ideal NIC ties two inductor currents together) defeat step 1–2, because the
algebraic block is singular although the pencil is regular. Only then does a tolerance enter: a
shift-and-invert eigenproblem whose infinite eigenvalues sit at (perturbed) zero; see
:func:`_shift_invert_finite`.

The time scale is normalised first (``s = ŝ/τ`` with ``τ`` matching ``‖C‖`` to ``‖G‖``) so the rank
decision compares numbers of like size. A pencil that is singular for every ``s`` (a floating subcircuit)
is reported as :class:`CircuitError`, naming the unknowns involved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import warnings

import numpy as np
import scipy.linalg as la

from stabkit.analysis.mna import MNASystem, assemble
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError, DistributedCircuitError

TWO_PI = 2.0 * np.pi
#: relative rank tolerance for the scaled C matrix (singular values below it count as zero)
RANK_RTOL = 1e-11
#: a pole counts as right-half-plane when Re(s) > MARGIN_RTOL·|s| (and as marginal within it)
MARGIN_RTOL = 1e-9


def _schur_eliminate(G: np.ndarray, C: np.ndarray, keep: np.ndarray, drop: np.ndarray, names: list[str]):
    """Eliminate ``drop`` (where C has no entries) from ``G + sC``: G_kk − G_kd G_dd⁻¹ G_dk."""
    if drop.size == 0:
        return G, C
    Gdd = G[np.ix_(drop, drop)]
    try:
        with warnings.catch_warnings():  # a singular block is diagnosed below, not warned about
            warnings.simplefilter("ignore", la.LinAlgWarning)
            lu = la.lu_factor(Gdd, check_finite=True)
        cond_ok = np.min(np.abs(np.diag(lu[0]))) > 1e-14 * max(1.0, np.max(np.abs(Gdd)))
    except (la.LinAlgError, ValueError):
        cond_ok = False
    if not cond_ok:
        involved = [names[i] for i in drop] if names else []
        raise CircuitError(
            "the circuit equations are singular for every frequency: the algebraic part "
            f"({', '.join(involved[:8])}{' …' if len(involved) > 8 else ''}) is undetermined — look for a floating "
            "subcircuit, a cut-set of current sources or a loop of voltage sources")
    Gkd = G[np.ix_(keep, drop)]
    Gdk = G[np.ix_(drop, keep)]
    Gred = G[np.ix_(keep, keep)] - Gkd @ la.lu_solve(lu, Gdk)
    return Gred, C[np.ix_(keep, keep)]


class _HigherIndex(Exception):
    """The algebraic part cannot be eliminated by a plain Schur complement (index > 1)."""


def _eliminate_or_flag(G, C, keep, drop):
    try:
        return _schur_eliminate(G, C, keep, drop, [])
    except CircuitError:
        raise _HigherIndex from None


def _shift_invert_finite(G: np.ndarray, C: np.ndarray, names: list[str]) -> np.ndarray:
    """Fallback for higher-index pencils: eigenvalues μ of ``(G + σC)⁻¹C`` give ``s = σ − 1/μ``.

    The infinite eigenvalues sit at μ = 0, perturbed by rounding to about ``√ε·‖A‖`` for index 2; a
    finite pole that is merely *large* (an ideal NIC near the load value where its pole passes through
    infinity) also has a small μ, so size alone cannot separate them. Two different shifts are used
    instead: a genuine eigenvalue ``s`` is the same from both (to rounding), a perturbed infinite one is
    not. μ above ``INDEX_RTOL·‖A‖`` are finite without question; smaller ones are kept only when both
    shifts agree on ``s`` to ``AGREE_RTOL`` relative, and μ below ``INDEX_FLOOR·‖A‖`` (|s| beyond 10¹² times
    the circuit's own time scale, where rounding alone decides) count as infinite."""
    runs = []
    for sigma in (0.7310585786, -1.3247179572, 2.7182818285, -0.5772156649):
        Gs = G + sigma * C
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", la.LinAlgWarning)
            lu, piv = la.lu_factor(Gs)
        if np.min(np.abs(np.diag(lu))) > 1e-13 * max(1.0, np.max(np.abs(Gs))):
            A = la.lu_solve((lu, piv), C)
            runs.append((sigma, la.eigvals(A), max(float(la.norm(A, 1)), 1e-300)))
        if len(runs) == 2:
            break
    if not runs:
        raise CircuitError("the circuit equations are singular for every frequency (det(G + sC) ≡ 0): look for a "
                           f"floating subcircuit, a cut-set of current sources or a loop of voltage sources "
                           f"(unknowns: {', '.join(names[:8])}{' …' if len(names) > 8 else ''})")
    sigma, mu, norm_a = runs[0]
    if mu.size == 0:
        return np.zeros(0, dtype=complex)
    nonzero = np.abs(mu) > 1e-300
    s1 = np.full(mu.shape, np.inf + 0j)
    s1[nonzero] = sigma - 1.0 / mu[nonzero]
    sure = np.abs(mu) > INDEX_RTOL * norm_a
    if len(runs) == 1:
        return s1[sure]
    sigma2, mu2, _ = runs[1]
    nz2 = np.abs(mu2) > 1e-300
    s2 = sigma2 - 1.0 / mu2[nz2]
    keep = sure.copy()
    for i in np.flatnonzero(~sure & (np.abs(mu) > INDEX_FLOOR * norm_a)):
        if s2.size and np.min(np.abs(s2 - s1[i])) <= AGREE_RTOL * abs(s1[i]):
            keep[i] = True
    return s1[keep]


#: two shifts must agree on a small-μ (large) eigenvalue to this relative accuracy for it to count as finite
AGREE_RTOL = 1e-4
#: μ below INDEX_FLOOR·‖A‖ is infinite (the pole would lie 10¹² circuit time scales out)
INDEX_FLOOR = 1e-12


#: relative size of μ = 1/(σ − s) below which an eigenvalue counts as infinite (higher-index fallback only)
INDEX_RTOL = 1e-6


def finite_eigenvalues(G: np.ndarray, C: np.ndarray, names: list[str] | None = None) -> np.ndarray:
    """Finite ``s`` with ``det(G + s·C) = 0`` for dense real ``G``, ``C`` (any size, C singular allowed).

    Returns a complex array in rad/s, sorted by real part (descending) then imaginary part.
    """
    G = np.asarray(G, dtype=float)
    C = np.asarray(C, dtype=float)
    n = G.shape[0]
    if n == 0:
        return np.zeros(0, dtype=complex)
    names = list(names) if names else [f"x{i}" for i in range(n)]
    # 1. time scaling: s = ŝ/τ
    gnorm = np.max(np.abs(G)) if np.any(G) else 1.0
    cnorm = np.max(np.abs(C)) if np.any(C) else 0.0
    if cnorm == 0.0:
        _schur_eliminate(G, C, np.arange(0), np.arange(n), names)  # raises if singular
        return np.zeros(0, dtype=complex)
    tau = cnorm / gnorm
    Cs = C / tau
    # diagonal equilibration of G + ŝ·Cs (rows and columns), which leaves eigenvalues unchanged
    scale_r = 1.0 / np.sqrt(np.maximum(np.max(np.abs(G), axis=1), np.max(np.abs(Cs), axis=1)) + 1e-300)
    scale_c = 1.0 / np.sqrt(np.maximum(np.max(np.abs(G), axis=0), np.max(np.abs(Cs), axis=0)) + 1e-300)
    Gw0 = scale_r[:, None] * G * scale_c[None, :]
    Cw0 = scale_r[:, None] * Cs * scale_c[None, :]
    try:
        Gw, Cw = _deflate(Gw0, Cw0)
        ev = la.eigvals(-la.solve(Cw, Gw)) if Gw.shape[0] else np.zeros(0, dtype=complex)
    except _HigherIndex:
        ev = _shift_invert_finite(Gw0, Cw0, names)
    ev = np.asarray(ev, dtype=complex) / tau
    order = np.lexsort((ev.imag, -ev.real))
    return ev[order]


def _deflate(Gw: np.ndarray, Cw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact deflation of the infinite eigenvalues (index-1 part): structural, then rank-revealing."""
    touched = (np.any(Cw != 0, axis=0) | np.any(Cw != 0, axis=1))
    Gw, Cw = _eliminate_or_flag(Gw, Cw, np.flatnonzero(touched), np.flatnonzero(~touched))
    for _ in range(Gw.shape[0] + 1):
        m = Gw.shape[0]
        if m == 0:
            break
        Uc, sig, Vct = la.svd(Cw)
        rank = int(np.sum(sig > RANK_RTOL * sig[0])) if sig.size and sig[0] > 0 else 0
        if rank == m:
            break
        # rotate: Ucᵀ (G + sC) V = Ucᵀ G V + s·diag(sig, 0), then eliminate the null part
        Gt = Uc.T @ Gw @ Vct.T
        Ct = np.diag(np.where(np.arange(m) < rank, sig, 0.0))
        Gw, Cw = _eliminate_or_flag(Gt, Ct, np.arange(rank), np.arange(rank, m))
    return Gw, Cw


@dataclass
class PoleResult:
    """Natural frequencies of a lumped circuit.

    ``poles`` are complex frequencies ``s`` in rad/s; ``poles_hz`` the same divided by 2π (the contract's
    ``[re_hz, im_hz]``). ``stable`` means every pole has ``Re(s) < 0``; poles on the jω axis (within a
    relative margin) are *marginal* and make the circuit not stable but are not counted as RHP.
    """

    poles: np.ndarray
    params: dict[str, float] = field(default_factory=dict)
    title: str = ""
    #: structural natural frequencies at s = 0 (not in ``poles``)
    zero_modes: int = 0
    #: reasons the result is numerically uncertain (make :attr:`verdict` ``"uncertain"``)
    doubts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def poles_hz(self) -> np.ndarray:
        return self.poles / TWO_PI

    @property
    def rhp_mask(self) -> np.ndarray:
        """True where a pole has ``Re(s) > 0`` beyond the relative margin."""
        return self.poles.real > MARGIN_RTOL * np.maximum(np.abs(self.poles), 1e-300)

    @property
    def rhp(self) -> np.ndarray:
        """Poles with ``Re(s) > 0`` (beyond a relative margin)."""
        return self.poles[self.rhp_mask]

    @property
    def marginal(self) -> np.ndarray:
        """Poles on the jω axis within the relative margin (including s = 0)."""
        tol = MARGIN_RTOL * np.maximum(np.abs(self.poles), 1e-300)
        return self.poles[np.abs(self.poles.real) <= tol]

    @property
    def rhp_count(self) -> int:
        return int(self.rhp.size)

    @property
    def verdict(self) -> str:
        """``"unstable"`` (a pole surely in the RHP), ``"uncertain"`` (doubt, or a pole on the jω axis) or
        ``"stable"``."""
        if self.rhp_count:
            return "unstable"
        if self.marginal.size or self.doubts:
            return "uncertain"
        return "stable"

    @property
    def stable(self) -> bool:
        return self.verdict == "stable"

    def to_dict(self) -> dict:
        return {
            "stable": self.stable,
            "verdict": self.verdict,
            "warnings": [*self.doubts, *self.warnings],
            "zero_modes": int(self.zero_modes),
            "rhp_count": self.rhp_count,
            "marginal_count": int(self.marginal.size),
            "poles": [[float(p.real), float(p.imag)] for p in self.poles_hz],
        }

    def plot(self, ax=None, **kwargs):
        """Pole map (s/2π in Hz), RHP poles in red."""
        from stabkit.report.plots import plot_pole_map

        return plot_pole_map(self.poles_hz, ax=ax, title=self.title, **kwargs)


def poles(circuit: Circuit | MNASystem, params: Mapping[str, float] | None = None) -> PoleResult:
    """Exact natural frequencies of a lumped circuit (all independent sources off).

    Raises :class:`DistributedCircuitError` when the circuit has transmission lines or N-port blocks:
    they have no finite pencil, use :func:`stabkit.ndf` there.
    """
    system = circuit if isinstance(circuit, MNASystem) else assemble(circuit, params)
    if not system.is_lumped:
        names = sorted({d.element for d in system.distributed})
        raise DistributedCircuitError(
            f"the circuit has distributed elements ({', '.join(names)}): it has infinitely many natural "
            "frequencies and no finite pencil; use the NDF (stabkit ndf) to count its unstable ones")
    G = system.G.toarray()
    C = system.C.toarray()
    ev = finite_eigenvalues(G, C, system.unknowns)
    return PoleResult(poles=ev, params=dict(system.params), title=system.circuit.title)
