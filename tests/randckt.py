"""Random circuits and an exact, independent reference for their natural frequencies.

The generator draws circuits from a seeded ``numpy`` generator (reproducible by seed) in groups:
``generic``, ``stiff`` (element values over 1e-15…1e6), ``smallc`` (a few ohms of negative resistance
across a fraction of a picofarad beside millihenries), ``near_axis`` (a tank whose negative resistance
almost cancels its loss), ``near_origin`` (very slow RC/RL time constants beside fast ones) and ``zero``
(floating capacitor islands, inductor loops, inductors across zeroed sources). Every value is an exact
binary fraction (8-bit mantissa), so the reference can work in exact rational arithmetic.

The reference (:func:`exact_reference`) is independent of stabkit's numerics *and* of its MNA code: it
stamps its own ``G`` and ``C`` from the element rows as python-flint ``fmpq`` matrices and computes
``det(G + s·C)`` exactly (characteristic polynomial of ``(G + σC)⁻¹C`` for a rational ``σ`` where that is
invertible, then ``s ↦ σ − 1/λ`` by exact polynomial algebra). Degree, multiplicity of the root at
``s = 0`` and the number of right-half-plane roots are exact (certified root enclosures from flint's
``complex_roots``). Zero roots are *structural* when they survive a random change of every element value
(they are then a property of the graph); any other root on the jω axis makes the truth ``marginal``.
"""

from __future__ import annotations

import warnings

import numpy as np

GROUPS = ("generic", "stiff", "smallc", "near_axis", "near_origin", "zero")

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
def exact_matrices(rows):
    """Exact MNA ``(G, C)`` (python-flint ``fmpq_mat``) stamped here from the rows, independently of
    :mod:`stabkit.analysis.mna`. Independent sources are off (V a short with its branch current, I open)."""
    import flint

    q = flint.fmpq
    node_ids: dict[str, int] = {}
    for kind, _, nodes, _, _ in rows:
        for nd in nodes[:4] if kind in "GE" else nodes[:2]:
            if nd != "0" and nd not in node_ids:
                node_ids[nd] = len(node_ids)
    branch: dict[str, int] = {}
    for kind, nm, _, _, _ in rows:
        if kind in "VLEH":
            branch[nm] = len(node_ids) + len(branch)
    n = len(node_ids) + len(branch)
    G = [[q(0)] * n for _ in range(n)]
    C = [[q(0)] * n for _ in range(n)]

    def ix(nd):
        return None if nd == "0" else node_ids[nd]

    def add(M, i, j, v):
        if i is not None and j is not None:
            M[i][j] += v

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
                C[br][br] -= exact(val)
            elif kind == "E":
                cp, cm = ix(nodes[2]), ix(nodes[3])
                add(G, br, cp, -exact(val)), add(G, br, cm, exact(val))
            elif kind == "H":
                G[br][branch[refs[0]]] -= exact(val)
        elif kind == "G":
            cp, cm = ix(nodes[2]), ix(nodes[3])
            g = exact(val)
            add(G, p, cp, g), add(G, p, cm, -g), add(G, m, cp, -g), add(G, m, cm, g)
        elif kind == "F":
            k = branch[refs[0]]
            add(G, p, k, exact(val)), add(G, m, k, -exact(val))
    return flint.fmpq_mat(n, n, [x for row in G for x in row]), flint.fmpq_mat(n, n, [x for row in C for x in row])


def det_polynomial(G, C):
    """``det(G + s·C)`` as an exact ``fmpq_poly`` (up to a nonzero constant factor)."""
    import flint

    n = G.nrows()
    if n == 0:
        return flint.fmpq_poly([1])
    for sigma in (0, 1, -1, 3, -5, 7, 1 << 20, -(1 << 30), flint.fmpq(1, 1 << 20)):
        M = G + C * flint.fmpq(sigma)
        if M.det() == 0:
            continue
        A = M.solve(C)  # (G + σC)⁻¹ C
        p = A.charpoly()  # det(λI − A)
        # det(G + sC) ∝ det(I + (s − σ)A) = (−(s−σ))^n · p(−1/(s−σ)) = Σ p_k (σ − s)^{n−k}
        coeffs = p.coeffs() + [flint.fmpq(0)] * (n + 1 - len(p.coeffs()))
        u = flint.fmpq_poly([flint.fmpq(sigma), -1])
        out = flint.fmpq_poly([0])
        power = flint.fmpq_poly([1])
        for k in range(n, -1, -1):  # term p_k u^{n−k}
            out += power * coeffs[k]
            power *= u
        return out
    return flint.fmpq_poly([0])  # singular for every s


def _perturbed(rows, rng):
    out = []
    for kind, nm, nodes, val, refs in rows:
        if kind in "RLCGEFH" and val != 0:
            val = binary_value(val * (1.0 + 0.37 * rng.uniform(-1, 1)))
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
