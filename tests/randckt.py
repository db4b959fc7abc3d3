"""Random circuits and an exact, independent reference for their natural frequencies.

The generator draws circuits from a seeded ``numpy`` generator (reproducible by seed) in groups:
``generic``, ``stiff`` (element values over 1e-15…1e6), ``smallc`` (a few ohms of negative resistance
across a fraction of a picofarad beside millihenries), ``near_axis`` (a tank whose negative resistance
almost cancels its loss), ``near_origin`` (very slow RC/RL time constants beside fast ones) and ``zero``
(floating capacitor islands, inductor loops, inductors across zeroed sources), plus ``line`` (a lumped core
with one or two lossless lines, :func:`generate_line`). Every value is an exact binary fraction (8-bit
mantissa), so the references can work in exact rational arithmetic.

The lumped reference (:func:`exact_reference`) is independent of stabkit's numerics *and* of its MNA code:
it stamps its own ``G`` and ``C`` from the element rows as python-flint ``fmpq`` matrices, eliminates the
algebraic part exactly (:func:`reduce_algebraic`) and interpolates ``det(G + s·C)`` from exact integer
determinants (:func:`det_polynomial`). Degree, multiplicity of the root at ``s = 0`` and the number of
right-half-plane roots are exact (certified root enclosures from flint's ``complex_roots``). Zero roots are
*structural* when they survive a random change of every element value (they are then a property of the
graph); any other root on the jω axis makes the truth ``marginal``.

The line reference (:func:`line_reference`) writes the characteristic function as an exact polynomial in
``s`` and ``z_k = e^{−sτ_k}`` (:func:`line_polynomial`), bounds the right-half-plane roots a priori
(:func:`_rhp_radius`) and counts them with the argument principle in ball arithmetic (:func:`_arg_change`).
"""

from __future__ import annotations

import warnings

import numpy as np

GROUPS = ("generic", "stiff", "smallc", "near_axis", "near_origin", "zero")
#: circuits with lossless lines (judged by the NDF against :func:`line_reference`)
LINE_GROUP = "line"

DECADES = {
    "generic": {"R": (0.0, 4.0), "C": (-13.0, -9.0), "L": (-10.0, -6.0), "gm": (-3.0, 0.0), "gain": (-1.0, 1.0)},
    "stiff": {"R": (-2.0, 6.0), "C": (-15.0, -6.0), "L": (-12.0, -3.0), "gm": (-5.0, 1.0), "gain": (-2.0, 2.0)},
}


def binary_value(x: float, rng: np.random.Generator | None = None) -> float:
    """``x`` rounded to an 8-bit mantissa (an exact binary fraction)."""
    e = int(np.floor(np.log2(abs(x)))) - 7
    m = int(round(abs(x) / 2.0 ** e))
    return float(np.sign(x) * m * 2.0 ** e)


def generate(seed: int, group: str) -> list[tuple]:
    """Element rows ``(kind, name, nodes, value, refs)`` of one random circuit (see the module doc)."""
    if group == "line":
        return generate_line(seed)
    rng = np.random.default_rng(seed)
    dec = DECADES["stiff" if group == "stiff" else "generic"]
    rows: list[tuple] = []
    count = [0]

    def name(prefix):
        count[0] += 1
        return f"{prefix}{count[0]}"

    def value(kind):
        lo, hi = dec[kind]
        return binary_value(10.0 ** rng.uniform(lo, hi))

    n_nodes = int(rng.integers(3, 13)) if rng.random() < 0.75 else int(rng.integers(13, 40))
    nodes = ["0"] + [f"n{i}" for i in range(1, n_nodes + 1)]
    senses = []

    def passive(a, b, kinds="RRLC"):
        kind = kinds[int(rng.integers(len(kinds)))]
        rows.append((kind, name(kind), (a, b), value(kind), ()))

    for i in range(1, n_nodes + 1):
        j = int(rng.integers(0, i))
        if rng.random() < 0.15:  # a 0 V sense source in this branch (F/H ammeter)
            mid = f"s{i}"
            vname = name("V")
            rows.append(("V", vname, (nodes[i], mid), 0.0, ()))
            passive(mid, nodes[j], "RL")
            senses.append(vname)
        else:
            passive(nodes[i], nodes[j])
    for _ in range(int(rng.integers(0, 2 + n_nodes // 3))):
        a, b = rng.choice(len(nodes), 2, replace=False)
        passive(nodes[a], nodes[b])

    def pick2():
        a, b = rng.choice(len(nodes), 2, replace=False)
        return nodes[a], nodes[b]

    for _ in range(int(rng.integers(1, 4))):
        kind = "GGGERFH"[int(rng.integers(7 if senses else 5))]
        sign = -1.0 if rng.random() < 0.5 else 1.0
        if kind == "G":
            (a, b), (cp, cm) = pick2(), pick2()
            rows.append(("G", name("G"), (a, b, cp, cm), sign * value("gm"), ()))
        elif kind == "E":
            cp, cm = pick2()
            out = name("e")
            rows.append(("E", name("E"), (out, "0", cp, cm), sign * value("gain"), ()))
            rows.append(("R", name("R"), (out, nodes[int(rng.integers(1, len(nodes)))]), value("R"), ()))
        elif kind == "R":
            a, b = pick2()
            rows.append(("R", name("R"), (a, b), -value("R"), ()))
        elif kind == "F":
            a, b = pick2()
            rows.append(("F", name("F"), (a, b), sign * value("gain"), (senses[int(rng.integers(len(senses)))],)))
        else:
            out = name("h")
            rows.append(("H", name("H"), (out, "0"), sign * value("R"), (senses[int(rng.integers(len(senses)))],)))
            rows.append(("R", name("R"), (out, nodes[int(rng.integers(1, len(nodes)))]), value("R"), ()))

    a, b = nodes[int(rng.integers(1, len(nodes)))], "0"
    if group == "smallc":
        # a few ohms of negative resistance across a fraction of a picofarad, beside millihenries
        x = f"x{count[0]}"
        rows.append(("C", name("C"), (x, "0"), binary_value(10 ** rng.uniform(-13.5, -12)), ()))
        rows.append(("R", name("R"), (x, "0"), -binary_value(10 ** rng.uniform(0, 1.3)), ()))
        rows.append(("L", name("L"), (x, a), binary_value(10 ** rng.uniform(-4, -2)), ()))
        rows.append(("R", name("R"), (x, a), binary_value(10 ** rng.uniform(1, 4)), ()))
    elif group == "near_axis":
        # tank L ∥ C ∥ R ∥ −R(1 + δ): a pair at Re/|s| ~ δ·(…) on either side of the axis
        x = f"x{count[0]}"
        r = binary_value(10 ** rng.uniform(1, 4))
        delta = (1 if rng.random() < 0.5 else -1) * 2.0 ** -int(rng.integers(6, 20))
        rows.append(("L", name("L"), (x, "0"), value("L"), ()))
        rows.append(("C", name("C"), (x, "0"), value("C"), ()))
        rows.append(("R", name("R"), (x, "0"), r, ()))
        rows.append(("R", name("R"), (x, "0"), -r * (1 + delta), ()))
        rows.append(("R", name("R"), (x, a), binary_value(10 ** rng.uniform(5, 7)), ()))
    elif group == "near_origin":
        x = f"x{count[0]}"
        rows.append(("R", name("R"), (x, a), binary_value(10 ** rng.uniform(4, 6)), ()))
        rows.append(("C", name("C"), (x, "0"), binary_value(10 ** rng.uniform(-7, -5)), ()))
        rows.append(("L", name("L"), (x, "0"), binary_value(10 ** rng.uniform(-1, 0)), ()))
    elif group == "zero":
        # a floating capacitor island, an inductor loop, an inductor across a zeroed source
        x, y = f"x{count[0]}", f"y{count[0]}"
        rows.append(("C", name("C"), (x, a), value("C"), ()))
        rows.append(("C", name("C"), (x, "0"), value("C"), ()))
        if rng.random() < 0.5:
            rows.append(("R", name("R"), (x, y), value("R"), ()))
            rows.append(("C", name("C"), (y, "0"), value("C"), ()))
        kind = int(rng.integers(3))
        if kind == 0:
            b2 = nodes[int(rng.integers(0, len(nodes)))]
            if b2 != a:
                rows.append(("L", name("L"), (a, b2), value("L"), ()))
                rows.append(("L", name("L"), (a, b2), value("L"), ()))
        elif kind == 1:
            rows.append(("V", name("V"), (a, "0"), 1.0, ()))
            rows.append(("L", name("L"), (a, "0"), value("L"), ()))
        else:
            rows.append(("I", name("I"), (a, "0"), 1.0, ()))
    return rows


#: element values of the line group: every time constant of the lumped part within ~1e8…1e11 rad/s, so the
#: lines' delays (20…200 ps) are comparable to them (and the reference's contour stays short)
LINE_DECADES = {"R": (1.3, 2.7), "C": (-12.0, -10.0), "L": (-8.0, -7.0), "gm": (-3.0, -1.0), "gain": (-1.0, 1.0),
                "Z0": (1.4, 2.2), "td": (-10.7, -9.7)}


def generate_line(seed: int) -> list[tuple]:
    """A random lumped core with one or two lossless lines (group ``line``).

    Core: 3–7 nodes on a random tree of R/L branches (0 V sense sources in some, for F/H), extra R/C
    branches, 1–3 active elements (VCCS, VCVS, CCCS, CCVS, negative R) and, in half the draws, a tank
    ``L ∥ C ∥ −R`` at a core node (a lossless line with a negative-resistance tank is where a 230 MHz RHP pair
    was once lost). Each line runs between two end nodes ``ta``/``tb`` (grounded returns); each end is tied
    through a resistor ``Z0/3 … 3·Z0`` to a core node that has a capacitor to ground. At high frequency every
    line end therefore sees a positive resistance, ``|Γ| ≤ 1/2``: the characteristic function is of neutral
    type with a strictly stable difference part (``Σ|Γ_aΓ_b|`` products below 1), which is what the
    reference's bound on the RHP roots needs."""
    rng = np.random.default_rng(seed)
    dec = LINE_DECADES
    rows: list[tuple] = []
    count = [0]

    def name(prefix):
        count[0] += 1
        return f"{prefix}{count[0]}"

    def value(kind):
        lo, hi = dec[kind]
        return binary_value(10.0 ** rng.uniform(lo, hi))

    n_nodes = int(rng.integers(3, 8))
    nodes = ["0"] + [f"n{i}" for i in range(1, n_nodes + 1)]
    senses = []

    def passive(a, b, kinds):
        kind = kinds[int(rng.integers(len(kinds)))]
        rows.append((kind, name(kind), (a, b), value(kind), ()))

    for i in range(1, n_nodes + 1):
        j = int(rng.integers(0, i))
        if rng.random() < 0.2:
            mid = f"s{i}"
            vname = name("V")
            rows.append(("V", vname, (nodes[i], mid), 0.0, ()))
            passive(mid, nodes[j], "RL")
            senses.append(vname)
        else:
            passive(nodes[i], nodes[j], "RRL")
    for _ in range(int(rng.integers(0, 1 + n_nodes // 2))):
        a, b = rng.choice(len(nodes), 2, replace=False)
        passive(nodes[a], nodes[b], "RRC")

    def pick2():
        a, b = rng.choice(len(nodes), 2, replace=False)
        return nodes[a], nodes[b]

    for _ in range(int(rng.integers(1, 4))):
        kind = "GGERFH"[int(rng.integers(6 if senses else 4))]
        sign = -1.0 if rng.random() < 0.5 else 1.0
        if kind == "G":
            (a, b), (cp, cm) = pick2(), pick2()
            rows.append(("G", name("G"), (a, b, cp, cm), sign * value("gm"), ()))
        elif kind == "E":
            cp, cm = pick2()
            out = name("e")
            rows.append(("E", name("E"), (out, "0", cp, cm), sign * value("gain"), ()))
            rows.append(("R", name("R"), (out, nodes[int(rng.integers(1, len(nodes)))]), value("R"), ()))
        elif kind == "R":
            a, b = pick2()
            rows.append(("R", name("R"), (a, b), -value("R"), ()))
        elif kind == "F":
            a, b = pick2()
            rows.append(("F", name("F"), (a, b), sign * value("gain"), (senses[int(rng.integers(len(senses)))],)))
        else:
            out = name("h")
            rows.append(("H", name("H"), (out, "0"), sign * value("R"), (senses[int(rng.integers(len(senses)))],)))
            rows.append(("R", name("R"), (out, nodes[int(rng.integers(1, len(nodes)))]), value("R"), ()))
    if rng.random() < 0.5:
        x = nodes[int(rng.integers(1, len(nodes)))]
        r = value("R")
        rows.append(("L", name("L"), (x, "0"), value("L"), ()))
        rows.append(("C", name("C"), (x, "0"), value("C"), ()))
        rows.append(("R", name("R"), (x, "0"), -binary_value(r * rng.uniform(0.5, 1.5)), ()))
    for _ in range(int(rng.integers(1, 3))):
        xa, xb = (nodes[int(k)] for k in rng.choice(np.arange(1, len(nodes)), 2, replace=False))
        ta, tb = name("ta"), name("tb")
        z0 = value("Z0")
        for t, x in ((ta, xa), (tb, xb)):
            rows.append(("C", name("C"), (x, "0"), value("C"), ()))
            # the termination seen at high frequency: |Γ| = |R − Z0|/(R + Z0) ≤ 1/2
            rows.append(("R", name("R"), (t, x), binary_value(z0 * 3.0 ** rng.uniform(-1, 1)), ()))
        rows.append(("T", name("T"), (ta, "0", tb, "0"), (z0, value("td")), ()))
    return rows


def build(rows, title: str = "random"):
    """A :class:`stabkit.Circuit` from element rows."""
    from stabkit.circuit.graph import Circuit
    from stabkit.errors import StabkitWarning

    c = Circuit(title)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        for kind, nm, nodes, val, refs in rows:
            if kind == "R":
                c.add_resistor(nm, *nodes, val)
            elif kind == "L":
                c.add_inductor(nm, *nodes, val)
            elif kind == "C":
                c.add_capacitor(nm, *nodes, val)
            elif kind == "V":
                c.add_vsource(nm, *nodes, val)
            elif kind == "I":
                c.add_isource(nm, *nodes, val)
            elif kind == "G":
                c.add_vccs(nm, *nodes, val)
            elif kind == "E":
                c.add_vcvs(nm, *nodes, val)
            elif kind == "F":
                c.add_cccs(nm, *nodes, refs[0], val)
            elif kind == "H":
                c.add_ccvs(nm, *nodes, refs[0], val)
            elif kind == "T":
                c.add_tline(nm, *nodes, z0=val[0], td=val[1])
            else:  # pragma: no cover
                raise ValueError(kind)
    return c


# ---------------------------------------------------------------------------------------------- reference
def exact_matrices(rows, lines: list | None = None):
    """Exact MNA ``(G, C)`` (python-flint ``fmpq_mat``) stamped here from the rows, independently of
    :mod:`stabkit.analysis.mna`. Independent sources are off (V a short with its branch current, I open).

    A lossless line gets two branch currents (into its two ``+`` terminals) and its KCL incidences; its two
    equations are left empty here and described in ``lines`` (a list, appended to) as ``(row1, row2, a+,
    a−, b+, b−, Z0, τ)`` with ``None`` for ground (see :func:`line_matrix`)."""
    import flint

    q = flint.fmpq
    node_ids: dict[str, int] = {}
    for kind, _, nodes, _, _ in rows:
        for nd in nodes[:4] if kind in "GET" else nodes[:2]:
            if nd != "0" and nd not in node_ids:
                node_ids[nd] = len(node_ids)
    branch: dict[str, int] = {}
    for kind, nm, _, _, _ in rows:
        if kind in "VLEH":
            branch[nm] = len(node_ids) + len(branch)
        elif kind == "T":
            branch[nm] = len(node_ids) + len(branch)
            branch[nm + "#2"] = len(node_ids) + len(branch)
    n = len(node_ids) + len(branch)
    G: dict = {}
    C: dict = {}

    def ix(nd):
        return None if nd == "0" else node_ids[nd]

    def add(M, i, j, v):
        if i is not None and j is not None:
            M[(i, j)] = M.get((i, j), 0) + v

    def exact(v):
        f = float(v)
        num, den = f.as_integer_ratio()
        return q(num, den)

    for kind, nm, nodes, val, refs in rows:
        p, m = ix(nodes[0]), ix(nodes[1])
        if kind in "RC":
            y = 1 / exact(val) if kind == "R" else exact(val)
            M = G if kind == "R" else C
            add(M, p, p, y), add(M, m, m, y), add(M, p, m, -y), add(M, m, p, -y)
        elif kind in "VLEH":
            br = branch[nm]
            add(G, p, br, q(1)), add(G, m, br, q(-1)), add(G, br, p, q(1)), add(G, br, m, q(-1))
            if kind == "L":
                add(C, br, br, -exact(val))
            elif kind == "E":
                cp, cm = ix(nodes[2]), ix(nodes[3])
                add(G, br, cp, -exact(val)), add(G, br, cm, exact(val))
            elif kind == "H":
                add(G, br, branch[refs[0]], -exact(val))
        elif kind == "G":
            cp, cm = ix(nodes[2]), ix(nodes[3])
            g = exact(val)
            add(G, p, cp, g), add(G, p, cm, -g), add(G, m, cp, -g), add(G, m, cm, g)
        elif kind == "F":
            k = branch[refs[0]]
            add(G, p, k, exact(val)), add(G, m, k, -exact(val))
        elif kind == "T":
            b1, b2 = branch[nm], branch[nm + "#2"]
            bp, bm = ix(nodes[2]), ix(nodes[3])
            add(G, p, b1, q(1)), add(G, m, b1, q(-1)), add(G, bp, b2, q(1)), add(G, bm, b2, q(-1))
            if lines is None:
                raise ValueError("a transmission line needs exact_matrices(rows, lines=[])")
            lines.append((b1, b2, p, m, bp, bm, exact(val[0]), exact(val[1])))
    Gm, Cm = flint.fmpq_mat(n, n), flint.fmpq_mat(n, n)
    for M, D in ((Gm, G), (Cm, C)):
        for (i, j), v in D.items():
            if v != 0:
                M[i, j] = v
    return Gm, Cm


def reduce_algebraic(G, C):
    """Exact block elimination of the algebraic part: while some row (or column) of ``C`` is zero, expand on
    a nonzero ``G`` entry of it (Gaussian elimination with that constant pivot; the pencil stays linear in
    ``s`` and ``det`` changes by the constant pivot only). Returns smaller ``fmpq_mat`` ``(G, C)`` in which
    every row and column has a ``C`` entry. Pivots: fewest nonzeros first (little fill, small numbers)."""
    import flint

    n = G.nrows()
    zero = flint.fmpq(0)
    rows: list[dict] = []   # rows[i][j] = [g, c]
    cols: list[set] = [set() for _ in range(n)]
    for i in range(n):
        row = {}
        for j in range(n):
            g, c = G[i, j], C[i, j]
            if g != 0 or c != 0:
                row[j] = [g, c]
                cols[j].add(i)
        rows.append(row)
    row_c = [sum(1 for g, c in rows[i].values() if c != 0) for i in range(n)]
    col_c = [sum(1 for i in cols[j] if rows[i][j][1] != 0) for j in range(n)]
    alive_r, alive_c = set(range(n)), set(range(n))
    while True:
        best = None
        for i in alive_r:
            if row_c[i]:
                continue
            for j, (g, _) in rows[i].items():
                if g != 0:
                    cost = (len(rows[i]) - 1) * (len(cols[j]) - 1)
                    if best is None or cost < best[0]:
                        best = (cost, i, j)
        if best is None:
            for j in alive_c:
                if col_c[j]:
                    continue
                for i in cols[j]:
                    if rows[i][j][0] != 0:
                        cost = (len(rows[i]) - 1) * (len(cols[j]) - 1)
                        if best is None or cost < best[0]:
                            best = (cost, i, j)
        if best is None:
            break
        _, i, j = best
        piv = rows[i][j][0]
        prow = [(k, v[0], v[1]) for k, v in rows[i].items() if k != j]
        for r in list(cols[j]):
            if r == i:
                continue
            fg, fc = rows[r].pop(j)
            if fc != 0:
                row_c[r] -= 1
            fg, fc = fg / piv, fc / piv
            for k, g, c in prow:  # row r -= (fg + s·fc) · (g + s·c); c·fc == 0 by the pivot choice
                e = rows[r].get(k)
                if e is None:
                    e = rows[r][k] = [zero, zero]
                    cols[k].add(r)
                had_c = e[1] != 0
                e[0] = e[0] - fg * g
                e[1] = e[1] - (fg * c + fc * g)
                has_c = e[1] != 0
                if had_c != has_c:
                    row_c[r] += 1 if has_c else -1
                    col_c[k] += 1 if has_c else -1
                if e[0] == 0 and not has_c:
                    del rows[r][k]
                    cols[k].discard(r)
        for k, _, c in prow:
            cols[k].discard(i)
            if c != 0:
                col_c[k] -= 1
        cols[j] = set()
        rows[i] = {}
        alive_r.discard(i)
        alive_c.discard(j)
    ri, ci = sorted(alive_r), sorted(alive_c)
    m = len(ri)
    pos = {j: k for k, j in enumerate(ci)}
    Gr = flint.fmpq_mat(m, m)
    Cr = flint.fmpq_mat(m, m)
    for a, i in enumerate(ri):
        for j, (g, c) in rows[i].items():
            Gr[a, pos[j]] = g
            Cr[a, pos[j]] = c
    return Gr, Cr


def _integer_rows(G, C):
    """``(G, C)`` with every row multiplied by the common denominator of its entries (``fmpz_mat``)."""
    import flint

    n = G.nrows()
    Gi, Ci = flint.fmpz_mat(n, n), flint.fmpz_mat(n, n)
    for i in range(n):
        den = flint.fmpz(1)
        for j in range(n):
            den = den.lcm(G[i, j].q).lcm(C[i, j].q)
        for j in range(n):
            Gi[i, j] = (G[i, j] * den).p
            Ci[i, j] = (C[i, j] * den).p
    return Gi, Ci


def det_polynomial(G, C):
    """``det(G + s·C)`` as an exact ``fmpq_poly`` (up to a nonzero constant factor): the algebraic part is
    eliminated exactly (:func:`reduce_algebraic`), the rows are scaled to integers, and the determinant —
    of degree at most the remaining size ``k`` — is interpolated from its exact values at ``s = 0..k``."""
    import flint

    G, C = reduce_algebraic(G, C)
    k = G.nrows()
    if k == 0:
        return flint.fmpq_poly([1])
    Gi, Ci = _integer_rows(G, C)
    xs = list(range(k + 1))
    coef = [flint.fmpq((Gi + Ci * x).det()) for x in xs]
    for level in range(1, k + 1):  # Newton divided differences
        for i in range(k, level - 1, -1):
            coef[i] = (coef[i] - coef[i - 1]) / (xs[i] - xs[i - level])
    out = flint.fmpq_poly([coef[k]])
    for i in range(k - 1, -1, -1):
        out = out * flint.fmpq_poly([-xs[i], 1]) + coef[i]
    return out


def _perturbed(rows, rng):
    out = []
    for kind, nm, nodes, val, refs in rows:
        if kind in "RLCGEFH" and val != 0:
            val = binary_value(val * (1.0 + 0.37 * rng.uniform(-1, 1)))
        elif kind == "T":
            val = tuple(binary_value(v * (1.0 + 0.37 * rng.uniform(-1, 1))) for v in val)
        out.append((kind, nm, nodes, val, refs))
    return out


def root_census(poly):
    """``(degree, zero multiplicity, rhp, on_axis)`` of an exact polynomial (certified enclosures)."""
    import flint

    coeffs = poly.coeffs()
    z = 0
    while z < len(coeffs) and coeffs[z] == 0:
        z += 1
    rest = flint.fmpq_poly(coeffs[z:])
    rhp = axis = 0
    if rest.degree() > 0:
        for r, mult in rest.numer().complex_roots():
            if r.real > 0:
                rhp += mult
            elif not (r.real < 0):
                axis += mult
    return poly.degree(), z, rhp, axis


def exact_reference(rows, seed: int = 0) -> dict:
    """Truth for a lumped circuit: ``{"verdict", "rhp", "zero_modes", "degree"}``.

    ``zero_modes`` counts structural zero roots (present for perturbed element values too); the verdict is
    ``"unstable"`` with any RHP root, ``"uncertain"`` (marginal) with a non-structural root on the jω axis,
    else ``"stable"``. ``"singular"`` when ``det(G + sC) ≡ 0``."""
    G, C = exact_matrices(rows)
    poly = det_polynomial(G, C)
    if poly.is_zero():
        return {"verdict": "singular", "rhp": 0, "zero_modes": 0, "degree": -1}
    degree, z, rhp, axis = root_census(poly)
    structural = 0
    if z:
        rng = np.random.default_rng(seed + 7919)
        Gp, Cp = exact_matrices(_perturbed(rows, rng))
        pp = det_polynomial(Gp, Cp)
        structural = min(z, root_census(pp)[1]) if not pp.is_zero() else z
    marginal = axis + (z - structural)
    verdict = "unstable" if rhp else ("uncertain" if marginal else "stable")
    return {"verdict": verdict, "rhp": rhp, "zero_modes": structural, "degree": degree - z}


# ---------------------------------------------------------------------------------------------- lines
def line_matrix(G, C, lines, s, zs):
    """``M̃(s, z)``: ``G + s·C`` with each line's two equations multiplied by ``2·e^{−sτ}`` and written in
    ``z = e^{−sτ}`` (one per line): ``cosh sτ → (1 + z²)/(2z)``, ``sinh sτ → (1 − z²)/(2z)``. With ``I1``,
    ``I2`` the currents into the line at its two ``+`` terminals (ABCD form)::

        2z·V1 − (1 + z²)·V2 + Z0·(1 − z²)·I2 = 0
        2z·I1 − (1 − z²)/Z0·V2 + (1 + z²)·I2 = 0

    ``det M̃`` is a polynomial in ``s`` and the ``z``'s; its zeros at ``z_k = e^{−sτ_k}`` are the natural
    frequencies (``z ≠ 0``)."""
    import flint

    M = G + C * flint.fmpq(s)
    for (b1, b2, ap, am, bp, bm, z0, _), z in zip(lines, zs):
        z = flint.fmpq(z)
        c, sh = 1 + z * z, 1 - z * z
        for col, sign in ((ap, 1), (am, -1)):
            if col is not None:
                M[b1, col] += 2 * z * sign
        for col, sign in ((bp, 1), (bm, -1)):
            if col is not None:
                M[b1, col] -= c * sign
                M[b2, col] -= sh / z0 * sign
        M[b1, b2] += z0 * sh
        M[b2, b1] += 2 * z
        M[b2, b2] += c
    return M


def _interpolate(xs, ys):
    """Monomial coefficients (``fmpq``) of the polynomial through ``(xs, ys)`` (Newton divided differences)."""
    import flint

    k = len(xs) - 1
    coef = [flint.fmpq(y) for y in ys]
    for level in range(1, k + 1):
        for i in range(k, level - 1, -1):
            coef[i] = (coef[i] - coef[i - 1]) / (xs[i] - xs[i - level])
    out = flint.fmpq_poly([coef[k]])
    for i in range(k - 1, -1, -1):
        out = out * flint.fmpq_poly([-xs[i], 1]) + coef[i]
    c = out.coeffs()
    return c + [flint.fmpq(0)] * (k + 1 - len(c))


def line_polynomial(rows):
    """``det M̃(s, z_1, …, z_m)`` exactly, as a dict ``{(j_1, …, j_m): [c_0, c_1, …]}`` of polynomials in
    ``s`` (coefficients ``fmpq``) per monomial ``Π z_k^{j_k}``, with the common lowest powers of the ``z``'s
    divided out; and the delays ``τ_k``. Interpolated from exact determinants on the grid ``s = 0…d``,
    ``z_k = 0…4`` (each line's two equations have degree 2 in its ``z``)."""
    import itertools

    import flint

    lines: list = []
    G, C = exact_matrices(rows, lines)
    n = G.nrows()
    m = len(lines)
    d = sum(1 for i in range(n) if any(C[i, j] != 0 for j in range(n)))  # deg in s ≤ rows with a C part
    s_pts = list(range(d + 1))
    z_pts = list(range(5))
    values = {}
    for zs in itertools.product(z_pts, repeat=m):
        for sv in s_pts:
            values[(sv, zs)] = line_matrix(G, C, lines, sv, zs).det()
    # interpolate in s for every z point, then in each z
    table = {zs: _interpolate(s_pts, [values[(sv, zs)] for sv in s_pts]) for zs in itertools.product(z_pts, repeat=m)}
    for axis in range(m):
        new = {}
        for key in table:
            if key[axis] != 0:
                continue
            fiber = [table[key[:axis] + (zv,) + key[axis + 1:]] for zv in z_pts]
            for k in range(d + 1):
                cz = _interpolate(z_pts, [f[k] for f in fiber])
                for j, c in enumerate(cz):
                    new.setdefault(key[:axis] + (j,) + key[axis + 1:], [flint.fmpq(0)] * (d + 1))[k] = c
        table = new
    poly = {key: c for key, c in table.items() if any(x != 0 for x in c)}
    if poly:
        low = tuple(min(key[k] for key in poly) for k in range(m))
        poly = {tuple(a - b for a, b in zip(key, low)): c for key, c in poly.items()}
    return poly, [ln[7] for ln in lines]


def _rhp_radius(poly):
    """Radius beyond which no root lies in ``Re s ≥ 0`` (``None`` when the bound does not exist).

    In ``Re s ≥ 0`` every ``|z_k| ≤ 1``, so a root needs ``|p_0(s)| ≤ Σ_{j≠0} |p_j(s)|`` (``p_0`` the
    ``z``-free polynomial). With ``d = deg p_0`` and ``δ = |a_d| − Σ_{j≠0} |c_{j,d}| > 0`` (the strictly stable
    difference part; every other ``p_j`` of degree ≤ ``d``) this fails for ``|s| > R = 2·max_i
    (e_i/δ)^{1/(d−i)}``, ``e_i = |a_i| + Σ_{j≠0} |c_{j,i}|`` (Fujiwara's bound on the roots of
    ``δ·r^d − Σ e_i r^i``)."""
    zero = tuple(0 for _ in next(iter(poly)))
    if zero not in poly:
        return None
    p0 = poly[zero]
    d = max((i for i, c in enumerate(p0) if c != 0), default=-1)
    if d < 0:
        return None
    others = [c for key, c in poly.items() if key != zero]
    if any(c[i] != 0 for c in others for i in range(d + 1, len(c))):
        return None
    delta = abs(p0[d]) - sum((abs(c[d]) for c in others), 0)
    if delta <= 0:
        return None
    R = 0.0
    for i in range(d):
        e = abs(p0[i]) + sum((abs(c[i]) for c in others), 0)
        if e != 0:
            R = max(R, 2.0 * (float(e / delta) * (1 + 1e-12)) ** (1.0 / (d - i)))
    return max(R, 1.0)


class _LineFunction:
    """``f(s) = Σ_j p_j(s)·Π_k e^{−s·j_k·τ_k}`` evaluated on balls (arb, ``prec`` bits)."""

    def __init__(self, poly, taus, prec: int = 160):
        import flint

        self.flint = flint
        flint.ctx.prec = prec
        self.terms = [(key, flint.acb_poly([flint.acb(flint.arb(c)) for c in coeffs])) for key, coeffs in poly.items()]
        self.taus = [flint.arb(t) for t in taus]
        self.maxpow = [max(key[k] for key in poly) for k in range(len(taus))]

    def __call__(self, s):
        flint = self.flint
        z = []
        for t, mp in zip(self.taus, self.maxpow):
            e = (-s * t).exp()
            pw = [flint.acb(1)]
            for _ in range(mp):
                pw.append(pw[-1] * e)
            z.append(pw)
        total = flint.acb(0)
        for key, p in self.terms:
            term = p(s)
            for k, j in enumerate(key):
                if j:
                    term = term * z[k][j]
            total += term
        return total

    def ball(self, a: complex, b: complex):
        """A ball containing ``f`` on the segment from ``a`` to ``b``."""
        flint = self.flint
        mid = 0.5 * (a + b)
        rad = 0.5 * abs(b - a) * (1 + 1e-9) + 1e-300
        return self(flint.acb(flint.arb(mid.real, rad), flint.arb(mid.imag, rad)))


def _arg_change(f, path, max_depth: int = 60):
    """Certified change of ``arg f`` along a polyline ``path`` (complex points): each piece is bisected until a
    ball containing ``f`` on it excludes 0 (then the change over the piece is the wrapped difference of the
    end values). Returns ``(change, ok)``; ``ok`` is False when some piece could not be cleared (a zero of
    ``f`` on or within rounding of the path)."""
    import cmath

    total = 0.0
    stack = [(complex(path[i]), complex(path[i + 1]), 0) for i in range(len(path) - 1)][::-1]
    cache = {}

    def value(s):
        if s not in cache:
            v = f(f.flint.acb(s.real, s.imag))
            cache[s] = complex(float(v.real.mid()), float(v.imag.mid())) if not v.contains(0) else None
        return cache[s]

    while stack:
        a, b, depth = stack.pop()
        va, vb = value(a), value(b)
        if va is not None and vb is not None and not f.ball(a, b).contains(0):
            d = cmath.phase(vb / va)
            total += d
            continue
        if depth >= max_depth:
            return total, False
        m = 0.5 * (a + b)
        stack.append((m, b, depth + 1))
        stack.append((a, m, depth + 1))
    return total, True


def line_reference(rows, seed: int = 0) -> dict:
    """Truth for a circuit with lossless lines: ``{"verdict", "rhp", "radius", "zero_modes"}``.

    The characteristic function ``f(s) = det M̃(s, e^{−sτ_1}, …)`` (:func:`line_polynomial`) has no root with
    ``Re s ≥ 0`` beyond ``R`` (:func:`_rhp_radius`, a certificate the generator's terminations guarantee).
    The right-half-plane roots are counted by the argument principle on the boundary of the half-disc
    ``|s| ≤ R`` indented around ``s = 0`` with radius ``10⁻³⁰·R`` (by conjugate symmetry only the upper half is
    walked), every piece certified with ball arithmetic (:func:`_arg_change`). A root at ``s = 0`` is
    structural when a random change of every element value keeps it (then not counted, as for lumped
    circuits); a root on the jω axis (a piece that cannot be cleared) makes the truth ``marginal``."""
    import math

    poly, taus = line_polynomial(rows)
    if not poly:
        return {"verdict": "singular", "rhp": 0, "radius": None, "zero_modes": 0}
    R = _rhp_radius(poly)
    if R is None:
        raise AssertionError("no bound on the right-half-plane roots: a line end without resistive termination")
    f = _LineFunction(poly, taus)
    zero_mult = _zero_multiplicity(poly, taus)
    delta = 1e-30 * R
    n_arc = 64
    n_axis = int(64 + 16 * R * max(float(t) for t in taus) * len(taus))
    w_lin = R / n_axis
    arc = [R * complex(math.cos(t), math.sin(t)) for t in np.linspace(0.0, math.pi / 2, n_arc + 1)]
    axis = [1j * w for w in np.r_[np.linspace(R, w_lin, n_axis), np.geomspace(w_lin, delta, 110)[1:]]]
    small = [delta * complex(math.cos(t), math.sin(t)) for t in np.linspace(math.pi / 2, 0.0, 9)]
    total, ok = _arg_change(f, arc + axis[1:] + small[1:])
    on_axis = not ok
    shift = 0.0
    while not ok:  # a root on the jω axis: count the roots right of Re s = shift instead
        shift = 1e-9 * R if shift == 0.0 else 2.0 * shift
        if shift > 1e-6 * R:
            raise AssertionError("cannot clear the contour of roots")
        top = complex(shift, math.sqrt(R * R - shift * shift))
        theta_top = math.atan2(top.imag, top.real)
        arc = [R * complex(math.cos(t), math.sin(t)) for t in np.linspace(0.0, theta_top, n_arc + 1)]
        line = [complex(shift, w) for w in np.linspace(top.imag, 0.0, n_axis + 1)]
        total, ok = _arg_change(f, arc + line[1:])
    rhp = total / math.pi
    count = int(round(rhp))
    if abs(rhp - count) > 1e-6:
        raise AssertionError(f"argument principle gave a non-integer count {rhp}")
    structural = 0
    if zero_mult:
        rng = np.random.default_rng(seed + 7919)
        pp, pt = line_polynomial(_perturbed(rows, rng))
        structural = min(zero_mult, _zero_multiplicity(pp, pt))
    marginal = zero_mult - structural + int(on_axis)
    verdict = "unstable" if count else ("uncertain" if marginal else "stable")
    return {"verdict": verdict, "rhp": count, "radius": R, "zero_modes": structural, "axis": on_axis}


def _zero_multiplicity(poly, taus, order: int = 16) -> int:
    """Multiplicity of the root of ``f`` at ``s = 0`` from its exact Taylor series (``e^{−sT}`` expanded)."""
    import flint

    series = [flint.fmpq(0)] * (order + 1)
    for key, coeffs in poly.items():
        T = sum((flint.fmpq(j) * flint.fmpq(t) for j, t in zip(key, taus)), flint.fmpq(0))
        e = [flint.fmpq(1)]
        for k in range(1, order + 1):
            e.append(e[-1] * (-T) / k)
        for i, c in enumerate(coeffs):
            if c == 0 or i > order:
                continue
            for k in range(order + 1 - i):
                series[i + k] += c * e[k]
    for k, c in enumerate(series):
        if c != 0:
            return k
    return order + 1
