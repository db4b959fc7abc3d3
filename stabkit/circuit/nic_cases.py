"""Negative-impedance-converter circuits used by the load-range cases (``cases/*_nic.cir``).

- :func:`linvill_nic` — a Linvill NIC with two cross-coupled SiGe BJTs (hybrid-π small-signal models
  with the vendor's package parasitics) realising a negative inductor, after the circuit of the negative
  inductor paper (``../shared/seeds/DIGEST.md`` §2);
- :func:`opamp_nic` — an op-amp NIC (single-pole op-amp macro-model with finite gain–bandwidth);
- :func:`write_netlist` — writes any R/L/C/G/E/F/H/V circuit as a SPICE netlist, so the cases exist as
  files for the CLI.

Every circuit keeps its knobs as ``.param`` entries (``lext``, ``rc``, ``lload`` …) so sweeps only change
the parameter table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stabkit.circuit.graph import Circuit
from stabkit.circuit.hybrid_pi import HybridPi, depletion_capacitance, hybrid_pi

# ---------------------------------------------------------------------------------------------------
# BFR840L3RHESD numbers, transcribed from Infineon's SPICE library v2.1 (file
# ../shared/models/BFR840L3RHESD.lib): the intrinsic Gummel–Poon parameters that the small-signal model
# needs and the package network of the .SUBCKT. tests/test_loads.py re-reads the vendor file (where it is
# present) and checks these transcriptions.
BFR840_GP = {
    "is": 2.429e-16, "bf": 765.7, "nf": 1.012, "vaf": 375.1, "ikf": 0.0819, "rb": 7.53378, "rbm": 2.1,
    "re": 0.4405, "rc": 7.246, "cje": 2.23e-14, "vje": 0.9214, "mje": 0.5, "tf": 1.1e-12, "xtf": 5.582,
    "vtf": 0.6828, "itf": 0.4491, "cjc": 6.6e-15, "vjc": 0.7723, "mjc": 1.005, "xcjc": 0.4894,
    "cjs": 1.147e-13, "mjs": 1.108, "vjs": 0.6112, "fc": 0.578,
}
#: package elements: name -> (node, node, value); nodes as in the vendor subcircuit (1=C, 2=B, 3=E pins;
#: 11/22/33 the intrinsic C/B/E, 55 the substrate node)
BFR840_PACKAGE = {
    "rcx": ("15", "1", 1.57895), "rbx": ("25", "2", 1.92983), "rex": ("35", "3", 0.0800447),
    "cbepar": ("22", "33", 1.9449e-13), "cbcpar": ("22", "11", 3.44161e-14), "ccepar": ("11", "33", 2.24848e-13),
    "lb": ("22", "20", 3.04259e-10), "lc": ("11", "10", 2.88058e-10),
    "cbepck": ("20", "30", 1e-14), "cbcpck": ("20", "10", 1.5502e-14), "ccepck": ("10", "30", 1e-14),
    "lbx": ("20", "25", 9.04631e-11), "lex": ("30", "35", 3.71422e-11), "lcx": ("10", "15", 9.15043e-11),
    "r_cs": ("55", "5", 500.0), "r_nbl_fdb": ("22", "25", 3.2), "r_ps": ("33", "5", 0.03),
    "rsub": ("30", "5", 0.03), "r_nbl_e11g": ("15", "11", 1.8),
}
#: the package's diodes: name -> (anode, cathode, IS, N, RS, CJO) (VJ = 1 V, M = 0.5, FC = 0.5 defaults)
BFR840_DIODES = {
    "d1": ("33", "25", 3e-15, 1.0, 2.846, 4e-14), "d2": ("5", "25", 3e-15, 1.0, 4170.0, 4.5e-14),
    "d3": ("5", "15", 6.911e-16, 1.1, 1380.0, 9.5e-14), "d4": ("23", "33", 3.5e-15, 1.0, 0.2, 3e-14),
    "d5": ("23", "15", 3.5e-15, 1.02, 4.7, 3e-14),
}


#: SPICE minimum junction conductance (S), as in the vendor library's .options
GMIN = 1e-12


@dataclass
class PackagedTransistor:
    """What :func:`add_bfr840` put in the circuit (for the write-up)."""

    intrinsic: HybridPi
    diode_capacitances: dict[str, float]


def _diode_bias(name: str, vbe: float, vce: float) -> float:
    """Forward voltage of each package diode at the bias point (anode − cathode); node 5 and the floating
    node 23 sit at the emitter potential."""
    return {"d1": -vbe, "d2": -vbe, "d3": -vce, "d4": 0.0, "d5": -vce}[name]


def add_bfr840(c: Circuit, name: str, collector: str, base: str, emitter: str, *, ic: float, vce: float,
               package: bool = True) -> PackagedTransistor:
    """A BFR840L3RHESD at ``ic``/``vce`` as a linear small-signal model between the given pins.

    Intrinsic part (internal nodes ``<name>.ci/.bi/.ei``): ``rb``, ``re``, ``rc``, ``rπ ∥ Cπ``,
    ``Cμ`` split by XCJC between the internal and the external base, ``ro``, ``gm`` (a VCCS), and the
    collector–substrate junction. Package (``package=True``): the vendor subcircuit's R/L/C network and its
    reverse-biased diodes as their depletion capacitances in series with RS.
    """
    hp = hybrid_pi(BFR840_GP, ic, vce)
    p = name.lower()

    def n(node: str) -> str:
        pins = {"1": collector, "2": base, "3": emitter}
        if not package:
            pins.update({"11": collector, "22": base, "33": emitter})
        return pins.get(node, f"{p}.{node}")

    ci, bi, ei = f"{p}.ci", f"{p}.bi", f"{p}.ei"
    c.add_resistor(f"{p}.rbb", n("22"), bi, hp.rb)
    c.add_resistor(f"{p}.ree", ei, n("33"), hp.re)
    c.add_resistor(f"{p}.rcc", n("11"), ci, hp.rc)
    c.add_resistor(f"{p}.rpi", bi, ei, hp.rpi)
    c.add_capacitor(f"{p}.cpi", bi, ei, hp.cpi)
    c.add_capacitor(f"{p}.cmu", bi, ci, hp.cmu_int)
    c.add_capacitor(f"{p}.cmux", n("22"), ci, hp.cmu_ext)
    c.add_resistor(f"{p}.ro", ci, ei, hp.ro)
    c.add_vccs(f"{p}.gm", ci, ei, bi, ei, hp.gm)
    diode_caps: dict[str, float] = {}
    if package:
        c.add_capacitor(f"{p}.cjs", ci, n("55"), hp.cjs)
        for ename, (a, b, value) in BFR840_PACKAGE.items():
            kind = ename[0]
            {"r": c.add_resistor, "l": c.add_inductor, "c": c.add_capacitor}[kind](f"{p}.{ename}", n(a), n(b), value)
        for dname, (a, k, _is, _n, rs, cjo) in BFR840_DIODES.items():
            cj = depletion_capacitance(cjo, _diode_bias(dname, hp.vbe, vce), 1.0, 0.5, 0.5)
            diode_caps[dname] = cj
            c.add_resistor(f"{p}.{dname}.rs", n(a), f"{p}.{dname}.j", rs)
            c.add_capacitor(f"{p}.{dname}.cj", f"{p}.{dname}.j", n(k), cj)
            # SPICE's GMIN across every junction (the library sets gmin = 1e-12): a reverse-biased diode
            # conducts essentially nothing, and the node between D4 and D5 would otherwise float at DC
            c.add_resistor(f"{p}.{dname}.gmin", f"{p}.{dname}.j", n(k), 1.0 / GMIN)
    return PackagedTransistor(intrinsic=hp, diode_capacitances=diode_caps)


def linvill_nic(*, ic: float = 3.3e-3, vce: float = 1.6, ln: float = 4.8e-9, rn: float = 0.0, rc: float = 0.0,
                lext: float = 10e-9, r_source: float = 50.0, r_bias: float = 820.0, c_block: float = 2.2e-9,
                r_base: float = 4.7e3, package: bool = True, with_source: bool = True) -> Circuit:
    """Linvill NIC realising a negative inductor ``≈ −Ln`` at port ``in`` (to ground).

    Topology (after the paper's Fig. 1): transistors ``q1``, ``q2`` cross-coupled — the collector of q1
    (through ``Rc``) is the port node ``in`` and drives the base of q2 through a DC block ``C``; the
    collector of q2 (through ``Rc``) is the grounded input terminal and feeds the base of q1 through the
    other DC block, so q1 works in common base. The load ``Ln`` (+ ``Rn``) joins the two emitters. Bias:
    ``R = 820 Ω`` from each collector to the supply and from each emitter to ground (with ``U = 7 V`` that
    gives ``Ic ≈ 3.3 mA`` at ``Vce ≈ 1.6 V``); base bias through ``r_base`` (an assumption: the paper's base
    network is not in the digest). External load (``with_source``): ``Lext`` in series with a 50 Ω
    source. Knobs are parameters: ``lext``, ``rc`` (0 is modelled as 1 mΩ), ``lload`` (= Ln), ``rload``
    (= Rn; 0 is modelled as 1 mΩ). (``ln`` is an expression function, so it cannot name a parameter.)
    """
    c = Circuit(f"Linvill NIC: two BFR840L3RHESD (hybrid-pi) at {ic * 1e3:g} mA, load Ln + Rn between the emitters")
    c.set_param("lext", lext)
    c.set_param("rc", rc)
    c.set_param("lload", ln)
    c.set_param("rload", rn)
    add_bfr840(c, "q1", "c1", "b1", "e1", ic=ic, vce=vce, package=package)
    add_bfr840(c, "q2", "c2", "b2", "e2", ic=ic, vce=vce, package=package)
    c.add_resistor("rc1", "c1", "in", "max(rc, 1m)")
    c.add_resistor("rc2", "c2", "0", "max(rc, 1m)")
    c.add_capacitor("cb1", "b1", "0", c_block)  # q1 base to the grounded terminal (= q2's collector side)
    c.add_capacitor("cb2", "b2", "in", c_block)  # q2 base to the port (= q1's collector side)
    c.add_resistor("rbias1", "b1", "0", r_base)
    c.add_resistor("rbias2", "b2", "0", r_base)
    c.add_resistor("rcol1", "c1", "0", r_bias)  # 820 Ω to the supply (AC ground)
    c.add_resistor("rcol2", "c2", "0", r_bias)
    c.add_resistor("remi1", "e1", "0", r_bias)
    c.add_resistor("remi2", "e2", "0", r_bias)
    c.add_inductor("ln", "e2", "nl", "lload")
    c.add_resistor("rn", "nl", "e1", "max(rload, 1m)")
    if with_source:
        c.add_inductor("lext", "in", "src", "lext")
        c.add_resistor("rs", "src", "0", r_source)
    return c


def opamp_nic(*, gbw: float = 1e9, a0: float = 1e5, l0: float = 100e-9, r_gain: float = 1e3,
              lext: float = 200e-9, r_source: float = 50.0, r_out: float = 0.0, c_in: float = 0.0,
              with_source: bool = True) -> Circuit:
    """Op-amp NIC (voltage-inversion type) realising ``Zin ≈ −Z0 = −s·L0`` at port ``in``.

    The op-amp is a single-pole macro-model: input stage ``G1`` (1 mS) into ``R1 ∥ C1`` (DC gain
    ``a0 = gm·R1``, pole ``gbw/a0``), buffered by ``E1`` (unity, optional ``r_out``). Its output feeds a
    divider of two equal resistors ``r_gain`` to the non-inverting input (so ``v(out) = 2·v(in)`` for an
    ideal op-amp) and ``Z0 = L0`` back to the inverting input, which is the port:
    ``I = (v − 2v)/Z0`` → ``Zin = −Z0``. With the port at the inverting input the negative feedback
    (through ``Z0`` into the source impedance) must beat the positive feedback of the divider (1/2), i.e.
    ``|Z_source| > |Z0|``: the port is open-circuit stable, as the ideal-NIC closed form ``L_ext > L0``
    says. External load: ``Lext`` in series with ``r_source``. Parameters: ``lext``, ``gbw``, ``l0``.
    """
    c = Circuit(f"op-amp NIC (single-pole, GBW parameter), realising about -{l0 * 1e9:g} nH")
    gm = 1e-3
    c.set_param("lext", lext)
    c.set_param("gbw", gbw)
    c.set_param("l0", l0)
    c.set_param("a0", a0)
    r1 = a0 / gm
    c.set_param("copamp", f"a0/(2*pi*gbw*{r1:g})")
    c.add_vccs("g1", "0", "x", "pos", "in", gm)  # current gm·(v+ − v−) into node x; v− is the port
    c.add_resistor("r1", "x", "0", r1)
    c.add_capacitor("c1", "x", "0", "copamp")
    if r_out:
        c.add_vcvs("e1", "xo", "0", "x", "0", 1.0)
        c.add_resistor("rout", "xo", "out", r_out)
    else:
        c.add_vcvs("e1", "out", "0", "x", "0", 1.0)
    c.add_resistor("rf", "out", "pos", r_gain)
    c.add_resistor("rg", "pos", "0", r_gain)
    c.add_inductor("l0", "out", "in", "l0")
    if c_in:
        c.add_capacitor("cin", "in", "0", c_in)
    if with_source:
        c.add_inductor("lext", "in", "src", "lext")
        c.add_resistor("rs", "src", "0", r_source)
    return c


# ---------------------------------------------------------------------------------------------------
def _fmt(v) -> str:
    if isinstance(v, str):
        return "{" + v + "}"
    return f"{v:.10g}"


def write_netlist(c: Circuit, path: str | Path | None = None, comments: list[str] | None = None) -> str:
    """The circuit as SPICE netlist text (R L C K G E F H V I T elements, ``.param`` lines); written to
    ``path`` when given. Element names keep their prefix letter; dots in names and nodes become ``_``."""

    def nm(x: str) -> str:
        return x.replace(".", "_")

    lines = [f"* {c.title}"]
    for text in comments or []:
        lines.append(f"* {text}" if text else "*")
    for k, v in c.params.items():
        lines.append(f".param {nm(k)}={_fmt(v)}")
    for e in c:
        name = nm(e.name)
        if not name[0].lower() == e.kind.lower():
            name = f"{e.kind}{name}"
        nodes = " ".join(nm(n) for n in e.nodes)
        if e.kind == "G" and e.values.get("c"):
            raise ValueError(f"write_netlist: {e.name} has a transcapacitance, which SPICE's G element cannot express")
        if e.kind in ("R", "L", "C", "G", "E"):
            lines.append(f"{name} {nodes} {_fmt(e.values['value'])}")
        elif e.kind in ("F", "H"):
            ref = nm(e.refs[0])
            ref_el = c.element(e.refs[0])
            ref_name = ref if ref[0].lower() == ref_el.kind.lower() else f"{ref_el.kind}{ref}"
            lines.append(f"{name} {nodes} {ref_name} {_fmt(e.values['value'])}")
        elif e.kind == "K":
            lines.append(f"{name} {' '.join(nm(r) for r in e.refs)} {_fmt(e.values['value'])}")
        elif e.kind in ("V", "I"):
            lines.append(f"{name} {nodes} dc {_fmt(e.values.get('dc', 0.0))} ac {_fmt(e.values.get('ac', 0.0))}")
        elif e.kind == "T":
            extra = " ".join(f"{k}={_fmt(v)}" for k, v in e.values.items() if v is not None)
            lines.append(f"{name} {nodes} {extra}")
        else:
            raise ValueError(f"write_netlist: cannot write {e.describe()}")
    lines.append(".end")
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text)
    return text


__all__ = ["BFR840_GP", "BFR840_PACKAGE", "BFR840_DIODES", "add_bfr840", "linvill_nic", "opamp_nic",
           "write_netlist"]
