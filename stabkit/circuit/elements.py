"""Circuit elements.

An element is a small record: its kind (the SPICE letter), its nodes, its named values (numbers in SI
units or expression strings evaluated against the circuit's parameters) and, for current-controlled
sources and couplings, the names of the elements it refers to.

Kinds and their values
----------------------
=====  ==========================  ==========================  ====================================
kind   nodes                       values                      meaning
=====  ==========================  ==========================  ====================================
R      n+ n-                       value (Ω)                   resistor (negative is legal: active)
L      n+ n-                       value (H)                   inductor
C      n+ n-                       value (F)                   capacitor
K      —                           value (coupling k)          mutual inductance of ``refs`` (L1, L2)
G      n+ n- nc+ nc-               value (S) [, c (F)]         VCCS, current ``(gm + s·c)·v(nc+,nc-)`` n+→n-
                                                               (``c``: a transcapacitance, API only)
E      n+ n- nc+ nc-               value (V/V)                 VCVS
F      n+ n-                       value (A/A)                 CCCS, controlled by V source ``refs[0]``
H      n+ n-                       value (Ω)                   CCVS, controlled by V source ``refs[0]``
V      n+ n-                       dc, ac                      independent voltage (a short for AC)
I      n+ n-                       dc, ac                      independent current (open for AC)
T      a+ a- b+ b-                 z0, td  (or f, nl)          lossless transmission line
O      a+ a- b+ b-                 r, l, g, c (per metre),     lossy (RLGC) transmission line, values
                                   len (m)                     from its ``ltra`` card (``model``)
D      anode cathode               area                        nonlinear diode, ``model`` names a card
B      n+ n- [c1+ c1- ...]         —                           behavioural source ``I=`` / ``V=`` of node
                                                               voltages ``v(c+,c-)`` and V-source currents
                                                               (``refs``); ``expression = (output, text)``
N      p1 … pk (to ground)         —                           S-parameter block (Touchstone), ``model``
                                                               is the key of ``Circuit.networks``
M      d g s b                     instance values (l, w,      MOSFET, ``model`` names an ``nmos``/``pmos``
                                   ad, as, pd, ps, nrd, nrs,   card (level 1 natively, any other level
                                   m ...)                      through ngspice: :mod:`stabkit.nonlinear`)
J      d g s                       area and instance values    JFET (``njf``/``pjf`` card, through ngspice)
=====  ==========================  ==========================  ====================================

G, E, F, H are the *active* set that the NDF switches off. So are resistors with a negative value.
Currents flow from ``n+`` through the element to ``n-`` (SPICE convention).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

__all__ = ["KINDS", "DEPENDENT", "LINES", "VOLTAGE_DEFINED", "KIND_NAMES", "Element"]

#: kind -> (number of nodes, required values, optional values with defaults)
KINDS: dict[str, tuple[int, tuple[str, ...], dict[str, float]]] = {
    "R": (2, ("value",), {}),
    "L": (2, ("value",), {}),
    "C": (2, ("value",), {}),
    "K": (0, ("value",), {}),
    "G": (4, ("value",), {"c": None}),
    "E": (4, ("value",), {}),
    "F": (2, ("value",), {}),
    "H": (2, ("value",), {}),
    "V": (2, (), {"dc": 0.0, "ac": 0.0}),
    "I": (2, (), {"dc": 0.0, "ac": 0.0}),
    "T": (4, ("z0",), {"td": None, "f": None, "nl": 0.25}),
    "O": (4, ("len",), {"r": 0.0, "l": 0.0, "g": 0.0, "c": 0.0}),
    "D": (2, (), {"area": 1.0}),
    "Q": (3, (), {"area": 1.0}),
    "B": (0, (), {}),
    "N": (0, (), {}),
    "M": (4, (), {}),
    "J": (3, (), {}),
}

#: dependent sources: the controlled (active) set
DEPENDENT = frozenset("GEFH")
#: transmission lines (distributed: no finite pencil; two branch currents each)
LINES = frozenset("TO")
#: elements whose branch is defined by a voltage (they add a branch current unknown)
VOLTAGE_DEFINED = frozenset("VEH")

KIND_NAMES = {
    "R": "resistor", "L": "inductor", "C": "capacitor", "K": "mutual inductance",
    "G": "voltage-controlled current source", "E": "voltage-controlled voltage source",
    "F": "current-controlled current source", "H": "current-controlled voltage source",
    "V": "voltage source", "I": "current source", "T": "transmission line", "D": "diode",
    "O": "lossy transmission line",
    "Q": "bipolar transistor", "N": "S-parameter block", "B": "behavioural source",
    "M": "MOSFET", "J": "JFET",
}


@dataclass
class Element:
    """One circuit element. ``values`` hold floats (SI) or expression strings."""

    name: str
    kind: str
    nodes: tuple[str, ...]
    values: dict[str, float | str] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    model: str | None = None
    #: where it was defined (file, line) for error messages; None for Python-built circuits
    origin: tuple[str, int] | None = None
    #: behavioural sources: ``("i" | "v", text)``; the text names controlling voltages ``_v0, _v1 ...``
    #: (node pairs ``nodes[2:4]``, ``nodes[4:6]`` ...) and controlling currents ``_i0 ...`` (``refs``)
    expression: tuple[str, str] | None = None

    @functools.cached_property
    def key(self) -> str:
        """The name in lower case (elements are looked up by it; computed once: names do not change)."""
        return self.name.lower()

    @property
    def is_dependent(self) -> bool:
        return self.kind in DEPENDENT

    def where(self) -> str:
        """``file:line`` of the definition, or the element name."""
        if self.origin:
            return f"{self.origin[0]}:{self.origin[1]}"
        return self.name

    def describe(self) -> str:
        return f"{KIND_NAMES.get(self.kind, self.kind)} {self.name}"
