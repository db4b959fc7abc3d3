"""Modified nodal analysis with the dependent sources kept separable.

For a circuit with ``n`` unknowns (node voltages, then branch currents of V/E/H sources, inductors and
lines) the system matrix at complex frequency ``s`` is::

    M(s) = M0(s) + U · diag(a0 + a1·s) · Eᵀ
    M0(s) = G0 + s·C0 + D(s)

``M0`` is the *passive* circuit: every dependent source (G, E, F, H) and every negative R or C switched
off (controlled value 0: a VCCS/CCCS opens, a VCVS/CCVS becomes a 0 V short, a negative R or C opens).
Column ``k`` of ``U`` (n×r) says where active element ``k`` acts, column ``k`` of ``E`` (n×r) what it senses,
and ``a0 + a1·s`` its gain. ``D(s)`` holds distributed elements (transmission lines), entire functions
of ``s``. This is the split the NDF needs: ``det M / det M0 = det(I_r + Eᵀ M0⁻¹ U diag(a))``.

Shapes: ``G0, C0`` are ``scipy.sparse`` CSC ``(n, n)``; ``U, E`` CSC ``(n, r)``; ``a0, a1`` ``(r,)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from stabkit.circuit.elements import LINES, Element
from stabkit.circuit.graph import GROUND, Circuit, check_lossy_line
from stabkit.errors import CircuitError

__all__ = ["ActiveElement", "DistributedEntry", "MNASystem", "Stamp", "assemble", "line_delay", "line_abcd",
           "line_scales", "line_theta", "nport_admittance", "stamps_to_matrices"]

ComplexFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class ActiveElement:
    """One column of ``U``/``E``: an element the NDF switches off."""

    name: str
    kind: str
    a0: float
    a1: float = 0.0


@dataclass
class DistributedEntry:
    """``M[row, col] += fn(s)`` for a frequency-dependent (non-polynomial) entry."""

    row: int
    col: int
    fn: ComplexFn
    element: str


@dataclass(frozen=True)
class Stamp:
    """One rank-one term of the MNA matrices, ``coef · u vᵀ`` with small integer vectors ``u`` (equation
    rows) and ``v`` (unknown columns), each a tuple of ``(index, ±1)``.

    ``matrix`` is ``"G"`` or ``"C"`` for passive terms; ``"A"`` for active element ``active`` (its ``G`` part
    is ``a0·u vᵀ`` and its ``C`` part ``a1·u vᵀ``, with the gains read from :attr:`MNASystem.active`, so a
    copy of the system with other gains needs no new stamps). ``G``/``C`` are the sums of their stamps;
    structural analysis (:mod:`stabkit.analysis.structure`) rebuilds them in integer-transformed
    coordinates from these terms, so that structurally zero entries stay exactly zero, and instantiates
    them with random values of the same sign (``param`` says which terms share a value) to read the
    generic structure of the pencil."""

    matrix: str
    coef: float
    u: tuple
    v: tuple
    element: str
    active: int = -1
    #: the element value this term scales with (``""`` for the fixed ±1 incidence terms of branch
    #: equations); terms with the same ``param`` always carry the same coefficient
    param: str = ""


@dataclass
class MNASystem:
    """The assembled circuit at fixed parameter values. Build it with :func:`assemble`."""

    circuit: Circuit
    params: dict[str, float]
    unknowns: list[str]
    node_index: dict[str, int]
    branch_index: dict[str, int]
    G0: sp.csc_matrix
    C0: sp.csc_matrix
    U: sp.csc_matrix
    E: sp.csc_matrix
    active: list[ActiveElement]
    distributed: list[DistributedEntry] = field(default_factory=list)
    #: the rank-one terms ``G`` and ``C`` are made of (lumped elements; lines and N-ports are not recorded)
    stamps: list[Stamp] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.unknowns)

    @property
    def r(self) -> int:
        return len(self.active)

    @property
    def is_lumped(self) -> bool:
        return not self.distributed

    @property
    def a0(self) -> np.ndarray:
        return np.array([a.a0 for a in self.active], dtype=float)

    @property
    def a1(self) -> np.ndarray:
        return np.array([a.a1 for a in self.active], dtype=float)

    def weights(self, s: complex | np.ndarray) -> np.ndarray:
        """Active gains ``a0 + a1·s``: shape ``(r,)`` for scalar ``s``, ``(len(s), r)`` for an array."""
        s = np.asarray(s, dtype=complex)
        return self.a0 + np.multiply.outer(s, self.a1)

    @property
    def G(self) -> sp.csc_matrix:
        """Full conductance matrix (active elements on)."""
        return (self.G0 + self.U @ sp.diags(self.a0) @ self.E.T).tocsc()

    @property
    def C(self) -> sp.csc_matrix:
        """Full capacitance/inductance matrix (active elements on)."""
        return (self.C0 + self.U @ sp.diags(self.a1) @ self.E.T).tocsc()

    def distributed_matrix(self, s: complex) -> sp.csc_matrix:
        if not self.distributed:
            return sp.csc_matrix((self.n, self.n), dtype=complex)
        s_arr = np.array([s], dtype=complex)
        rows = [d.row for d in self.distributed]
        cols = [d.col for d in self.distributed]
        vals = [complex(d.fn(s_arr)[0]) for d in self.distributed]
        return sp.csc_matrix((vals, (rows, cols)), shape=(self.n, self.n), dtype=complex)

    def M0(self, s: complex) -> sp.csc_matrix:
        """Passive system matrix at ``s`` (rad/s, complex)."""
        m = self.G0.astype(complex) + s * self.C0
        if self.distributed:
            m = m + self.distributed_matrix(s)
        return m.tocsc()

    def M(self, s: complex) -> sp.csc_matrix:
        """Full system matrix at ``s``."""
        w = self.weights(s)
        return (self.M0(s) + self.U @ sp.diags(w) @ self.E.T).tocsc()

    def incidence(self, n_plus: str, n_minus: str = GROUND) -> np.ndarray:
        """Vector ``e[n+] − e[n−]`` (ground rows dropped): picks ``v(n+) − v(n−)``."""
        vec = np.zeros(self.n)
        for node, sign in ((n_plus, 1.0), (n_minus, -1.0)):
            key = str(node).lower()
            key = GROUND if key in ("gnd", "ground") else key
            if key == GROUND:
                continue
            if key not in self.node_index:
                raise CircuitError(f"no node named {node!r}; nodes: {', '.join(sorted(self.node_index))}")
            vec[self.node_index[key]] += sign
        return vec


class _Builder:
    def __init__(self, n: int):
        self.n = n
        self.g: list[tuple[int, int, float]] = []
        self.c: list[tuple[int, int, float]] = []
        self.u: list[tuple[int, int, float]] = []
        self.e: list[tuple[int, int, float]] = []
        self.stamps: list[Stamp] = []

    def record(self, matrix: str, coef: float, u, v, element: str, active: int = -1, param: str | None = None) -> None:
        """Record ``coef · u vᵀ`` (``u``, ``v``: ``(index or None, ±1)`` pairs; ground entries dropped).
        ``param`` defaults to the element's name (a value term); pass ``""`` for incidence terms."""
        u = tuple((i, s) for i, s in u if i is not None)
        v = tuple((i, s) for i, s in v if i is not None)
        if u and v and (coef != 0 or matrix == "A"):
            self.stamps.append(Stamp(matrix, float(coef), u, v, element, active,
                                     element if param is None else param))

    @staticmethod
    def _add(store, row, col, val):
        if row is not None and col is not None and val != 0:
            store.append((row, col, val))

    def g_add(self, r, c, v):
        self._add(self.g, r, c, v)

    def c_add(self, r, c, v):
        self._add(self.c, r, c, v)

    def two_terminal(self, store, a, b, v):
        """Stamp ``v`` as an admittance between indices a and b (None = ground)."""
        self._add(store, a, a, v)
        self._add(store, b, b, v)
        self._add(store, a, b, -v)
        self._add(store, b, a, -v)

    def matrix(self, store, shape) -> sp.csc_matrix:
        if not store:
            return sp.csc_matrix(shape)
        r, c, v = zip(*store)
        return sp.csc_matrix((v, (r, c)), shape=shape)


def _needs_branch(e: Element) -> int:
    if e.kind in ("V", "E", "H", "L"):
        return 1
    if e.kind in LINES:
        return 2
    return 0


def assemble(circuit: Circuit, params: Mapping[str, float] | None = None, *, validate: bool = True) -> MNASystem:
    """Assemble the MNA system of ``circuit`` with parameter ``params`` overrides (names as in ``.param``).

    Independent sources are switched off (V → short, I → open): stability does not depend on them.
    Raises :class:`CircuitError` for elements that are nonlinear (linearize them first) and for
    structural faults (see :meth:`Circuit.validate`).
    """
    resolved = circuit.resolve_params(params)
    if validate:
        circuit.validate(resolved)
    for e in circuit:
        if e.kind in ("D", "Q", "B"):
            hint = "stabkit.nonlinear.small_signal_circuit(circuit); the CLI commands do it for you"
            raise CircuitError(f"{e.where()}: {e.describe()} is nonlinear; find its operating point and linearize it "
                               f"first ({hint})")
    nodes = [nd for nd in circuit.nodes if nd != GROUND]
    node_index = {nd: i for i, nd in enumerate(nodes)}
    unknowns = [f"v({nd})" for nd in nodes]
    branch_index: dict[str, int] = {}
    for e in circuit:
        for j in range(_needs_branch(e)):
            key = e.key if j == 0 else f"{e.key}#2"
            branch_index[key] = len(unknowns)
            unknowns.append(f"i({e.name})" if j == 0 else f"i({e.name}, port 2)")
    n = len(unknowns)
    b = _Builder(n)
    active: list[ActiveElement] = []
    distributed: list[DistributedEntry] = []

    def idx(node: str):
        return None if node == GROUND else node_index[node]

    def add_active(name, kind, a0, a1, u_entries, e_entries):
        k = len(active)
        active.append(ActiveElement(name=name, kind=kind, a0=a0, a1=a1))
        for r, v in u_entries:
            if r is not None:
                b.u.append((r, k, v))
        for c, v in e_entries:
            if c is not None:
                b.e.append((c, k, v))
        b.record("A", 1.0, u_entries, e_entries, name, k)

    for e in circuit:
        vals = circuit.values(e, resolved)
        k = e.kind
        if k in ("R", "C"):
            p, m = idx(e.nodes[0]), idx(e.nodes[1])
            value = vals["value"]
            if k == "R" and value > 0:
                b.two_terminal(b.g, p, m, 1.0 / value)
                b.record("G", 1.0 / value, [(p, 1), (m, -1)], [(p, 1), (m, -1)], e.name)
            elif k == "C" and value > 0:
                b.two_terminal(b.c, p, m, value)
                b.record("C", value, [(p, 1), (m, -1)], [(p, 1), (m, -1)], e.name)
            else:  # negative R or C: active, switched off (opened) in M0
                inc = [(p, 1.0), (m, -1.0)]
                add_active(e.name, k, 1.0 / value if k == "R" else 0.0, value if k == "C" else 0.0, inc, inc)
        elif k == "L":
            p, m, br = idx(e.nodes[0]), idx(e.nodes[1]), branch_index[e.key]
            b.g_add(p, br, 1.0)
            b.g_add(m, br, -1.0)
            b.g_add(br, p, 1.0)
            b.g_add(br, m, -1.0)
            b.record("G", 1.0, [(p, 1), (m, -1)], [(br, 1)], e.name, param="")
            b.record("G", 1.0, [(br, 1)], [(p, 1), (m, -1)], e.name, param="")
            value = vals["value"]
            if value > 0:
                b.c_add(br, br, -value)
                b.record("C", -value, [(br, 1)], [(br, 1)], e.name)
            else:  # negative inductance: active (a 0 V short when switched off)
                # M += a1·s·u·eᵀ with a1 = L, u = -e_br, e = e_br gives -s·L at (br, br)
                add_active(e.name, k, 0.0, value, [(br, -1.0)], [(br, 1.0)])
        elif k == "K":
            l1, l2 = (circuit.element(r) for r in e.refs)
            v1, v2 = circuit.values(l1, resolved)["value"], circuit.values(l2, resolved)["value"]
            if v1 <= 0 or v2 <= 0:
                raise CircuitError(f"{e.where()}: coupling {e.name} needs positive inductances, got {v1:g} and {v2:g}")
            mutual = vals["value"] * np.sqrt(v1 * v2)
            b1, b2 = branch_index[l1.key], branch_index[l2.key]
            b.c_add(b1, b2, -mutual)
            b.c_add(b2, b1, -mutual)
            b.record("C", -mutual, [(b1, 1)], [(b2, 1)], e.name)
            b.record("C", -mutual, [(b2, 1)], [(b1, 1)], e.name)
        elif k in ("V", "E", "H"):
            p, m, br = idx(e.nodes[0]), idx(e.nodes[1]), branch_index[e.key]
            b.g_add(p, br, 1.0)
            b.g_add(m, br, -1.0)
            b.g_add(br, p, 1.0)
            b.g_add(br, m, -1.0)
            b.record("G", 1.0, [(p, 1), (m, -1)], [(br, 1)], e.name, param="")
            b.record("G", 1.0, [(br, 1)], [(p, 1), (m, -1)], e.name, param="")
            if k == "E":
                cp, cm = idx(e.nodes[2]), idx(e.nodes[3])
                add_active(e.name, k, vals["value"], 0.0, [(br, 1.0)], [(cp, -1.0), (cm, 1.0)])
            elif k == "H":
                ctrl = branch_index[e.refs[0].lower()]
                add_active(e.name, k, vals["value"], 0.0, [(br, 1.0)], [(ctrl, -1.0)])
        elif k == "I":
            continue
        elif k == "G":
            p, m, cp, cm = (idx(x) for x in e.nodes)
            add_active(e.name, k, vals["value"], vals.get("c", 0.0), [(p, 1.0), (m, -1.0)], [(cp, 1.0), (cm, -1.0)])
        elif k == "F":
            p, m = idx(e.nodes[0]), idx(e.nodes[1])
            ctrl = branch_index[e.refs[0].lower()]
            add_active(e.name, k, vals["value"], 0.0, [(p, 1.0), (m, -1.0)], [(ctrl, 1.0)])
        elif k in LINES:
            _stamp_line(e, vals, idx, branch_index, b, distributed)
        elif k == "N":
            _stamp_nport(e, circuit.networks[e.key], idx, distributed)
        else:  # pragma: no cover - KINDS guards this
            raise CircuitError(f"{e.where()}: cannot assemble {e.describe()}")

    shape = (n, n)
    r = len(active)
    return MNASystem(
        circuit=circuit, params=resolved, unknowns=unknowns, node_index=node_index, branch_index=branch_index,
        G0=b.matrix(b.g, shape), C0=b.matrix(b.c, shape),
        U=b.matrix(b.u, (n, r)), E=b.matrix(b.e, (n, r)), active=active, distributed=distributed,
        stamps=b.stamps,
    )


def line_delay(values: Mapping[str, float], name: str = "line") -> float:
    """Delay of a lossless line from ``td`` or from ``f`` and ``nl`` (wavelengths at ``f``)."""
    if values.get("td") is not None:
        return float(values["td"])
    if values.get("f") is not None:
        return float(values.get("nl", 0.25)) / float(values["f"])
    raise CircuitError(f"{name}: a transmission line needs td= or f= with nl=")


def line_abcd(element: Element, values: Mapping[str, float]) -> tuple[ComplexFn, ComplexFn, ComplexFn]:
    """The chain (ABCD) entries of a line as functions of ``s``: ``A(s) = cosh θ``, ``B(s) = Zc·sinh θ`` and
    ``C(s) = sinh θ / Zc`` (``D = A``: the line is symmetric), ``θ = ℓ·√(z·y)`` and ``Zc = √(z/y)``.

    Lossless ``T``: ``θ = s·τ``, ``Zc = Z0``. Lossy ``O`` (per metre ``z = r + s·l``, ``y = g + s·c``, length ``ℓ``):
    written as ``cosh θ``, ``ℓ·z·sinh θ/θ`` and ``ℓ·y·sinh θ/θ`` — even functions of ``θ``, so entire functions of
    ``s`` with no branch to choose (``θ → 0`` at DC without shunt loss is exact: ``B = r·ℓ``, a resistance).

    Parameters
    ----------
    element : Element
        A ``T`` or ``O`` element.
    values : mapping
        Its evaluated values (``z0`` with ``td`` or ``f``/``nl``; or ``r l g c len``).

    Returns
    -------
    (A, B, C) : callables
        Complex arrays of the shape of ``s``.
    """
    if element.kind == "T":
        z0, tau = values["z0"], line_delay(values, element.name)
        return (lambda s: np.cosh(s * tau), lambda s: z0 * np.sinh(s * tau), lambda s: np.sinh(s * tau) / z0)
    check_lossy_line(element, values)
    r, l, g, c, length = (float(values.get(k, 0.0)) for k in ("r", "l", "g", "c", "len"))

    def theta_and_sinhc(s):
        s = np.asarray(s, dtype=complex)
        theta = length * np.sqrt((r + s * l) * (g + s * c))
        small = np.abs(theta) < 1e-4
        safe = np.where(small, 1.0, theta)
        sinhc = np.where(small, 1.0 + theta * theta / 6.0, np.sinh(safe) / safe)
        return theta, sinhc

    def a(s):
        return np.cosh(theta_and_sinhc(s)[0])

    def b(s):
        return length * (r + np.asarray(s, dtype=complex) * l) * theta_and_sinhc(s)[1]

    def c_(s):
        return length * (g + np.asarray(s, dtype=complex) * c) * theta_and_sinhc(s)[1]

    return a, b, c_


def line_theta(element: Element, values: Mapping[str, float]) -> ComplexFn:
    """``θ(s) = ℓ·√((r + s·l)(g + s·c))`` of a lossy line (principal root: analytic for ``Re s > 0``, with
    ``Re θ ≥ 0``), its propagation over the whole length."""
    r, l, g, c, length = (float(values.get(k, 0.0)) for k in ("r", "l", "g", "c", "len"))
    return lambda s: length * np.sqrt((r + np.asarray(s, dtype=complex) * l) * (g + np.asarray(s, dtype=complex) * c))


def line_scales(element: Element, values: Mapping[str, float]) -> tuple[list[float], list[float]]:
    """Characteristic resistances (Ω) and times (s) of a line, for frequency bands: ``Z0`` and ``τ``; for a
    lossy line ``√(l/c)`` (an RC or RG line: the total ``r·ℓ``), ``ℓ·√(l·c)``, ``l/r``, ``c/g`` and the diffusion
    time ``r·c·ℓ²`` of an RC line."""
    if element.kind == "T":
        return [abs(values["z0"])], [line_delay(values, element.name)]
    r, l, g, c, length = (float(values.get(k, 0.0)) for k in ("r", "l", "g", "c", "len"))
    if l > 0 and c > 0:
        resistances = [float(np.sqrt(l / c))]
    elif c > 0 or g > 0:  # RC or RG line: its total series resistance
        resistances = [r * length] if r > 0 else [float(np.sqrt(l / c))] if c > 0 else []
    else:
        resistances = []
    times = [x for x in (length * np.sqrt(l * c), l / r if r > 0 else 0.0, c / g if g > 0 else 0.0,
                         r * c * length**2 if l == 0 else 0.0) if x > 0]
    return resistances, times


def _stamp_line(e, vals, idx, branch_index, b: _Builder, distributed: list) -> None:
    """A line in ABCD form with two branch currents (finite for every s):

    ``V1 = A(s)·V2 − B(s)·i2`` and ``i1 = C(s)·V2 − A(s)·i2``, ``i1``/``i2`` flowing into ``a+``/``b+``
    (:func:`line_abcd`)."""
    ap, am, bp, bm = (idx(x) for x in e.nodes)
    a_fn, b_fn, c_fn = line_abcd(e, vals)
    br1, br2 = branch_index[e.key], branch_index[f"{e.key}#2"]
    for node, sign, br in ((ap, 1.0, br1), (am, -1.0, br1), (bp, 1.0, br2), (bm, -1.0, br2)):
        b.g_add(node, br, sign)
    # row br1: V1 - A·V2 + B·i2 = 0
    b.g_add(br1, ap, 1.0)
    b.g_add(br1, am, -1.0)
    for col, sign in ((bp, 1.0), (bm, -1.0)):
        if col is not None:
            distributed.append(DistributedEntry(br1, col, (lambda s, f=a_fn, sg=sign: -sg * f(s)), e.name))
            distributed.append(DistributedEntry(br2, col, (lambda s, f=c_fn, sg=sign: -sg * f(s)), e.name))
    distributed.append(DistributedEntry(br1, br2, b_fn, e.name))
    # row br2: i1 - C·V2 + A·i2 = 0
    b.g_add(br2, br1, 1.0)
    distributed.append(DistributedEntry(br2, br2, a_fn, e.name))


def nport_admittance(network, freqs_hz: np.ndarray, name: str = "N-port") -> np.ndarray:
    """Y-parameters ``(len(f), k, k)`` of an N-port (``f``, ``s``, ``z0``, ``nports``: parsed Touchstone data or
    a scikit-rf Network) at ``freqs_hz``, interpolating S linearly (real and imaginary parts) inside the measured
    range. At exactly 0 Hz (the DC operating point) the real ``S(f1)`` of the lowest sample, as the NDF
    extrapolates (stabkit.analysis.blocks). Elsewhere outside the data: :class:`CircuitError`."""
    from stabkit.analysis.blocks import block_s, network_z0

    f = np.asarray(freqs_hz, dtype=float)
    f_data, s_data = np.asarray(network.f, dtype=float), np.asarray(network.s, dtype=complex)
    lo, hi, k = float(f_data[0]), float(f_data[-1]), network.nports
    if f.size and np.all(f == 0.0):  # the DC operating point: S(0) = Re S(f1), the NDF's own extrapolation
        s_mat = block_s(f_data, s_data, f).real
    elif np.any(f < lo * (1 - 1e-9)) or np.any(f > hi * (1 + 1e-9)):
        raise CircuitError(f"{name}: S-parameters are known from {lo:.4g} Hz to {hi:.4g} Hz only; asked for "
                           f"{f.min():.4g}..{f.max():.4g} Hz (set fmin/fmax inside the data)")
    else:
        flat = s_data.reshape(f_data.size, k * k)
        s_mat = np.stack([np.interp(f, f_data, flat[:, j].real) + 1j * np.interp(f, f_data, flat[:, j].imag)
                          for j in range(k * k)], axis=-1).reshape(f.size, k, k)
    sqrt_y0 = np.diag(1 / np.sqrt(network_z0(network)))
    eye = np.eye(k)
    # Y = sqrt(y0) (I − S)(I + S)⁻¹ sqrt(y0) for real reference impedances
    return np.array([sqrt_y0 @ (eye - sm) @ np.linalg.inv(eye + sm) @ sqrt_y0 for sm in s_mat])


def _stamp_nport(e, network, idx, distributed: list) -> None:
    """``Y`` of the block between its port nodes and ground, or its common reference node (given last)."""
    nodes = [idx(n) for n in e.nodes[:network.nports]]
    ref = idx(e.nodes[network.nports]) if len(e.nodes) > network.nports else None

    def entry(s, i, j, network=network, name=e.name):
        s = np.asarray(s, dtype=complex)
        if np.any(np.abs(s.real) > 1e-9 * np.maximum(np.abs(s), 1.0)):
            raise CircuitError(f"{name}: an S-parameter block is known on the jω axis only (no poles, no complex s)")
        return nport_admittance(network, np.abs(s.imag) / (2 * np.pi), name)[:, i, j]

    for i, row in enumerate(nodes):
        for j, col in enumerate(nodes):
            for r, c, sign in ((row, col, 1.0), (row, ref, -1.0), (ref, col, -1.0), (ref, ref, 1.0)):
                if r is not None and c is not None:
                    distributed.append(DistributedEntry(r, c, (lambda s, i=i, j=j, sg=sign: sg * entry(s, i, j)),
                                                        e.name))


def stamps_to_matrices(system: MNASystem) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``(G, C)`` summed from :attr:`MNASystem.stamps` (with the current active gains); equal to
    ``system.G``/``system.C`` for lumped circuits (a check on the recorded stamps)."""
    n = system.n
    G = np.zeros((n, n))
    C = np.zeros((n, n))
    for st in system.stamps:
        parts = [("G", st.coef)] if st.matrix == "G" else [("C", st.coef)] if st.matrix == "C" else \
            [("G", system.active[st.active].a0), ("C", system.active[st.active].a1)]
        for which, coef in parts:
            target = G if which == "G" else C
            for i, a in st.u:
                for j, b in st.v:
                    target[i, j] += coef * a * b
    return G, C
