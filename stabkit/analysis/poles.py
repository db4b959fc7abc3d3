"""Exact natural frequencies of a lumped circuit: the finite generalized eigenvalues of ``(G, −C)``.

``det(G + s·C) = 0``. ``C`` is singular in MNA (resistive nodes, voltage-source branches), so a plain QZ
solution carries infinite eigenvalues that rounding turns into huge finite ones, and every cutoff between
"large" and "infinite" is wrong for some circuit. Here the infinite eigenvalues and the structural zero
modes are deflated from the *structure*, never from the size of a computed number:

1. **Graph structure** (:mod:`stabkit.analysis.structure`): zeroed sources are contracted (V) or dropped
   (I); an integer change of node coordinates built from the element stamps gives ``C`` exact zero rows
   and columns for every algebraic unknown; capacitor-only cut-sets, floating potentials and inductor
   loops are divided out exactly as zero modes.
2. **Generic structure.** What the graph rules do not settle (index > 1: inductor cut-sets, VCVS outputs
   driving capacitors, ideal NICs; zero modes through controlled sources) is a sequence of rank decisions
   on blocks of the pencil. Each decision is made *once per topology* on an instance of the circuit with
   random element values of the same signs, ``U(1, 2)`` in units where every stamp is of order one: that
   pencil is well conditioned, so its ranks are clean (singular values ~1e-16 against order one) and, with
   probability one, equal to the ranks for every element value except a measure-zero set — they are
   properties of the topology. The decisions are recorded as a *plan* (how many directions each step
   deflates) and the circuit's own pencil follows it, taking the directions from its own singular vectors
   and counting whatever it drops into the backward error. The plan also fixes how many roots at ``s = 0``
   are structural and how many eigenvalues are finite, so no spurious eigenvalue survives and no genuine
   fast one is dropped. When the circuit's values cancel exactly (a non-generic circuit: a singular block
   the random instance does not have), the solver falls back to rank decisions at the rounding level on
   the circuit itself and says so.
3. The algebraic unknowns are eliminated by a Schur complement of their ``G`` block, and the dynamic block
   (``C`` nonsingular there) gives the finite eigenvalues with left and right eigenvectors.
4. Every eigenvalue is then checked *a posteriori* against the pencil the numerical steps started from
   (whose entries are sums of element stamps): its eigenvectors are carried back through every logged
   transformation, one Newton step against that pencil corrects it, and its error bound is the
   componentwise one — condition number ``|y|ᵀ(|G| + |λ||C|)|x| / |yᴴCx|`` times the rounding level of the
   entries, plus the second-order terms and a tenth of the Newton step, times a safety factor. Nothing in it
   trusts the deflation steps.

A pole whose error disc crosses the jω axis is *doubtful* (marginal); a pole is surely unstable only when
its whole disc lies in the right half-plane. :class:`PoleResult.verdict` is built on that.
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

__all__ = ["PoleResult", "PencilEigen", "GenericPlan", "poles", "finite_eigenvalues", "pencil_eigenvalues",
           "generic_plan", "defaults", "MARGIN_RTOL"]

TWO_PI = 2.0 * np.pi
EPS = np.finfo(float).eps
#: kept for callers that classify raw eigenvalue arrays (stabkit.analysis.loads): a pole counts as
#: right-half-plane when Re(s) > MARGIN_RTOL·|s|
MARGIN_RTOL = 1e-9

#: tunables (python-control style: change them here rather than monkeypatching module constants)
defaults: dict[str, float] = {
    # without a generic plan (raw matrices, or a circuit whose values cancel exactly): a singular value
    # below this × n × ε × the largest of its block is taken as structurally zero
    "poles.rank_rtol": 64.0,
    # generic instance: singular values below this × n × ε × the largest are zero ...
    "poles.generic_zero_rtol": 1e3,
    # ... and the decision is clean only if every other one is above this factor times that threshold
    "poles.generic_gap": 1e4,
    # safety factor on the first-order error bound of each pole
    "poles.error_safety": 10.0,
    # fraction of the Newton correction against the starting pencil still counted as error (the correction
    # uses approximate eigenvectors; it removes ≥ 99 % of the error on the random-circuit study)
    "poles.newton_residual": 0.1,
    # eigenvalues closer than this × their size are one cluster (a multiple pole: rounding splits a double
    # one by about √ε·|s| ≈ 1.5e-8·|s|); a cluster gets no Newton step and the bound of a multiple root
    "poles.cluster_rtol": 1e-5,
    # a pole whose bound exceeds this fraction of |s| is unresolved: first-order bounds do not hold at that
    # size, so not even its half-plane is known (a 1e21 Hz root beside a 20 Hz one came out on the wrong side)
    "poles.infinite_rtol": 0.1,
}


class _Singular(Exception):
    """det(G + sC) vanishes identically (raised while following or making a plan)."""


class _Unclear(Exception):
    """A rank decision on the random instance had no clean gap (try another instance)."""


# ---------------------------------------------------------------------------------------------- maths
def _pow2(x: np.ndarray) -> np.ndarray:
    """Nearest powers of two (exact scalings)."""
    x = np.where(np.isfinite(x) & (x > 0), x, 1.0)
    return 2.0 ** np.round(np.log2(x))


def equilibrate(G: np.ndarray, C: np.ndarray, sweeps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Row and column scalings (powers of two, so zeros and exactness survive) that bring every row and
    column of ``|G| + |C|`` to unit maximum. Returns ``(r, c)``: use ``r[:, None] * M * c[None, :]``."""
    M = np.abs(G) + np.abs(C)
    r = np.ones(M.shape[0])
    c = np.ones(M.shape[1])
    for _ in range(sweeps):
        rowmax = np.max(r[:, None] * M * c[None, :], axis=1, initial=0.0)
        r = r / np.sqrt(_pow2(rowmax))
        colmax = np.max(r[:, None] * M * c[None, :], axis=0, initial=0.0)
        c = c / np.sqrt(_pow2(colmax))
    return r, c


def _full_rank_quick(B: np.ndarray) -> bool:
    """A square block that is clearly nonsingular (LU condition estimate): no SVD needed for its rank."""
    if B.shape[0] != B.shape[1] or B.size == 0:
        return False
    _, rcond = _rcond(B)
    return rcond > 1e-8


def _svd(B: np.ndarray):
    """Full SVD ``(U, σ, Vᵀ)``. Blocks are never equilibrated on their own before a rank decision: a block row
    that is rounding noise would be blown up into something that looks structural (the whole pencil is
    re-equilibrated instead, :meth:`_Pencil.rebalance`)."""
    return la.svd(B, full_matrices=True, lapack_driver="gesvd", check_finite=False)


class _Pencil:
    """Working copy of a pencil with masks ``alive``/``dyn`` for rows and columns; ``C`` is exactly zero
    outside the (alive, dyn) block. Every operation keeps ``det`` up to a nonzero constant (or divides it by
    a known power of ``s``) and changes the masks in a way that depends only on counts, never on values, so
    a random instance and the circuit's own pencil stay in step. Each operation is logged so that
    eigenvectors of the final pencil can be lifted back to the starting one (:meth:`lift`)."""

    def __init__(self, G, C, row_dyn, col_dyn, log: bool = True):
        self.G = np.array(G, dtype=float)
        self.C = np.array(C, dtype=float)
        n = self.G.shape[0]
        self.row_alive = np.ones(n, bool)
        self.col_alive = np.ones(n, bool)
        self.row_dyn = np.array(row_dyn, bool)
        self.col_dyn = np.array(col_dyn, bool)
        self.dropped = 0.0   # largest relative perturbation introduced by a rank decision
        self.steps = 0       # numerical index-reduction steps
        self.zeros = 0       # zero modes divided out numerically
        self.smallest_kept = 1.0  # smallest relative singular value a rank decision kept
        self.scale_blocks = True  # re-equilibrate before each rank decision (not for random instances, O(1))
        self.log: list | None = [] if log else None
        self.start: tuple = ()    # (G, C, row scaling, column scaling) the log starts from
        #: size of G's entries (the reference for "this constraint row is zero"; the pencil is equilibrated)
        self.gscale = float(np.max(np.abs(self.G), initial=0.0)) or 1.0
        self.generic = False      # the generic plan was followed

    # ---- logged primitives
    def _rows(self, I: np.ndarray, R: np.ndarray) -> None:
        """Rows ``I`` := ``R @ rows I``."""
        self.G[I, :] = R @ self.G[I, :]
        self.C[I, :] = R @ self.C[I, :]
        if self.log is not None:
            self.log.append(("rt", I, R))

    def _cols(self, J: np.ndarray, Z: np.ndarray) -> None:
        """Columns ``J`` := ``columns J @ Z``."""
        self.G[:, J] = self.G[:, J] @ Z
        self.C[:, J] = self.C[:, J] @ Z
        if self.log is not None:
            self.log.append(("ct", J, Z))

    def rebalance(self) -> None:
        """Power-of-two re-equilibration of the whole alive pencil (transformations mix rows and columns of
        different sizes)."""
        ra, ca = np.flatnonzero(self.row_alive), np.flatnonzero(self.col_alive)
        if ra.size == 0:
            return
        r, c = equilibrate(self.G[np.ix_(ra, ca)], self.C[np.ix_(ra, ca)], sweeps=2)
        for M in (self.G, self.C):
            M[ra, :] *= r[:, None]
            M[:, ca] *= c[None, :]
        if self.log is not None:
            self.log.append(("rs", ra, r))
            self.log.append(("cs", ca, c))

    def block(self, M: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``M[rows, cols]`` for a rank decision, after re-equilibrating the whole pencil. Blocks are never
        scaled on their own: a block row that is rounding noise (what transformations leave of an exact
        zero) would be blown up into something that looks structural."""
        if self.scale_blocks:
            self.rebalance()
        return M[np.ix_(rows, cols)]

    def idx(self, rows: bool, dyn: bool) -> np.ndarray:
        alive = self.row_alive if rows else self.col_alive
        d = self.row_dyn if rows else self.col_dyn
        return np.flatnonzero(alive & (d if dyn else ~d))

    def alive_rows(self) -> np.ndarray:
        return np.r_[self.idx(True, True), self.idx(True, False)]

    def alive_cols(self) -> np.ndarray:
        return np.r_[self.idx(False, True), self.idx(False, False)]

    @staticmethod
    def _householder(rho: np.ndarray) -> tuple[np.ndarray, float]:
        """``(v, α)`` with ``(I − 2vvᵀ)·rho = α·e_last`` (``v`` a unit vector)."""
        nrm = float(la.norm(rho))
        v = rho.copy()
        alpha = -np.copysign(nrm, rho[-1])
        v[-1] -= alpha
        v /= la.norm(v)
        return v, alpha

    def _reflect_cols(self, J: np.ndarray, v: np.ndarray) -> None:
        """Columns ``J`` := ``columns J · (I − 2vvᵀ)`` (a Householder reflection, rank-one update)."""
        for M in (self.G, self.C):
            w = M[:, J] @ v
            M[:, J] -= 2.0 * np.outer(w, v)
        if self.log is not None:
            self.log.append(("ch", J, v))

    def _reflect_rows(self, I: np.ndarray, v: np.ndarray) -> None:
        """Rows ``I`` := ``(I − 2vvᵀ) · rows I``."""
        for M in (self.G, self.C):
            w = v @ M[I, :]
            M[I, :] -= 2.0 * np.outer(v, w)
        if self.log is not None:
            self.log.append(("rh", I, v))

    def eliminate_row(self, i: int) -> None:
        """Row ``i`` has ``G`` entries on dynamic columns only and no ``C``: a Householder reflection of the
        dynamic columns moves it onto the last dynamic column; expand the determinant along it."""
        dc = self.idx(False, True)
        rho = self.G[i, dc]
        scale = self.gscale
        nrm = float(la.norm(rho))
        if dc.size == 0 or nrm <= 16 * EPS * max(scale, 1e-300) or not np.isfinite(nrm):
            raise _Singular
        self.smallest_kept = min(self.smallest_kept, nrm / max(scale, 1e-300))
        v, alpha = self._householder(rho)
        self._reflect_cols(dc, v)
        j = dc[-1]
        self.G[i, dc[:-1]] = 0.0
        self.G[i, j] = alpha
        self.C[i, :] = 0.0
        if self.log is not None:
            self.log.append(("kr", i, j, alpha, self.G[:, j].copy(), self.C[:, j].copy()))
        self.row_alive[i] = False
        self.col_alive[j] = False

    def eliminate_column(self, c: int) -> None:
        """Column ``c`` has ``G`` entries on dynamic rows only and no ``C`` (a floating potential divided by
        ``s``): the transpose of :meth:`eliminate_row`."""
        dr = self.idx(True, True)
        rho = self.G[dr, c]
        scale = self.gscale
        nrm = float(la.norm(rho))
        if dr.size == 0 or nrm <= 16 * EPS * max(scale, 1e-300) or not np.isfinite(nrm):
            raise _Singular
        self.smallest_kept = min(self.smallest_kept, nrm / max(scale, 1e-300))
        v, alpha = self._householder(rho)
        self._reflect_rows(dr, v)
        r = dr[-1]
        self.G[dr[:-1], c] = 0.0
        self.G[r, c] = alpha
        self.C[:, c] = 0.0
        if self.log is not None:
            self.log.append(("kc", c, r, alpha, self.G[r, :].copy(), self.C[r, :].copy()))
        self.row_alive[r] = False
        self.col_alive[c] = False

    def divide_rows(self, rows: np.ndarray) -> None:
        """Rows whose ``G`` part is (taken as) zero: ``row(s)/s`` — their ``C`` part becomes their ``G`` part."""
        self.G[rows, :] = self.C[rows, :]
        self.C[rows, :] = 0.0
        self.row_dyn[rows] = False
        if self.log is not None:
            self.log.append(("div", rows))

    def lift(self, xr: np.ndarray, yl: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Right and left eigenvectors of the final pencil (``n × k``, zero on dead rows/columns) lifted to
        the pencil this object started from, for eigenvalues ``lam`` (``k``)."""
        x = np.array(xr, dtype=complex)
        y = np.array(yl, dtype=complex)
        for op in reversed(self.log or []):
            kind = op[0]
            if kind == "ch":  # (I − 2vvᵀ) on columns J
                _, J, v = op
                x[J] -= 2.0 * np.outer(v, v @ x[J])
            elif kind == "rh":  # (I − 2vvᵀ) on rows I: symmetric, so the left vectors reflect the same way
                _, I, v = op
                y[I] -= 2.0 * np.outer(v, v @ y[I])
            elif kind == "ct":
                _, J, Z = op
                x[J] = Z @ x[J]
            elif kind == "rt":
                _, I, R = op
                y[I] = R.T @ y[I]
            elif kind == "cs":
                _, J, c = op
                x[J] *= c[:, None]
            elif kind == "rs":
                _, I, r = op
                y[I] *= r[:, None]
            elif kind == "kr":  # row i = alpha·e_j: y_i from column j's equation
                _, i, j, alpha, gcol, ccol = op
                gc, cc = gcol.copy(), ccol.copy()
                gc[i] = cc[i] = 0.0
                t = gc @ y.conj() + (cc @ y.conj()) * lam
                y[i] = -np.conj(t) / alpha
            elif kind == "kc":  # column c = alpha·e_r: x_c from row r's equation
                _, c, r, alpha, grow, crow = op
                gr, cr = grow.copy(), crow.copy()
                gr[c] = cr[c] = 0.0
                x[c] = -(gr @ x + (cr @ x) * lam) / alpha
            elif kind == "div":
                _, rows = op
                with np.errstate(divide="ignore", invalid="ignore"):
                    y[rows] = y[rows] / np.conj(lam)[None, :]
        return x, y

    # ---- the three kinds of step; ``k`` from a plan (follow) or from ``decide`` (make a plan)
    def dynamic_rank(self, decide=None, k: tuple[int, int] | None = None):
        """``C_DD`` (dynamic rows × dynamic columns) rank-deficient: rotate its left/right null spaces into
        the algebraic part (orthogonal transformations). Returns ``(k_rows, k_cols)``."""
        dr, dc = self.idx(True, True), self.idx(False, True)
        if dr.size == 0 or dc.size == 0:
            kr, kc = dr.size, dc.size
            if k is not None and (kr, kc) != tuple(k):
                raise _Singular
        else:
            B = self.block(self.C, dr, dc)
            if decide is not None and _full_rank_quick(B):
                return 0, 0
            U, sig, Vt = _svd(B)
            rank = decide(sig) if decide is not None else dr.size - k[0]
            kr, kc = dr.size - rank, dc.size - rank
            if k is not None and (kr, kc) != tuple(k):
                raise _Singular
            self._kept(sig, rank)
        if kr == 0 and kc == 0:
            return 0, 0
        ref = max(float(la.norm(self.C[np.ix_(dr, dc)])), 1e-300)
        if dr.size and dc.size and kr:
            self._rows(dr, _rotation(U[:, dr.size - kr:]).T)
        if dr.size and dc.size and kc:
            self._cols(dc, _rotation(Vt[dc.size - kc:].T))
        nullr, nullc = dr[dr.size - kr:], dc[dc.size - kc:]
        self._drop(max(float(la.norm(self.C[np.ix_(nullr, dc)])), float(la.norm(self.C[np.ix_(dr, nullc)]))) / ref)
        self.C[nullr, :] = 0.0
        self.C[:, nullc] = 0.0
        self.row_dyn[nullr] = False
        self.col_dyn[nullc] = False
        self.steps += 1
        return kr, kc

    def algebraic_rank(self, decide=None, k: int | None = None) -> int:
        """``G_AA`` singular: its left null vectors combine algebraic rows into constraints on the dynamic
        unknowns, each of which deflates one infinite eigenvalue. Returns the number deflated."""
        ar, ac = self.idx(True, False), self.idx(False, False)
        if ar.size != ac.size:
            raise _Singular
        if ar.size == 0 or k == 0:
            return 0
        B = self.block(self.G, ar, ac)
        if decide is not None and _full_rank_quick(B):
            return 0
        U, sig, _ = _svd(B)
        rank = decide(sig) if decide is not None else ar.size - k
        self._kept(sig, rank)
        nu = ar.size - rank
        if nu == 0:
            return 0
        ref = max(float(la.norm(self.G[np.ix_(ar, ac)])), 1e-300)
        self._rows(ar, _rotation(U[:, rank:]).T)
        rows = ar[rank:]
        self._drop(float(la.norm(self.G[np.ix_(rows, ac)])) / ref)
        self.G[np.ix_(rows, ac)] = 0.0
        for i in rows:
            self.eliminate_row(int(i))
        self.steps += 1
        return nu

    def zero_modes(self, decide=None, k: int | None = None, cap: int | None = None) -> int:
        """``G`` (all alive rows and columns) singular while ``C_DD`` and ``G_AA`` are not: its left null
        vectors ``w`` give rows ``wᵀ(G + sC) = s·wᵀC``; they are replaced by ``wᵀC`` (a root at ``s = 0`` divided
        out) and eliminated as constraints. Returns the number of roots divided out."""
        dr, ar = self.idx(True, True), self.idx(True, False)
        rows = np.r_[dr, ar]
        cols = self.alive_cols()
        if rows.size == 0 or k == 0:
            return 0
        B = self.block(self.G, rows, cols)
        if decide is not None and _full_rank_quick(B):
            return 0
        U, sig, _ = _svd(B)
        rank = decide(sig) if decide is not None else rows.size - k
        if cap is not None:
            rank = max(rank, rows.size - cap)
        self._kept(sig, rank)
        nu = rows.size - rank
        if nu == 0:
            return 0
        if dr.size < nu:
            raise _Singular
        ref = max(float(la.norm(self.G[np.ix_(rows, cols)])), 1e-300)
        W = U[:, rank:]                       # left null vectors of G[rows, cols]
        Wd, Wa = W[:dr.size], W[dr.size:]
        Qfull, Rw = la.qr(Wd)                 # Wd = Qfull[:, :nu] Rw[:nu]
        Rn = Rw[:nu, :nu]
        if np.min(np.abs(np.diag(Rn)), initial=np.inf) <= 16 * EPS * max(np.max(np.abs(Rn)), 1e-300):
            raise _Singular
        P = np.c_[Qfull[:, nu:], Qfull[:, :nu]]  # the span of Wd becomes the last nu dynamic rows
        self._rows(dr, P.T)
        new = dr[dr.size - nu:]
        if ar.size:
            # rows `new` += (Wa Rn⁻¹)ᵀ · algebraic rows (these have no C part)
            Wa = la.solve_triangular(Rn, Wa.T, trans="T").T
            both = np.r_[new, ar]
            R = np.eye(both.size)
            R[:nu, nu:] = Wa.T
            self._rows(both, R)
        self._drop(float(la.norm(self.G[np.ix_(new, cols)])) / ref)
        self.divide_rows(new)
        for i in new:
            self.eliminate_row(int(i))
        self.zeros += nu
        return nu

    def _kept(self, sig: np.ndarray, rank: int) -> None:
        """Record the smallest singular value a decision kept (relative): tiny means the values cancel."""
        if sig.size and sig[0] > 0 and rank > 0:
            self.smallest_kept = min(self.smallest_kept, float(sig[rank - 1] / sig[0]))

    def _drop(self, rel: float) -> None:
        """Record what a decision set to zero, relative to the block it was taken from."""
        self.dropped = max(self.dropped, rel)


def _rotation(W: np.ndarray) -> np.ndarray:
    """Orthogonal ``P`` whose last ``k`` columns span the columns of ``W`` (m × k): ``Pᵀ`` moves that span onto
    the last ``k`` coordinates."""
    k = W.shape[1]
    Q, _ = la.qr(W)
    return np.c_[Q[:, k:], Q[:, :k]]


def _generic_decider(n: int):
    zero = defaults["poles.generic_zero_rtol"] * max(n, 1) * EPS
    gap = defaults["poles.generic_gap"] * zero

    def decide(sig: np.ndarray) -> int:
        if sig.size == 0 or sig[0] == 0:
            return 0
        rel = sig / sig[0]
        rank = int(np.sum(rel > zero))
        if rank and rel[rank - 1] < gap:
            raise _Unclear
        return rank
    return decide


def _tolerance_decider(n: int):
    tol = defaults["poles.rank_rtol"] * max(n, 1) * EPS

    def decide(sig: np.ndarray) -> int:
        if sig.size == 0 or sig[0] == 0:
            return 0
        return int(np.sum(sig / sig[0] > tol))
    return decide


def _start(G, C, row_dyn, col_dyn, constraints, col_constraints):
    """Time-scale, equilibrate and eliminate the structural constraints: the pencil the plan starts from."""
    G = np.asarray(G, dtype=float)
    C = np.asarray(C, dtype=float)
    gmax = np.max(np.abs(G)) if np.any(G) else 1.0
    cmax = np.max(np.abs(C)) if np.any(C) else 1.0
    tau = float(_pow2(np.array([cmax / gmax]))[0])
    r, c = equilibrate(G, C / tau)
    P = _Pencil(r[:, None] * G * c[None, :], r[:, None] * (C / tau) * c[None, :], row_dyn, col_dyn)
    P.start = (P.G.copy(), P.C.copy(), r, c)
    for i in constraints:
        P.eliminate_row(int(i))
    for j in col_constraints:
        P.eliminate_column(int(j))
    return P, tau


def _run(P: _Pencil, decide=None, plan: list | None = None, max_zero: int | None = None) -> list:
    """Deflate infinite eigenvalues and zero modes: with ``decide`` (making a plan; returns it) or following
    ``plan`` (a list of ``(step, k)``). ``max_zero`` caps the zero modes divided out in decide mode."""
    made = []
    if plan is not None:
        for step, k in plan:
            if step == "C":
                P.dynamic_rank(k=k)
            elif step == "A":
                P.algebraic_rank(k=k)
            else:
                P.zero_modes(k=k)
        return list(plan)
    n = P.G.shape[0]
    for _ in range(4 * n + 4):
        k = P.dynamic_rank(decide=decide)
        if k != (0, 0):
            made.append(("C", k))
            continue
        nu = P.algebraic_rank(decide=decide)
        if nu:
            made.append(("A", nu))
            continue
        if max_zero is not None and P.zeros >= max_zero:
            break
        nz = P.zero_modes(decide=decide, cap=None if max_zero is None else max_zero - P.zeros)
        if nz:
            made.append(("Z", nz))
            continue
        break
    return made


@dataclass
class GenericPlan:
    """The rank decisions of the deflation, made on a random instance of a topology: a list of
    ``(step, count)`` (``"C"``: dynamic block, ``"A"``: algebraic block, ``"Z"``: zero modes), the number of
    finite eigenvalues (structural zero modes excluded) and of zero modes it divides out."""

    steps: list
    finite: int
    zeros: int


def generic_plan(G, C, row_dyn, col_dyn, constraints=(), col_constraints=(), instances=None) -> GenericPlan:
    """Make the deflation plan on random instances ``instances`` (a callable ``seed -> (G, C)`` of the same
    structure); the first instance with clean rank decisions wins.

    Raises :class:`CircuitError` when ``det(G + sC)`` vanishes identically (a singular circuit), and
    :class:`ValueError` when no instance gives clean decisions."""
    n = np.asarray(G).shape[0]
    last = None
    for seed in range(4):
        Gr, Cr = (G, C) if instances is None else instances(seed)
        try:
            P, _ = _start(Gr, Cr, row_dyn, col_dyn, constraints, col_constraints)
            P.scale_blocks = False  # every value is of order one: nothing to equilibrate, no noise to amplify
            steps = _run(P, decide=_generic_decider(n))
        except _Unclear as exc:
            last = exc
            continue
        except _Singular:
            raise CircuitError("the circuit equations are singular for every frequency (det(G + sC) ≡ 0): look "
                               "for a floating subcircuit, a cut-set of current sources or controlled sources, "
                               "or a loop of voltage sources") from None
        return GenericPlan(steps=steps, finite=int(P.idx(True, True).size), zeros=P.zeros)
    raise ValueError("no random instance gave clean rank decisions") from last


@dataclass
class PencilEigen:
    """Finite eigenvalues of a deflated pencil with first-order error bounds (rad/s).

    ``zero_modes`` counts roots at ``s = 0`` divided out numerically (structural by the generic plan);
    ``generic`` says the plan of the generic structure was followed (else rank decisions were made at the
    rounding level on the pencil itself: a non-generic or raw pencil)."""

    values: np.ndarray
    errors: np.ndarray
    steps: int = 0
    notes: list[str] = field(default_factory=list)
    zero_modes: int = 0
    generic: bool = False


def pencil_eigenvalues(G: np.ndarray, C: np.ndarray, row_dyn: np.ndarray | None = None,
                       col_dyn: np.ndarray | None = None, constraints: list[int] | tuple = (),
                       col_constraints: list[int] | tuple = (), plan: GenericPlan | None = None,
                       abs_pencil: tuple[np.ndarray, np.ndarray] | None = None,
                       terms: int | None = None) -> PencilEigen:
    """Finite ``s`` with ``det(G + s·C) = 0`` and an error bound for each.

    Parameters
    ----------
    G, C : (n, n) real arrays
    row_dyn, col_dyn : (n,) bool, optional
        Rows/columns where ``C`` may be nonzero; ``C`` must be exactly zero elsewhere (default: its
        nonzero pattern).
    constraints : row indices whose ``G`` part lives on dynamic columns and whose ``C`` part is zero (zero
        modes already divided out, :mod:`stabkit.analysis.structure`).
    col_constraints : the same for columns (floating potentials).
    plan : GenericPlan, optional
        Rank decisions made on a random instance of the same structure (:func:`generic_plan`). Without it,
        rank decisions are made at the rounding level on ``G``, ``C`` themselves and no zero mode is divided
        out numerically.
    abs_pencil : (|G|, |C|), optional
        Entry-wise sums of the absolute values of the terms that make up ``G`` and ``C`` (the reference for
        componentwise perturbations: rounding of element values and of their sums); default ``|G|, |C|``.
    terms : int, optional
        The largest number of terms summed into one entry (default ``n``): the rounding level of the
        entries is ``(terms + 2)·ε`` relative to ``abs_pencil``.

    Returns
    -------
    PencilEigen
        ``values`` (complex, rad/s) and ``errors`` (absolute bounds, rad/s).
    """
    G = np.asarray(G, dtype=float)
    C = np.asarray(C, dtype=float)
    n = G.shape[0]
    if n == 0:
        return PencilEigen(np.zeros(0, complex), np.zeros(0), generic=plan is not None)
    row_dyn = np.any(C != 0, axis=1) if row_dyn is None else np.asarray(row_dyn, bool)
    col_dyn = np.any(C != 0, axis=0) if col_dyn is None else np.asarray(col_dyn, bool)
    notes: list[str] = []
    P = None
    generic = False
    if plan is not None:
        try:
            P, tau = _start(G, C, row_dyn, col_dyn, constraints, col_constraints)
            _run(P, plan=plan.steps)
            generic = True
        except _Singular:
            generic = False
        if not generic:
            notes.append("the element values cancel exactly (the pencil is singular where a generic one is not): "
                         "rank decisions made at the rounding level")
    if not generic:
        try:
            P, tau = _start(G, C, row_dyn, col_dyn, constraints, col_constraints)
            _run(P, decide=_tolerance_decider(n), max_zero=plan.zeros if plan is not None else 0)
        except _Singular:
            raise CircuitError("the circuit equations are singular for every frequency (det(G + sC) ≡ 0): the "
                               "algebraic part is undetermined — look for a floating subcircuit, a cut-set of "
                               "current sources or a loop of voltage sources") from None
    if P.steps:
        notes.append(f"{P.steps} numerical index-reduction step(s) (higher-index pencil)")
    P.generic = generic
    if abs_pencil is None:
        Ga, Ca = np.abs(G), np.abs(C)
    else:
        Ga, Ca = (np.asarray(m, dtype=float) for m in abs_pencil)
    r0, c0 = P.start[2], P.start[3]
    floor = ((n if terms is None else int(terms)) + 2) * EPS
    vals, errs = _finite_eigen(P, (r0[:, None] * Ga * c0[None, :], r0[:, None] * (Ca / tau) * c0[None, :]), floor)
    return PencilEigen(vals / tau, errs / tau, P.steps, notes, zero_modes=P.zeros, generic=generic)


def _rcond(B: np.ndarray):
    """``(lu, rcond)``: LU factors of a square ``B`` and its reciprocal 1-norm condition estimate."""
    from scipy.linalg.lapack import dgecon

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.LinAlgWarning)
        lu = la.lu_factor(B, check_finite=False)
    rcond = dgecon(lu[0], float(np.max(np.sum(np.abs(B), axis=0), initial=0.0)), norm="1")[0]
    return lu, (float(rcond) if np.isfinite(rcond) else 0.0)


def _eig_pencil(Gs: np.ndarray, Cs: np.ndarray):
    """Eigenvalues ``λ`` of ``Gs + λ·Cs = 0`` with left and right eigenvectors. ``Cs`` is nonsingular here
    (the dynamic block after deflation): the standard problem ``−Cs⁻¹Gs`` (LAPACK geev, balanced) is about
    three times cheaper than QZ with vectors; its left vectors ``y`` give the pencil's as ``Cs⁻ᴴy``. QZ when
    ``Cs`` is badly conditioned. Every eigenvalue is checked against the starting pencil afterwards."""
    lu, rcond = _rcond(Cs)
    if rcond < 1e-10:
        return la.eig(Gs, -Cs, left=True, right=True, check_finite=False)
    A = -la.lu_solve(lu, Gs, check_finite=False)
    w, vl, vr = la.eig(A, left=True, right=True, check_finite=False)
    vl = la.lu_solve(lu, vl, trans=2, check_finite=False)  # Cs⁻ᴴ y
    return w, vl, vr


def _finite_eigen(P: _Pencil, abs_start: tuple[np.ndarray, np.ndarray], floor: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Schur complement of ``G_AA`` and QZ of the dynamic block, with a first-order error bound for each
    eigenvalue from an a-posteriori check on the *starting* pencil (before any numerical step).

    The eigenvectors are lifted back through every logged operation to the starting pencil ``S(s)``, whose
    entries are sums of element stamps; ``abs_start`` is ``(|G|, |C|)`` of it built from the absolute values
    of the stamp terms. The bound is the componentwise one: the componentwise backward error of the lifted
    right and left vectors (Oettli–Prager), at least the rounding level of the entries, times the
    componentwise condition number ``|y|ᵀ(|G| + |λ||C|)|x| / |yᴴCx|``, times ``poles.error_safety``. A wrong
    deflation decision would show up as a large backward error: nothing here trusts the steps taken."""
    ar, ac, dr, dc = P.idx(True, False), P.idx(False, False), P.idx(True, True), P.idx(False, True)
    if dr.size == 0:
        return np.zeros(0, complex), np.zeros(0)
    Gaa, Gad, Gda, Gdd = (P.G[np.ix_(a, b)] for a, b in ((ar, ac), (ar, dc), (dr, ac), (dr, dc)))
    Cdd = P.C[np.ix_(dr, dc)]
    if ar.size:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", la.LinAlgWarning)
            lu = la.lu_factor(Gaa, check_finite=False)
            X = la.lu_solve(lu, Gad, check_finite=False)            # G_AA⁻¹ G_AD
            Yt = la.lu_solve(lu, Gda.T, trans=1, check_finite=False)  # (G_DA G_AA⁻¹)ᵀ
        Gred = Gdd - Gda @ X
    else:
        X = np.zeros((0, dc.size))
        Yt = np.zeros((0, dr.size))
        Gred = Gdd
    # equilibrate the reduced pencil too (exact scalings)
    rr, cc = equilibrate(Gred, Cdd)
    Gs, Cs = rr[:, None] * Gred * cc[None, :], rr[:, None] * Cdd * cc[None, :]
    w, vl, vr = _eig_pencil(Gs, Cs)
    finite = np.isfinite(w)
    lam = np.where(finite, w, 0.0).astype(complex)
    xr = cc[:, None] * vr            # right vectors of (Gred, Cdd)
    yl = rr[:, None] * vl            # left vectors
    n = P.G.shape[0]
    k = lam.size
    x = np.zeros((n, k), complex)
    y = np.zeros((n, k), complex)
    x[dc] = xr
    x[ac] = -X @ xr
    y[dr] = yl
    y[ar] = -Yt @ yl
    x, y = P.lift(x, y, lam)
    G0, C0 = P.start[0], P.start[1]
    Ga, Ca = abs_start
    ax, ay = np.abs(x), np.abs(y)
    alam = np.abs(lam)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = G0 @ x + (C0 @ x) * lam[None, :]                     # right residuals S(λ)x
        sl = G0.T @ y.conj() + (C0.T @ y.conj()) * lam[None, :]   # left residuals (yᴴS(λ))ᵀ
        cxy = np.sum(y.conj() * (C0 @ x), axis=0)                 # yᴴ C x
        denom = np.abs(cxy)
        # first-order correction of λ against the starting pencil, and its second-order remainder
        corr = np.sum(y.conj() * r, axis=0) / cxy
        first = np.abs(corr)
        vals_ = np.where(finite, lam, np.inf)
        dist = np.abs(vals_[:, None] - vals_[None, :]) + np.diag(np.full(k, np.inf))
        # multiple poles: eigenvalues within poles.cluster_rtol of each other are one cluster; the gap that
        # limits the first-order theory is the distance to the *other* eigenvalues
        ctol = defaults["poles.cluster_rtol"]
        near = (dist <= ctol * np.maximum(alam[:, None], alam[None, :])) & finite[:, None] & finite[None, :]
        gap = np.min(np.where(near, np.inf, dist), axis=1, initial=np.inf)
        second = la.norm(r, axis=0) * la.norm(sl, axis=0) / (denom * gap)
        # componentwise condition number: perturbations |δG| ≤ ε|G|, |δC| ≤ ε|C| of the stamp sums
        num = np.sum(ay * (Ga @ ax), axis=0) + alam * np.sum(ay * (Ca @ ax), axis=0)
        kappa = num / denom
    safety = defaults["poles.error_safety"]
    eta = np.full(k, floor if P.generic else max(floor, P.dropped))
    size = near.sum(axis=1) + 1
    multiple = size > 1
    # a defective cluster (a Jordan block: yᴴCx ≈ 0, the first-order error exceeds the cluster's tolerance)
    # leaves first-order theory altogether; a semisimple one (two identical stages) keeps it
    with np.errstate(invalid="ignore", over="ignore"):
        defective = multiple & ~(kappa * eta <= ctol * alam)
    # one Newton (Rayleigh-quotient) step against the starting pencil: what the deflation steps lost. Not in a
    # cluster: there the pairing of left and right vectors is arbitrary, and the step could split the pole
    newton = np.isfinite(corr) & finite & ~multiple
    vals = np.where(newton, lam - np.where(newton, corr, 0.0), lam)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # overflow: an unresolved pole (inf)
        errs = safety * (np.nan_to_num(second + first ** 2 / gap, nan=np.inf, posinf=np.inf)
                         + np.nan_to_num(kappa * eta, nan=np.inf, posinf=np.inf)) \
            + np.where(newton, defaults["poles.newton_residual"], 1.0) * np.nan_to_num(first, nan=np.inf,
                                                                                       posinf=np.inf)
    # a defective multiple pole of order m: a relative perturbation η of the entries moves it by about
    # η^(1/m) relative; the bound is that, with the safety factor and the cluster's own spread
    for i in np.flatnonzero(defective):
        members = np.flatnonzero(near[i])
        spread = float(np.max(np.abs(lam[members] - lam[i])))
        errs[i] = safety * size[i] * float(eta[i]) ** (1.0 / size[i]) * alam[i] + spread
    # near-multiple eigenvalues: the first-order bound (∝ 1/gap) overstates a cluster's error; a perturbation
    # η moves a k-fold cluster by about η^(1/k) relative, so cap the bound there for clustered eigenvalues
    if vals.size > 1:
        gaps = np.abs(vals[:, None] - vals[None, :]) + np.diag(np.full(vals.size, np.inf))
        for i in np.flatnonzero(errs > gaps.min(axis=1)):
            m = int(np.sum(gaps[i] <= errs[i])) + 1
            cap = safety * m * (eta[i] ** (1.0 / m)) * abs(vals[i])
            errs[i] = min(errs[i], max(cap, float(np.max(gaps[i][gaps[i] <= errs[i]]))))
    return _pair_conjugates(vals[finite], errs[finite])


def _pair_conjugates(vals: np.ndarray, errs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make complex pairs of a real pencil exact conjugates (and real eigenvalues exactly real)."""
    vals = vals.copy()
    errs = errs.copy()
    upper = np.flatnonzero(vals.imag > 0)
    lower = list(np.flatnonzero(vals.imag < 0))
    for i in upper:
        if not lower:
            break
        j = min(lower, key=lambda k: abs(vals[k] - np.conj(vals[i])))
        lower.remove(j)
        m = 0.5 * (vals[i] + np.conj(vals[j]))
        vals[i], vals[j] = m, np.conj(m)
        errs[i] = errs[j] = max(errs[i], errs[j])
    return vals, errs


def finite_eigenvalues(G: np.ndarray, C: np.ndarray, names: list[str] | None = None) -> np.ndarray:
    """Finite ``s`` with ``det(G + s·C) = 0`` for dense real ``G``, ``C`` (any size, ``C`` singular allowed).

    Works on the matrices alone (their exact zero pattern is the only structure used; rank decisions at the
    rounding level), so structural zero modes come out as eigenvalues at (rounding-level) zero; :func:`poles`
    finds and removes them from the circuit's structure. Returns a complex array in rad/s, sorted by real
    part (descending) then imaginary part.
    """
    res = pencil_eigenvalues(G, C)
    ev = res.values
    order = np.lexsort((ev.imag, -ev.real))
    return ev[order]


# ---------------------------------------------------------------------------------------------- result
@dataclass
class PoleResult:
    """Natural frequencies of a lumped circuit.

    ``poles`` are complex frequencies ``s`` in rad/s, ``errors`` their first-order error bounds (rad/s);
    ``poles_hz`` the same divided by 2π (the contract's ``[re_hz, im_hz]``). Structural zero modes
    (conserved charge on a capacitor island, flux in an inductor loop) are *not* poles: they are counted in
    ``zero_modes`` and described in ``zero_mode_notes``, and do not make the circuit unstable.

    ``verdict`` is ``"unstable"`` when some pole is surely in the right half-plane (its error disc lies
    entirely right of the jω axis and no pole is *unresolved*), else ``"uncertain"`` when anything is in doubt
    (a pole on the axis within its error — *marginal* —, or an unresolved pole, whose bound is a sizeable
    fraction of its own size: first-order error bounds mean nothing there, so not even its half-plane is
    known, and the bounds of the others become suspect too), else ``"stable"``. ``doubts`` hold the reasons (one line each); ``warnings`` informational notes."""

    poles: np.ndarray
    params: dict[str, float] = field(default_factory=dict)
    title: str = ""
    errors: np.ndarray | None = None
    zero_modes: int = 0
    zero_mode_notes: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: how the poles were computed: ``"exact"`` (the full spectrum, dense) or ``"shift-invert Arnoldi"``
    #: (:mod:`stabkit.analysis.rightmost`: the modes nearest shifts along the jω axis, large circuits)
    method: str = "exact"
    #: ``False`` when ``poles`` is a part of the spectrum (Arnoldi): a mode may be missing, so "no pole in the
    #: right half-plane" is only a verdict once the NDF count agrees (:func:`stabkit.analysis.verdict.judge`)
    complete: bool = True

    def __post_init__(self):
        self.poles = np.asarray(self.poles, dtype=complex)
        if self.errors is None:
            self.errors = MARGIN_RTOL * np.abs(self.poles)
        self.errors = np.asarray(self.errors, dtype=float)

    @property
    def poles_hz(self) -> np.ndarray:
        return self.poles / TWO_PI

    @property
    def unresolved_mask(self) -> np.ndarray:
        """True where a pole's error bound is not small against the pole itself (``defaults["poles.infinite_rtol"]``):
        its position, even its half-plane, is unknown."""
        return ~(self.errors < defaults["poles.infinite_rtol"] * np.abs(self.poles))

    @property
    def rhp_mask(self) -> np.ndarray:
        """True where a pole is surely in the right half-plane (``Re s`` beyond its error bound, resolved). When
        any pole is unresolved, none is sure: the pencil then spans more than double precision holds, and the
        first-order bounds of the others are not to be trusted either (on the random-circuit study a 20 Hz
        pole beside an unresolved one at 1e21 Hz was off by twice its bound)."""
        if np.any(self.unresolved_mask):
            return np.zeros(self.poles.shape, bool)
        return self.poles.real - self.errors > 0

    @property
    def marginal_mask(self) -> np.ndarray:
        """True where a pole's error disc crosses the jω axis (it may be on it, or on either side)."""
        return np.abs(self.poles.real) <= self.errors

    @property
    def rhp(self) -> np.ndarray:
        """Poles surely in the right half-plane."""
        return self.poles[self.rhp_mask]

    @property
    def marginal(self) -> np.ndarray:
        """Poles that cannot be told from the jω axis (structural zero modes are not among them)."""
        return self.poles[self.marginal_mask]

    @property
    def rhp_count(self) -> int:
        return int(np.sum(self.rhp_mask))

    @property
    def verdict(self) -> str:
        if self.rhp_count:
            return "unstable"
        if self.doubts or np.any(self.marginal_mask) or np.any(self.unresolved_mask):
            return "uncertain"
        return "stable"

    @property
    def stable(self) -> bool:
        return self.verdict == "stable"

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "stable": self.stable,
            "rhp_count": self.rhp_count,
            "marginal_count": int(np.sum(self.marginal_mask)),
            "zero_modes": int(self.zero_modes),
            "method": self.method,
            "complete": bool(self.complete),
            "poles": [[float(p.real), float(p.imag)] for p in self.poles_hz],
            "warnings": list(self.doubts) + list(self.warnings),
        }

    def plot(self, ax=None, **kwargs):
        """Pole map (s/2π in Hz), RHP poles in red."""
        from stabkit.report.plots import plot_pole_map

        return plot_pole_map(self.poles_hz, ax=ax, title=self.title, **kwargs)


def _fmt_hz(s: complex) -> str:
    """``s/2π`` for messages: ``-12.3 kHz ± j1.592 GHz`` (a pair once), ``4.1 MHz (real)``."""
    from stabkit.units import format_eng

    re, im = s.real / TWO_PI, abs(s.imag) / TWO_PI
    return f"{format_eng(re, 'Hz')} ± j{format_eng(im, 'Hz')}" if im else f"{format_eng(re, 'Hz')} (real)"


def pole_doubts(values: np.ndarray, errors: np.ndarray, generic: bool = False) -> list[str]:
    """One line per pole (conjugate pairs once) whose error disc crosses the jω axis or that is unresolved
    (bound ≥ ``poles.infinite_rtol`` × its size). With ``generic`` (the number of finite eigenvalues is known
    from the generic structure) an unresolved pole is a genuine but badly determined one, otherwise it may
    also be an infinite eigenvalue perturbed by rounding."""
    out = []
    inf_rtol = defaults["poles.infinite_rtol"]
    for s, e in zip(values, errors):
        unresolved = not np.isfinite(e) or not e < inf_rtol * abs(s)
        if s.imag < 0 or (abs(s.real) > e and not unresolved):
            continue
        if unresolved:
            what = ("it is a genuine natural frequency (the generic structure fixes their number) but may lie on "
                    "either side of the jω axis" if generic else
                    "it may be spurious (an infinite eigenvalue perturbed by rounding) or on either side of the jω "
                    "axis")
            out.append(f"a pole at {_fmt_hz(s)} cannot be resolved in double precision (error bound "
                       f"{e / TWO_PI:.2g} Hz): {what}")
        else:
            out.append(f"marginal: the pole at {_fmt_hz(s)} lies on the jω axis within its error bound "
                       f"({e / TWO_PI:.2g} Hz)")
    return out


def _plan_for(st) -> GenericPlan:
    """The generic plan of a structure's topology (made once, cached on the topology)."""
    topo = st.topology
    if topo.plan is None:
        def instance(seed):
            return topo.matrices(topo.random_coefs(1000 + seed))

        topo.plan = generic_plan(st.G, st.C, st.row_dyn, st.col_dyn, st.constraints, st.col_constraints,
                                 instances=instance)
    return topo.plan


def poles(circuit: Circuit | MNASystem, params: Mapping[str, float] | None = None) -> PoleResult:
    """Exact natural frequencies of a lumped circuit (all independent sources off), with error bounds,
    structural zero modes and a three-way verdict (see :class:`PoleResult` and the module doc).

    Raises :class:`DistributedCircuitError` when the circuit has transmission lines or N-port blocks:
    they have no finite pencil, use :func:`stabkit.ndf` there.
    """
    from stabkit.analysis.structure import ZeroMode, pencil_structure

    system = circuit if isinstance(circuit, MNASystem) else assemble(circuit, params)
    if not system.is_lumped:
        names = sorted({d.element for d in system.distributed})
        raise DistributedCircuitError(
            f"the circuit has distributed elements ({', '.join(names)}): it has infinitely many natural "
            "frequencies and no finite pencil; use the NDF (stabkit ndf) to count its unstable ones")
    notes: list[str] = []
    generic = False
    if system.stamps or system.n == 0:
        st = pencil_structure(system)
        try:
            plan = _plan_for(st) if st.G.shape[0] else None
        except ValueError:
            plan = None
            notes.append("no random instance of the circuit gave clean rank decisions: rank decisions made at the "
                         "rounding level")
        topo = st.topology
        eig = pencil_eigenvalues(st.G, st.C, st.row_dyn, st.col_dyn, st.constraints, st.col_constraints, plan=plan,
                                 abs_pencil=topo.abs_matrices(st.coefs), terms=topo.max_terms)
        modes = list(st.zero_modes) + [ZeroMode("generic", [], [])] * eig.zero_modes
        zero_notes = [z.describe() for z in modes]
        nzero = len(modes)
        generic = eig.generic
    else:
        eig = pencil_eigenvalues(system.G.toarray(), system.C.toarray())
        zero_notes, nzero = [], 0
    notes.extend(eig.notes)
    ev, err = eig.values, eig.errors
    order = np.lexsort((ev.imag, -ev.real))
    ev, err = ev[order], err[order]
    return PoleResult(poles=ev, params=dict(system.params), title=system.circuit.title, errors=err,
                      zero_modes=nzero, zero_mode_notes=zero_notes, doubts=pole_doubts(ev, err, generic),
                      warnings=notes)
