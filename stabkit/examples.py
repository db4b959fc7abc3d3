"""Small circuits with known answers, built with the Python API (used by tests, benchmarks and docs).

Each function returns a :class:`~stabkit.circuit.graph.Circuit`; values in SI units.
"""

from __future__ import annotations

import warnings

from stabkit.circuit.graph import Circuit
from stabkit.errors import StabkitWarning

__all__ = ["ntype_series_rl", "stype_series_l", "ideal_nic", "hybrid_pi", "two_transistor_amplifier",
           "active_rc_ladder"]


def _negative_resistor(c: Circuit, name: str, a, b, value: float) -> None:
    with warnings.catch_warnings():  # negative on purpose: the device's NDR
        warnings.simplefilter("ignore", StabkitWarning)
        c.add_resistor(name, a, b, value)


def ntype_series_rl(g: float, capacitance: float, resistance: float, inductance: float) -> Circuit:
    """N-type device small-signal model ``−g ∥ C`` (node ``d``) fed through series ``R + L`` to ground.

    Stable iff ``R < 1/g`` and ``L < R·C/g`` (``g > 0`` is the magnitude of the negative conductance).
    Characteristic polynomial ``L·C·s² + (R·C − g·L)·s + (1 − g·R)``.
    """
    c = Circuit("N-type: -g || C with series R + L")
    _negative_resistor(c, "Rneg", "d", 0, -1.0 / g)
    c.add_capacitor("Cj", "d", 0, capacitance)
    c.add_resistor("Rs", "d", "m", resistance)
    c.add_inductor("Ls", "m", 0, inductance)
    return c


def stype_series_l(r: float, inductance: float, resistance: float, capacitance: float) -> Circuit:
    """S-type device small-signal model ``−r`` (a CCVS sensing its own current) in series with ``L``,
    loaded by ``R ∥ C``. Stable iff ``R > r`` and ``L > r·R·C``.
    Characteristic polynomial ``L·R·C·s² + (L − r·R·C)·s + (R − r)``.
    """
    c = Circuit("S-type: -r + L loaded by R || C")
    c.add_vsource("Vsense", 0, "b", 0.0)  # senses the loop current i (ground → b)
    c.add_ccvs("Hneg", "b", "m", "Vsense", -r)  # v(b) − v(m) = −r·i: a resistance of −r in the loop
    c.add_inductor("Ld", "m", "out", inductance)
    c.add_resistor("Rl", "out", 0, resistance)
    c.add_capacitor("Cl", "out", 0, capacitance)
    return c


def ideal_nic(l0: float, l_ext: float, r_source: float = 50.0) -> Circuit:
    """Ideal current-inversion NIC (VCVS + CCCS) loaded by ``L0``: ``Zin = −s·L0``. Driven through a
    50 Ω source and a series ``L_ext``: the loop ``R + s(L_ext − L0)`` is stable iff ``L_ext > L0``."""
    c = Circuit("ideal NIC realising -L0")
    c.add_resistor("Rs", "src", 0, r_source)
    c.add_inductor("Lext", "src", "in", l_ext)
    c.add_vcvs("Enic", "out", 0, "in", 0, 1.0)  # v(out) = v(in)
    c.add_vsource("Vsense", "out", "load", 0.0)
    c.add_inductor("L0", "load", 0, l0)
    c.add_cccs("Fnic", "in", 0, "Vsense", -1.0)  # the input draws −i(load): Zin = −Z_load
    return c


def hybrid_pi(c: Circuit, name: str, collector: str, base: str, emitter: str, *, gm: float, r_pi: float,
              c_pi: float, c_mu: float, r_b: float, r_o: float, r_e: float = 0.0) -> None:
    """Add a hybrid-π BJT small-signal model (``gm`` as a VCCS, ``rπ``, ``Cπ``, ``Cμ``, ``rb``, ``ro``,
    optional ``re``) between the given nodes; internal nodes are ``<name>.b`` and ``<name>.e``."""
    bi = f"{name}.b"
    ei = f"{name}.e" if r_e else emitter
    c.add_resistor(f"{name}.rb", base, bi, r_b)
    if r_e:
        c.add_resistor(f"{name}.re", ei, emitter, r_e)
    c.add_resistor(f"{name}.rpi", bi, ei, r_pi)
    c.add_capacitor(f"{name}.cpi", bi, ei, c_pi)
    c.add_capacitor(f"{name}.cmu", bi, collector, c_mu)
    c.add_resistor(f"{name}.ro", collector, ei, r_o)
    c.add_vccs(f"{name}.gm", collector, ei, bi, ei, gm)


def two_transistor_amplifier(sections: int = 8, *, gm: float = 0.08, feedback: float | None = None) -> Circuit:
    """A two-stage hybrid-π amplifier with ``sections``-long RC interconnect ladders on the input, between
    the stages and on the output (``3·sections + 8`` nodes). Without ``feedback`` it is stable; a
    ``feedback`` resistor from output to input closes a positive (non-inverting) loop that latches up. Used for the speed target (30-node circuit) and as a pole-solver workout."""
    c = Circuit(f"two-transistor amplifier, {sections}-section ladders")
    dev = dict(gm=gm, r_pi=1.2e3, c_pi=0.4e-12, c_mu=30e-15, r_b=20.0, r_o=20e3, r_e=2.0)

    def ladder(prefix: str, start: str, end: str):
        prev = start
        for k in range(sections):
            node = end if k == sections - 1 else f"{prefix}{k}"
            c.add_resistor(f"R{prefix}{k}", prev, node, 5.0)
            c.add_capacitor(f"C{prefix}{k}", node, 0, 0.05e-12)
            prev = node

    c.add_resistor("Rsrc", "src", 0, 50.0)
    ladder("i", "src", "b1")
    hybrid_pi(c, "Q1", "c1", "b1", "0", **dev)
    c.add_resistor("Rc1", "c1", 0, 500.0)
    ladder("m", "c1", "b2")
    hybrid_pi(c, "Q2", "c2", "b2", "0", **dev)
    c.add_resistor("Rc2", "c2", 0, 500.0)
    ladder("o", "c2", "out")
    c.add_resistor("Rload", "out", 0, 50.0)
    if feedback is not None:
        c.add_resistor("Rfb", "out", "src", feedback)
    return c


def active_rc_ladder(nodes: int, *, r: float = 100.0, c: float = 1e-12, gm: float = 2e-3, every: int = 10,
                     r_neg: float = -120.0, r_source: float = 50.0, r_load: float = 1e3) -> Circuit:
    """The scale benchmark's active RC ladder (issue #14): ``nodes`` nodes ``n1..nN`` joined by series ``r``,
    each shunted by ``c`` to ground, a VCCS ``gm·v(n_{k−1})`` out of every ``every``-th node ``n_k``, ``r_source``
    at ``n1``, ``r_load`` at the far end and one negative resistor ``r_neg`` from ``n2`` to ground.

    With the defaults ``r_neg`` outweighs the ``r_source + r`` path to ground at ``n2``: one real unstable
    natural frequency (about +30 MHz); ``r_neg=-500`` leaves the ladder stable (rightmost modes near
    −30 MHz, set by the VCCS's ``gm/every`` of shunt loss per node over ``c``).
    """
    lad = Circuit(f"active RC ladder, {nodes} nodes")
    lad.add_resistor("Rs", "n1", 0, r_source)
    for k in range(1, nodes):
        lad.add_resistor(f"R{k}", f"n{k}", f"n{k + 1}", r)
    for k in range(1, nodes + 1):
        lad.add_capacitor(f"C{k}", f"n{k}", 0, c)
    for k in range(every, nodes + 1, every):
        lad.add_vccs(f"G{k}", f"n{k}", 0, f"n{k - 1}", 0, gm)
    lad.add_resistor("RL", f"n{nodes}", 0, r_load)
    _negative_resistor(lad, "Rneg", "n2", 0, r_neg)
    return lad
