"""Hybrid-π small-signal values of a bipolar transistor from its Gummel–Poon model card, at a given bias.

This is the textbook linearisation (SPICE 2G6 equations), enough to build the NIC cases by hand and to
document where every number comes from:

- ``Vbe = NF·Vt·ln(Ic/IS)`` (forward-active, low injection), ``Vbc = Vbe − Vce``;
- ``gm = Ic / (NF·Vt)``;  ``rπ = βac/gm`` with ``βac ≈ BF`` (ISE recombination ignored at mA currents);
- ``ro = (VAF + Vce)/Ic``;
- ``Cπ = TF_eff·gm + Cje(Vbe)``, ``TF_eff = TF·(1 + XTF·(Ic/(Ic+ITF))²·exp(Vbc/(1.44·VTF)))``;
- ``Cje(V)``, ``Cjc(V)``, ``Cjs(V)`` by the SPICE depletion formula, linearised above ``FC·VJ``;
- ``Cμ = XCJC·Cjc(Vbc)`` at the internal base, ``(1 − XCJC)·Cjc`` from the external base node;
- ``rb = RBM + (RB − RBM)/qb`` with ``qb ≈ 1`` (IRB = 0), ``re = RE``, ``rc = RC``;
- ``fT = gm / (2π (Cπ + Cμ_total))`` for the documentation (intrinsic, no parasitics).

All inputs and outputs are SI. :func:`read_model_card` reads the ``.MODEL name NPN(...)`` block of a
SPICE library file (only the numbers; the file stays where it is).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from stabkit.errors import NetlistError

K_BOLTZMANN = 1.380649e-23
Q_ELECTRON = 1.602176634e-19


def thermal_voltage(temp_c: float = 25.0) -> float:
    return K_BOLTZMANN * (temp_c + 273.15) / Q_ELECTRON


def depletion_capacitance(cj0: float, v: float, vj: float, m: float, fc: float = 0.5) -> float:
    """SPICE junction capacitance at forward bias ``v`` (negative = reverse), linear above ``fc·vj``."""
    if cj0 == 0:
        return 0.0
    if v < fc * vj:
        return cj0 / (1.0 - v / vj) ** m
    f1 = (1.0 - fc) ** (1.0 + m)
    return cj0 / f1 * (1.0 - fc * (1.0 + m) + m * v / vj)


@dataclass
class HybridPi:
    """Small-signal values (SI) at one bias point."""

    ic: float
    vce: float
    vbe: float
    gm: float
    rpi: float
    ro: float
    cpi: float
    cmu_int: float
    cmu_ext: float
    cjs: float
    rb: float
    re: float
    rc: float
    ft: float

    def to_dict(self) -> dict:
        return asdict(self)


def hybrid_pi(card: dict[str, float], ic: float, vce: float, temp_c: float = 25.0) -> HybridPi:
    """Hybrid-π values of the NPN ``card`` (keys lower-case GP names) at collector current ``ic`` (A) and
    ``vce`` (V)."""
    if ic <= 0:
        raise ValueError(f"the collector current must be positive, got {ic}")
    g = {k.lower(): float(v) for k, v in card.items()}
    vt = thermal_voltage(temp_c)
    nf = g.get("nf", 1.0)
    vbe = nf * vt * math.log(ic / g["is"])
    vbc = vbe - vce
    gm = ic / (nf * vt)
    rpi = g.get("bf", 100.0) / gm
    ro = (g.get("vaf", math.inf) + vce) / ic
    itf = g.get("itf", 0.0)
    ratio = ic / (ic + itf) if itf > 0 else 1.0
    tf_eff = g.get("tf", 0.0) * (1.0 + g.get("xtf", 0.0) * ratio ** 2 *
                                 math.exp(vbc / (1.44 * g.get("vtf", math.inf))))
    fc = g.get("fc", 0.5)
    cje = depletion_capacitance(g.get("cje", 0.0), vbe, g.get("vje", 0.75), g.get("mje", 0.33), fc)
    cjc = depletion_capacitance(g.get("cjc", 0.0), vbc, g.get("vjc", 0.75), g.get("mjc", 0.33), fc)
    cjs = depletion_capacitance(g.get("cjs", 0.0), -vce, g.get("vjs", 0.75), g.get("mjs", 0.0), fc)
    xcjc = g.get("xcjc", 1.0)
    cpi = tf_eff * gm + cje
    rb = g.get("rbm", g.get("rb", 0.0)) + (g.get("rb", 0.0) - g.get("rbm", g.get("rb", 0.0)))
    ft = gm / (2.0 * math.pi * (cpi + cjc))
    return HybridPi(ic=ic, vce=vce, vbe=vbe, gm=gm, rpi=rpi, ro=ro, cpi=cpi, cmu_int=xcjc * cjc,
                    cmu_ext=(1.0 - xcjc) * cjc, cjs=cjs, rb=rb, re=g.get("re", 0.0), rc=g.get("rc", 0.0), ft=ft)


_MODEL_RE = re.compile(r"\.model\s+(\S+)\s+(npn|pnp|d)\s*\(?", re.IGNORECASE)


def read_model_card(path: str | Path, name: str) -> dict[str, float]:
    """Parameters of ``.MODEL name ...`` in a SPICE library (``+ KEY = VALUE`` continuation lines)."""
    text = Path(path).read_text(encoding="latin-1")
    lines = text.splitlines()
    out: dict[str, float] = {}
    inside = False
    for line in lines:
        stripped = line.strip()
        m = _MODEL_RE.match(stripped)
        if m:
            inside = m.group(1).lower() == name.lower()
            stripped = stripped[m.end():]
        elif not stripped.startswith("+"):
            if inside and out:
                break
            continue
        if not inside:
            continue
        body = stripped.lstrip("+").replace("(", " ").replace(")", " ")
        for key, value in re.findall(r"([A-Za-z]\w*)\s*=\s*([-+0-9.eE]+)", body):
            out[key.lower()] = float(value)
    if not out:
        raise NetlistError(f"no .MODEL {name} card with parameters", file=str(path))
    return out
