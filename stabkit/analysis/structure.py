"""Graph structure of the MNA pencil ``G + s·C``: what is dynamic, what is algebraic, and which natural
frequencies sit at ``s = 0`` for every element value.

The matrices of :mod:`stabkit.analysis.mna` are sums of element stamps ``coef · u vᵀ`` with small integer
vectors ``u`` (equations) and ``v`` (unknowns). Everything here works on those stamps and on graphs built
from them, never on accumulated floating-point entries, so the zeros it promises are exact:

1. **Contraction.** Zeroed independent voltage sources that no F/H element uses as an ammeter (and
   dependent voltage sources whose gain is zero) are wires for stability: their two nodes are merged
   (their KCL rows added) and their branch current and KVL row removed. Independent current sources are
   open and have no stamp anyway. This removes the commonest index-2 structure (capacitors across a
   supply).
2. **Capacitive forests.** The node-space part of ``C`` (capacitors, negative capacitors,
   transcapacitances) only couples nodes of one component of the *capacitive graph*. A component ``K``
   not containing ground has one null vector, ``1_K``: with the unimodular change of node coordinates
   ``v_k = y_k + y_r`` (``r`` the component's root) and the row operation "row ``r`` := Σ_K KCL", the
   root's row and column of ``C`` are exactly zero. Roots (and nodes without any capacitance) are
   algebraic unknowns; the other nodes, and the inductor currents, are dynamic.
3. **Structural zero modes.**

   * *capacitor-only cut-sets*: a component ``S`` (without ground) of the graph of every element that
     has a conductive stamp (R, L, V, E, H, F, G outputs ...) is joined to the rest only through
     capacitors. The sum of its KCL rows has an exactly zero ``G`` part: ``1_Sᵀ(G + sC) = s·q(x)`` with
     ``q`` the charge on the island. ``det(G + sC)`` has the factor ``s``; replacing that row by ``q``
     (a constraint: the island's charge is conserved) divides it out exactly.
   * *floating potentials* (the dual): a node set whose potential no conductive stamp sees (tied to the
     rest through capacitors and current sources only): ``(G + sC)·1_S = s·C·1_S``; the column is divided
     by ``s`` the same way.
   * *inductor-only loops* (through zeroed voltage sources too): the signed sum of the branch rows
     around the loop has an exactly zero ``G`` part and a ``C`` part ``−Σ ±L i`` (the loop's flux),
     which replaces it in the same way. The loops are the fundamental cycles of a spanning forest that
     takes the voltage-source branches first, so every loop's own row is an inductor row.

   These are conserved quantities of the ideal circuit (charge on an island, flux in a loop), not
   instabilities: :class:`stabkit.analysis.poles.PoleResult` reports them as ``zero_modes`` and does
   not count them as poles. Zero modes that none of these three rules names (combinations through
   controlled sources) are found from the generic structure by :mod:`stabkit.analysis.poles`.

All of this depends only on the circuit's topology (which stamps exist, and which gains are zero): it is
computed once per topology and cached (:func:`topology`); a new set of element values only re-sums the
transformed stamps (:meth:`Topology.matrices`). Structural questions ("is this entry zero for every
value?") are answered on an instance with random values of the same signs (:meth:`Topology.random_coefs`),
never on the circuit's own values, so an accidental cancellation of values is never mistaken for
structure.

The result, :class:`PencilStructure`, is the transformed pencil with masks saying which rows and
columns of ``C`` are structurally nonzero (every other entry of ``C`` is exactly zero) and which rows
are zero-mode constraints. :mod:`stabkit.analysis.poles` takes it from there.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field

import numpy as np
from stabkit.analysis.mna import MNASystem
from stabkit.circuit.graph import GROUND
from stabkit.errors import CircuitError

__all__ = ["ZeroMode", "PencilStructure", "Topology", "pencil_structure", "topology"]

_GND = -1  # ground in the contracted node numbering
_CACHE_SIZE = 64
_cache: "OrderedDict[tuple, Topology]" = OrderedDict()


@dataclass
class ZeroMode:
    """One structural natural frequency at ``s = 0``.

    ``kind`` is ``"charge"`` (a set of nodes joined to the rest of the circuit only through capacitors: the
    charge on that island is conserved), ``"potential"`` (a node set whose potential no conductive element
    sees), ``"flux"`` (a loop of inductors and zeroed voltage sources: the flux around it is conserved) or
    ``"generic"`` (found from the generic rank structure, :mod:`stabkit.analysis.poles`); ``nodes`` the
    circuit nodes of the island, ``elements`` the capacitors of the cut-set or the elements of the loop."""

    kind: str
    nodes: list[str]
    elements: list[str]

    def describe(self) -> str:
        if self.kind == "charge":
            return (f"charge on node(s) {', '.join(self.nodes)}, joined to the rest only through capacitor(s) "
                    f"{', '.join(self.elements)}")
        if self.kind == "potential":
            return (f"potential of node(s) {', '.join(self.nodes)}, tied to the rest only through capacitors and "
                    "current sources (no conductive element sees it)")
        if self.kind == "generic":
            return ("a conserved combination of charges and fluxes through controlled sources (det(G + sC) has "
                    "this root at s = 0 for every element value)")
        return f"flux around the loop {', '.join(self.elements)} (inductors and zeroed voltage sources)"


@dataclass
class PencilStructure:
    """The pencil ``G + s·C`` in structural coordinates (dense), ``det`` equal to ``const · s^(−z) ·
    det(G_mna + s·C_mna)`` with ``z = len(zero_modes)``.

    ``row_dyn``/``col_dyn`` mark rows/columns where ``C`` may be nonzero (``C`` is exactly zero elsewhere);
    ``constraints`` are the rows that replaced zero-mode rows (``G`` entries on dynamic columns only, ``C``
    zero), ``col_constraints`` the same for columns. ``labels`` name the columns (for messages).
    ``topology`` builds the same pencil for other element values (the generic structure)."""

    G: np.ndarray
    C: np.ndarray
    row_dyn: np.ndarray
    col_dyn: np.ndarray
    constraints: list[int]
    col_constraints: list[int] = field(default_factory=list)
    zero_modes: list[ZeroMode] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    contracted: list[str] = field(default_factory=list)
    topology: "Topology | None" = None
    #: the stamp coefficients ``G``/``C`` were summed from (for :meth:`Topology.abs_matrices`)
    coefs: np.ndarray | None = None


class _UnionFind:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if rb == _GND:  # ground stays the representative
            ra, rb = rb, ra
        self.parent[rb] = ra
        return True


def _effective_stamps(system: MNASystem) -> list[tuple]:
    """``(matrix, coef, u, v, element, param)`` with active gains resolved and integer vectors; terms whose
    coefficient is zero are left out."""
    out = []
    for st in system.stamps:
        u = tuple((int(i), int(round(a))) for i, a in st.u)
        v = tuple((int(i), int(round(b))) for i, b in st.v)
        if st.matrix == "A":
            act = system.active[st.active]
            if act.a0 != 0:
                out.append(("G", float(act.a0), u, v, st.element, f"{st.param}:a0"))
            if act.a1 != 0:
                out.append(("C", float(act.a1), u, v, st.element, f"{st.param}:a1"))
        elif st.coef != 0:
            out.append((st.matrix, float(st.coef), u, v, st.element, st.param))
    return out


def _fundamental_cycles(edges: list[tuple[int, int, int]]) -> list[list[tuple[int, int]]]:
    """Fundamental cycles of a multigraph given as ``(a, b, edge_id)`` in order of preference for the
    spanning forest (earlier edges are taken into the tree first); each cycle is a list of ``(edge_id,
    sign)`` starting with its non-tree edge, sign +1 when traversed from ``a`` to ``b``."""
    uf = _UnionFind()
    tree_adj: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    chords = []
    for a, b, k in edges:
        if uf.union(a, b):
            tree_adj[a].append((b, k, +1))
            tree_adj[b].append((a, k, -1))
        else:
            chords.append((a, b, k))
    parent: dict[int, tuple[int, int, int] | None] = {}
    depth: dict[int, int] = {}
    for root in list(tree_adj):
        if root in parent:
            continue
        parent[root] = None
        depth[root] = 0
        stack = [root]
        while stack:
            x = stack.pop()
            for y, k, sgn in tree_adj[x]:
                if y not in parent:
                    parent[y] = (x, k, sgn)  # edge k goes x -> y when sgn = +1
                    depth[y] = depth[x] + 1
                    stack.append(y)
    for a, b, _ in chords:
        for x in (a, b):
            if x not in parent:
                parent[x], depth[x] = None, 0
    cycles = []
    for a, b, k in chords:
        cyc = [(k, +1)]
        up_b, up_a = [], []
        x, y = b, a
        while depth[x] > depth[y]:
            px, kk, sgn = parent[x]
            up_b.append((kk, -sgn))
            x = px
        while depth[y] > depth[x]:
            py, kk, sgn = parent[y]
            up_a.append((kk, sgn))
            y = py
        while x != y:
            px, kx, sx = parent[x]
            py, ky, sy = parent[y]
            up_b.append((kx, -sx))
            up_a.append((ky, sy))
            x, y = px, py
        cycles.append(cyc + up_b + up_a[::-1])
    return cycles


def _components(n: int, pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Connected components (sorted lists) of nodes ``0..n-1`` plus ground (``_GND``) that do not contain
    ground, given edges as pairs."""
    parent = list(range(n + 1))  # index n is ground

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(n if a == _GND else a), find(n if b == _GND else b)
        if ra != rb:
            parent[ra] = rb
    ground = find(n)
    groups: dict[int, list[int]] = defaultdict(list)
    for k in range(n):
        r = find(k)
        if r != ground:
            groups[r].append(k)
    return [sorted(g) for g in groups.values()]


@dataclass
class Topology:
    """Everything :func:`pencil_structure` derives from the circuit's topology alone: the contraction, the
    integer change of coordinates (as the transformed stamp terms ``(stamp, row, col, multiplier)``), the
    masks, the zero-mode rows/columns and their descriptions. Cached per topology by :func:`topology`."""

    n: int
    labels: list[str]
    contracted: list[str]
    zero_modes: list[ZeroMode]
    constraints: list[int]
    col_constraints: list[int]
    row_dyn: np.ndarray
    col_dyn: np.ndarray
    kept: np.ndarray           # indices of the effective stamps that survive the contraction
    params: list[str]          # per (contracted) stamp: the value it scales with ("" = incidence)
    signs: np.ndarray          # per stamp: sign of its coefficient in the first circuit seen
    g_terms: tuple             # (stamp index, flat index row·n + col, integer multiplier) for G
    c_terms: tuple             # the same for C
    #: cache slot for the generic deflation plan of :mod:`stabkit.analysis.poles`
    plan: object = None
    _param_index: np.ndarray | None = None
    _n_params: int = 0
    _valued: np.ndarray | None = None

    def matrices(self, coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``(G, C)`` in structural coordinates for stamp coefficients ``coefs`` (one per stamp)."""
        n = self.n
        out = []
        for stamp, flat, mult in (self.g_terms, self.c_terms):
            w = coefs[stamp] * mult
            out.append(np.bincount(flat, weights=w, minlength=n * n).reshape(n, n) if n else np.zeros((0, 0)))
        return out[0], out[1]

    def abs_matrices(self, coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(Σ|terms| of G, Σ|terms| of C)``: the entry-wise reference for componentwise perturbations.
        Entries made of incidence terms only (sums of ±1 from branch equations and KCL) are exact — no
        perturbation of the values or of their sums reaches them — and get 0."""
        n = self.n
        if self._valued is None:
            self._valued = np.array([p != "" for p in self.params], dtype=bool)
        out = []
        for stamp, flat, mult in (self.g_terms, self.c_terms):
            w = np.abs(coefs[stamp] * mult)
            if not n:
                out.append(np.zeros((0, 0)))
                continue
            total = np.bincount(flat, weights=w, minlength=n * n)
            valued = np.bincount(flat, weights=self._valued[stamp].astype(float), minlength=n * n)
            out.append(np.where(valued > 0, total, 0.0).reshape(n, n))
        return out[0], out[1]

    @property
    def max_terms(self) -> int:
        """The largest number of stamp terms summed into one entry of ``G`` or ``C``."""
        counts = [np.bincount(flat).max(initial=0) for _, flat, _ in (self.g_terms, self.c_terms) if flat.size]
        return int(max(counts, default=1))

    def random_coefs(self, seed: int = 0) -> np.ndarray:
        """Stamp coefficients of a random instance: every element value drawn from ``U(1, 2)`` with the sign
        of the circuit's own value (incidence terms stay ±1); terms that share a value share the draw."""
        if self._param_index is None:
            names: dict[str, int] = {}
            self._param_index = np.array([-1 if p == "" else names.setdefault(p, len(names)) for p in self.params],
                                         dtype=int)
            self._n_params = len(names)
        draws = np.random.default_rng(seed).uniform(1.0, 2.0, self._n_params + 1)
        draws[-1] = 1.0  # index −1: incidence terms
        return self.signs * draws[self._param_index]


def _topology_key(system: MNASystem, stamps: list[tuple]) -> tuple:
    circuit = system.circuit
    branches = tuple((e.key, e.kind, tuple(e.nodes[:2]), tuple(r.lower() for r in (e.refs or ())))
                     for e in circuit if e.key in system.branch_index)
    return (tuple(system.unknowns), branches,
            tuple((m, u, v, el, p, c > 0) for m, c, u, v, el, p in stamps))


def topology(system: MNASystem) -> tuple[Topology, np.ndarray]:
    """The cached :class:`Topology` of a lumped system and its stamp coefficients (in the topology's order)."""
    if not system.is_lumped:
        raise CircuitError("structural analysis needs a lumped circuit")
    stamps = _effective_stamps(system)
    key = _topology_key(system, stamps)
    topo = _cache.get(key)
    if topo is None:
        topo = _build_topology(system, stamps)
        _cache[key] = topo
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    coefs = np.array([st[1] for st in stamps], dtype=float)
    return topo, coefs[topo.kept]


def pencil_structure(system: MNASystem) -> PencilStructure:
    """Contract, split dynamic from algebraic unknowns and deflate structural zero modes (module doc).

    Raises :class:`CircuitError` when the circuit has no recorded stamps (distributed elements) or is
    singular for every ``s`` in a way the graph shows (a loop of voltage-defined shorts, a floating island).
    """
    topo, coefs = topology(system)
    G, C = topo.matrices(coefs)
    return PencilStructure(G=G, C=C, row_dyn=topo.row_dyn.copy(), col_dyn=topo.col_dyn.copy(),
                           constraints=list(topo.constraints), col_constraints=list(topo.col_constraints),
                           zero_modes=list(topo.zero_modes), labels=list(topo.labels),
                           contracted=list(topo.contracted), topology=topo, coefs=coefs)


def _build_topology(system: MNASystem, stamps: list[tuple]) -> Topology:
    circuit = system.circuit
    nn = len(system.node_index)
    node_names = {i: nd for nd, i in system.node_index.items()}
    branch_elem: dict[int, object] = {}
    for e in circuit:
        if e.key in system.branch_index:
            branch_elem[system.branch_index[e.key]] = e
    ammeters = {e.refs[0].lower() for e in circuit if e.kind in ("F", "H") and e.refs}
    gains = {a.name: (a.a0, a.a1) for a in system.active}
    c_elements = {st[4] for st in stamps if st[0] == "C"}

    def node_of(i):
        return GROUND if i == _GND else node_names[i]

    # ---- 1. contraction of shorts
    uf = _UnionFind()
    uf.find(_GND)
    shorts: set[int] = set()
    short_names: list[str] = []
    for br, e in sorted(branch_elem.items()):
        short = (e.kind == "V" and e.key not in ammeters) or \
                (e.kind in ("E", "H") and gains.get(e.name, (1.0, 0.0))[0] == 0.0) or \
                (e.kind == "L" and e.name not in c_elements)  # a switched-off negative L: a 0 V short
        if not short:
            continue
        p, m = (_GND if nd == GROUND else system.node_index[nd] for nd in e.nodes[:2])
        if not uf.union(p, m):
            raise CircuitError(f"the circuit equations are singular for every frequency: {e.name} closes a loop of "
                               "zero-volt branches (voltage sources, switched-off dependent voltage sources)")
        shorts.add(br)
        short_names.append(e.name)
    cls_of = {i: uf.find(i) for i in range(nn)}
    reps = sorted({c for c in cls_of.values() if c != _GND})
    new_node = {c: k for k, c in enumerate(reps)}  # contracted node numbering
    members: dict[int, list[int]] = defaultdict(list)
    for i, c in cls_of.items():
        members[c].append(i)
    nc = len(reps)
    branches = [br for br in range(nn, system.n) if br not in shorts]
    new_branch = {br: nc + k for k, br in enumerate(branches)}
    n = nc + len(branches)

    def contract(vec):
        acc: dict[int, int] = defaultdict(int)
        for i, a in vec:
            if i < nn:
                c = cls_of[i]
                if c == _GND:
                    continue
                acc[new_node[c]] += a
            elif i in shorts:
                return None
            else:
                acc[new_branch[i]] += a
        return {k: a for k, a in acc.items() if a}

    cst = []
    kept = []
    for k, (mat, coef, u, v, name, param) in enumerate(stamps):
        cu, cv = contract(u), contract(v)
        if cu is None or cv is None:
            continue  # a contracted short's own stamps
        if cu and cv:
            cst.append((mat, coef, cu, cv, name, param))
            kept.append(k)

    # ---- 2. graphs on contracted nodes (+ ground)
    def node_pairs(vec):
        nodes = [k for k in vec if k < nc]
        if not nodes:
            return []
        total = sum(vec[k] for k in nodes)
        pairs = [(nodes[0], k) for k in nodes[1:]]
        if total != 0 or len(nodes) == 1:
            pairs.append((nodes[0], _GND))
        return pairs

    cap_pairs, con_pairs, col_pairs = [], [], []
    cap_degree: dict[int, int] = defaultdict(int)
    cut_caps: dict[tuple[int, int], set[str]] = defaultdict(set)
    for mat, coef, u, v, name, _ in cst:
        if mat == "C":
            for a, b in node_pairs(u) + node_pairs(v):
                cap_pairs.append((a, b))
                if a != b:
                    cap_degree[a] += 1
                    cap_degree[b] += 1
                cut_caps[(a, b)].add(name)
                cut_caps[(b, a)].add(name)
        else:
            con_pairs.extend(node_pairs(u))
            col_pairs.extend(node_pairs(v))
    cap_comps = _components(nc, cap_pairs)
    islands = _components(nc, con_pairs)
    row_sets = {tuple(i) for i in islands}
    col_islands = [c for c in _components(nc, col_pairs) if tuple(c) not in row_sets]

    def _cnode(nd):
        if nd == GROUND:
            return _GND
        c = cls_of[system.node_index[nd]]
        return _GND if c == _GND else new_node[c]

    # inductor / ammeter-source loops: voltage-source branches first into the spanning forest, so that the
    # chord of every fundamental cycle (its representative row) is an inductor
    loop_edges = []
    for kinds in (("V",), ("L",)):
        for br in branches:
            e = branch_elem[br]
            if e.kind in kinds:
                p, m = (_cnode(nd) for nd in e.nodes[:2])
                loop_edges.append((p, m, new_branch[br]))
    cycles = _fundamental_cycles(loop_edges)
    inv_branch = {nb: br for br, nb in new_branch.items()}
    for cyc in cycles:
        if branch_elem[inv_branch[cyc[0][0]]].kind != "L":
            names = [branch_elem[inv_branch[eid]].name for eid, _ in cyc]
            raise CircuitError("the circuit equations are singular for every frequency: the voltage sources "
                               f"{', '.join(names)} form a loop")

    # ---- 3. representatives (distinct rows for every sum)
    used: set[int] = set()
    comp_rep: dict[int, int] = {}
    comp_of: dict[int, int] = {}
    for ci, comp in enumerate(cap_comps):
        for k in comp:
            comp_of[k] = ci
        if len(comp) == 1:
            comp_rep[ci] = comp[0]
            used.add(comp[0])
    island_rep: dict[int, int] = {}
    island_of: dict[int, int] = {}
    for si, isl in enumerate(islands):
        for k in isl:
            island_of[k] = si
        free = [k for k in isl if k not in used]
        if not free:
            names = [node_of(reps[k]) for k in isl]
            raise CircuitError(f"the circuit equations are singular for every frequency: node(s) {', '.join(names)} "
                               "float (no element ties them to the rest)")
        island_rep[si] = free[0]
        used.add(free[0])
    for ci, comp in enumerate(cap_comps):
        if ci in comp_rep:
            continue
        free = [k for k in comp if k not in used]
        if not free:
            names = [node_of(reps[k]) for k in comp]
            raise CircuitError(f"the circuit equations are singular for every frequency: node(s) {', '.join(names)} "
                               "float (joined to the rest by nothing)")
        comp_rep[ci] = free[0]
        used.add(free[0])
    rep_rows = set(comp_rep.values()) | set(island_rep.values())

    # row map: old contracted row -> [(new row, coefficient)]
    row_map: dict[int, list[tuple[int, int]]] = {}
    for k in range(nc):
        targets = []
        if k in comp_of and comp_rep[comp_of[k]] != k:
            targets.append((comp_rep[comp_of[k]], 1))
        if k in island_of:
            targets.append((island_rep[island_of[k]], 1))
        if k not in rep_rows or (k in comp_of and comp_rep[comp_of[k]] == k):
            targets.append((k, 1))
        row_map[k] = targets
    loop_rep = {}
    branch_rows: dict[int, list[tuple[int, int]]] = {nb: [] for nb in new_branch.values()}
    for li, cyc in enumerate(cycles):
        rep = cyc[0][0]
        loop_rep[li] = rep
        for eid, sgn in cyc:
            branch_rows[eid].append((rep, sgn))
    rep_branch = set(loop_rep.values())
    for nb, lst in branch_rows.items():
        if nb not in rep_branch:
            lst.append((nb, 1))
        row_map[nb] = lst
    # column representatives: capacitive components (singletons first) and column islands, all distinct
    used_c: set[int] = set()
    comp_rep_c: dict[int, int] = {}
    for ci, comp in enumerate(cap_comps):
        if len(comp) == 1:
            comp_rep_c[ci] = comp[0]
            used_c.add(comp[0])
    col_island_rep: dict[int, int] = {}
    col_island_of: dict[int, int] = {}
    for si, isl in enumerate(col_islands):
        free = [k for k in isl if k not in used_c]
        if not free:
            continue  # cannot be a mode of its own (it is made of capacitor-free nodes only)
        for k in isl:
            col_island_of[k] = si
        col_island_rep[si] = free[0]
        used_c.add(free[0])
    for ci, comp in enumerate(cap_comps):
        if ci in comp_rep_c:
            continue
        free = [k for k in comp if k not in used_c]
        if not free:
            names = [node_of(reps[k]) for k in comp]
            raise CircuitError(f"the circuit equations are singular for every frequency: node(s) {', '.join(names)} "
                               "float (joined to the rest by nothing)")
        comp_rep_c[ci] = free[0]
        used_c.add(free[0])
    rep_cols = set(comp_rep_c.values()) | set(col_island_rep.values())
    # column map (x = T y): x_k = y_k + y_root(K) + y_root(island); root columns become sums of columns
    col_map: dict[int, list[tuple[int, int]]] = {}
    for k in range(n):
        if k >= nc:
            col_map[k] = [(k, 1)]
            continue
        targets = []
        if k in comp_of and comp_rep_c[comp_of[k]] != k:
            targets.append((comp_rep_c[comp_of[k]], 1))
        if k in col_island_of:
            rr = col_island_rep[col_island_of[k]]
            if rr != k:
                targets.append((rr, 1))
        if k not in rep_cols or (k in comp_of and comp_rep_c[comp_of[k]] == k) or \
                (k in col_island_of and col_island_rep[col_island_of[k]] == k):
            targets.append((k, 1))
        col_map[k] = targets

    def transform(vec, mapping):
        acc: dict[int, int] = defaultdict(int)
        for i, a in vec.items():
            for j, b in mapping[i]:
                acc[j] += a * b
        return [(j, a) for j, a in acc.items() if a]

    # transformed terms: (stamp, row, col, multiplier) per matrix
    terms = {"G": ([], [], [], []), "C": ([], [], [], [])}
    for k, (mat, coef, u, v, name, param) in enumerate(cst):
        tu, tv = transform(u, row_map), transform(v, col_map)
        st, rr, cc, mm = terms["G" if mat == "G" else "C"]
        for i, a in tu:
            for j, b in tv:
                st.append(k)
                rr.append(i)
                cc.append(j)
                mm.append(a * b)
    g_st, g_r, g_c, g_m = (np.array(x, dtype=int) for x in terms["G"])
    c_st, c_r, c_c, c_m = (np.array(x, dtype=int) for x in terms["C"])

    # ---- 4. dynamic / algebraic split and zero-mode rows (structural checks on a random instance)
    col_dyn = np.zeros(n, bool)
    row_dyn = np.zeros(n, bool)
    for k in range(nc):
        in_comp = k in comp_of
        grounded = not in_comp and cap_degree.get(k, 0) > 0
        row_dyn[k] = grounded or (in_comp and comp_rep[comp_of[k]] != k)
        col_dyn[k] = grounded or (in_comp and comp_rep_c[comp_of[k]] != k)
    for br in branches:
        e = branch_elem[br]
        if e.kind == "L":
            col_dyn[new_branch[br]] = row_dyn[new_branch[br]] = True
    zero_modes: list[ZeroMode] = []
    constraints: list[int] = []
    for si, isl in enumerate(islands):
        r = island_rep[si]
        inside = {x for k in isl for x in members[reps[k]]}
        names = sorted({nm for k in isl for (a, b), nms in cut_caps.items() if a == k and b not in isl for nm in nms})
        zero_modes.append(ZeroMode("charge", sorted(node_of(i) for i in inside), names))
        constraints.append(r)
    for li, cyc in enumerate(cycles):
        constraints.append(loop_rep[li])
        zero_modes.append(ZeroMode("flux", [], [branch_elem[inv_branch[eid]].name for eid, _ in cyc]))

    params = [st[5] for st in cst]
    signs = np.array([1.0 if st[1] > 0 else -1.0 for st in cst])
    topo = Topology(n=n, labels=[], contracted=short_names, zero_modes=zero_modes, constraints=constraints,
                    col_constraints=[], row_dyn=row_dyn, col_dyn=col_dyn, kept=np.array(kept, dtype=int),
                    params=params, signs=signs,
                    g_terms=(g_st, g_r * n + g_c, g_m), c_terms=(c_st, c_r * n + c_c, c_m))
    Gr, Cr = topo.matrices(topo.random_coefs(12345))

    def move(select):
        """Move the C terms selected (mask over C terms) into G (row or column divided by s)."""
        nonlocal g_st, g_r, g_c, g_m, c_st, c_r, c_c, c_m
        g_st, g_r, g_c, g_m = (np.concatenate([x, y[select]]) for x, y in ((g_st, c_st), (g_r, c_r), (g_c, c_c),
                                                                          (g_m, c_m)))
        keep = ~select
        c_st, c_r, c_c, c_m = c_st[keep], c_r[keep], c_c[keep], c_m[keep]

    for r in constraints:
        if np.any(Gr[r]):
            raise AssertionError("a zero-mode row kept a conductive part")  # pragma: no cover
        if not np.any(Cr[r]):
            raise CircuitError("the circuit equations are singular for every frequency: "
                               f"{zero_modes[constraints.index(r)].describe()} with nothing to store it")
        Gr[r] = Cr[r]
        Cr[r] = 0.0
        row_dyn[r] = False
    if constraints:
        move(np.isin(c_r, constraints))
    # islands of floating potential: every conductive stamp sees only voltage differences inside them (they
    # are tied to the rest through capacitors and current sources): G·1_S = 0, column S := its C part / s
    col_constraints: list[int] = []
    for si, isl in enumerate(col_islands):
        if si not in col_island_rep:
            continue
        c = col_island_rep[si]
        if np.any(Gr[:, c]) or not np.any(Cr[:, c]):
            continue  # already divided out with a cut-set row, or floating for every s (caught later)
        inside = {x for k in isl for x in members[reps[k]]}
        zero_modes.append(ZeroMode("potential", sorted(node_of(i) for i in inside), []))
        Gr[:, c] = Cr[:, c]
        Cr[:, c] = 0.0
        col_dyn[c] = False
        col_constraints.append(c)
    if col_constraints:
        move(np.isin(c_c, col_constraints))
    # C vanishes outside the marked block (exact by construction)
    if np.any(Cr[~row_dyn, :]) or np.any(Cr[:, ~col_dyn]):
        raise AssertionError("structural split left capacitance outside the dynamic block")  # pragma: no cover
    labels = [""] * n
    for c, k in new_node.items():
        labels[k] = f"v({node_names[c]})"
    for br, nb in new_branch.items():
        labels[nb] = system.unknowns[br]
    topo.labels = labels
    topo.col_constraints = col_constraints
    topo.row_dyn, topo.col_dyn = row_dyn, col_dyn
    topo.g_terms = (g_st, g_r * n + g_c, g_m)
    topo.c_terms = (c_st, c_r * n + c_c, c_m)
    return topo
