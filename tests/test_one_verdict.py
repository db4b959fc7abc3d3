"""One pipeline, one verdict (issue 9): every way of asking "is it stable?" gives the same answer.

A registry of circuits — every shipped ``cases/*.cir`` and ``cases/*.stab.yaml`` plus the kinds other tests
build (a Gummel–Poon transistor amplifier and NIC with the vendor model, tunnel-diode amplifier, oscillator
and bistable switch, S-type devices, a lossless line, a measured S-parameter block, a hidden mode, unstable
NICs, an ideal LC tank that is marginal, CMOS circuits with native level-1 and ngspice-evaluated BSIM4
MOSFETs) — is judged by

* :func:`stabkit.analysis.verdict.decide` (in-process),
* ``stabkit poles``, ``stabkit ndf``, ``stabkit check`` (a temporary case file expecting ``stable: true``)
  and ``stabkit report`` (a subset: one circuit of each kind) as subprocesses, with ``--json``,
* the ``stabkit`` fixture's ``assert_stable``/``assert_unstable``/``verdict``, and
* the pytest plugin (a pytester run over a case file and a fixture test per circuit),

and all of them must give the same verdict word, the same exit code (0 stable, 1 unstable, 3 uncertain) and
agreeing JSON ``verdict``/``stable`` fields. Each verdict is also held against an expectation that does not
come from stabkit, and the counts of unstable natural frequencies against an independent reference where one
exists: closed forms (N-type, S-type, ideal NIC, LC tank), the load-line solved here from the device
equations of DESIGN.md with the closed-form characteristic polynomial at every operating point (tunnel diode,
S-type relaxation oscillator), ngspice ``pz`` on small circuits (hidden mode, op-amp NIC, CMOS NIC), the growth or
decay of ngspice's ``.tran`` after a kick (BSIM4 VCO: ngspice's ``pz`` misses the pair of such circuits).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "cases"
MODELS = REPO.parent / "shared" / "models"
EXIT = {"stable": 0, "unstable": 1, "uncertain": 3}


# ----------------------------------------------------------------------------- independent references
def polynomial_rhp(coefficients) -> int:
    """Right-half-plane roots of a characteristic polynomial (highest power first)."""
    return int(np.sum(np.roots(coefficients).real > 0))


def ntype_counts(rneg=58.9, cj=25e-12, rser=30.0, lser=30e-9) -> list[int]:
    """``−1/rneg ∥ Cj`` fed by series ``R + L``: ``L·C·s² + (R·C − g·L)·s + (1 − g·R)`` (DESIGN.md §1)."""
    g = 1.0 / rneg
    return [polynomial_rhp([lser * cj, rser * cj - g * lser, 1.0 - g * rser])]


def stype_counts(r=50.0, ld=1e-6, rload=100.0, cl=1e-12) -> list[int]:
    """``−r`` in series with ``L`` into ``R ∥ C``: ``(s·L − r)(1 + s·R·C) + R = 0``."""
    return [polynomial_rhp([ld * rload * cl, ld - r * rload * cl, rload - r])]


def ideal_nic_counts(lext, l0=5e-9, rs=50.0) -> list[int]:
    """50 Ω + ``s·Lext`` against ``−s·L0``: one real pole ``s = −Rs/(Lext − L0)``."""
    return [polynomial_rhp([lext - l0, rs])]


TUNNEL_CARD = dict(ip=4.7e-3, vp=0.1, iv=370e-6, vv=0.37, vpp=0.525, vt=26e-3)  # cases/tunnel_*.cir
TUNNEL_CD = 25e-12


def tunnel_current(v, ip, vp, iv, vv, vpp, vt):
    """The tunnel-diode card of DESIGN.md §3, written out here."""
    return ip * np.exp(-vpp / vt) * (np.exp(v / vt) - 1) + ip * (v / vp) * np.exp(1 - v / vp) + iv * np.exp(v - vv)


def _roots(fn, lo, hi, n=200001) -> list[float]:
    x = np.linspace(lo, hi, n)
    y = fn(x)
    return [brentq(fn, x[k], x[k + 1], xtol=1e-15) for k in np.flatnonzero(np.sign(y[:-1]) != np.sign(y[1:]))]


def tunnel_counts(vs, rs, ls) -> list[int]:
    """``V1 — R — L — D``: every load-line point (by voltage), the device slope ``g`` there by a central
    difference, and ``L·cd·s² + (R·cd + g·L)·s + (1 + g·R)`` (KCL at the diode node with V1 shorted)."""
    def load_line(v):
        return tunnel_current(v, **TUNNEL_CARD) - (vs - v) / rs

    counts = []
    for v in _roots(load_line, -0.1, vs + 0.1):
        h = 1e-7
        g = (tunnel_current(v + h, **TUNNEL_CARD) - tunnel_current(v - h, **TUNNEL_CARD)) / (2 * h)
        counts.append(polynomial_rhp([ls * TUNNEL_CD, rs * TUNNEL_CD + g * ls, 1 + g * rs]))
    return counts


def stype_relaxation_counts(vs=48.4, rs=20e3, cl=100e-9, ls=10e-9, vpk=10.0, ipk=1e-3, ron=500.0) -> list[int]:
    """``V1 — R1 — (C1 ∥ D1)``, D1 an S-type ``v(i) = ron·i + vpk·(i/ipk)·e^(1 − i/ipk)`` with series ``ls``:
    ``(1/R1 + s·C1)(r + s·ls) + 1 = 0`` at every load-line point, ``r = dv/di`` there."""
    def v_of_i(i):
        return ron * i + vpk * (i / ipk) * np.exp(1 - i / ipk)

    counts = []
    for i in _roots(lambda i: v_of_i(i) - (vs - rs * i), 0.0, vs / rs):
        h = 1e-9
        r = (v_of_i(i + h) - v_of_i(i - h)) / (2 * h)
        counts.append(polynomial_rhp([cl * ls, ls / rs + r * cl, r / rs + 1]))
    return counts


def linvill_vccs_counts(port: str, lext: float, gm=0.1, lload=5e-9, rload=10.0, cl=0.3e-12, rsrc=50.0) -> list[int]:
    """cases/linvill_vccs_*.cir with ideal VCCS transistors (rpi -> infinity): ``Zin = ±2/gm − Z_L``,
    ``Z_L = (s·lload + rload) ∥ 1/(s·cl)`` (+ at the emitter port, − at the collector port), and behind
    ``rsrc + s·lext``: ``(a + s·lext)(1 + s·cl·rload + s²·cl·lload) − (s·lload + rload) = 0``, ``a = rsrc ± 2/gm``."""
    a = rsrc + (2.0 if port == "emitter" else -2.0) / gm
    return [polynomial_rhp([lext * cl * lload, a * cl * lload + lext * cl * rload, a * cl * rload + lext - lload,
                            a - rload])]


def lc_tank_counts() -> list[int]:
    return [polynomial_rhp([10e-9 * 1e-12, 0.0, 1.0])]  # L·C·s² + 1: both roots on the axis, none in the RHP


def ngspice_counts(text: str, node: str) -> Callable[[], list[int]]:
    """RHP poles from ngspice's ``pz`` (current input at ``node``: the network is not altered)."""
    def count() -> list[int]:
        if shutil.which("ngspice") is None:
            pytest.skip("ngspice is not installed (apt-get install ngspice): it is the reference here")
        from stabkit import ngspice

        found = ngspice.pz_poles(text, node, "0", node, "0", kind="cur")
        assert found.size > 0, "ngspice pz found no poles"
        return [int(np.sum(found.real > 0))]
    return count


def transient_counts(text: str, node: str, f_guess: float, periods: int = 12) -> Callable[[], list[int]]:
    """The count of an oscillator-like circuit from ngspice's ``.tran`` after a small current kick into ``node``:
    2 (one complex pair in the right half-plane) if the ringing grows from the 3rd to the last of ``periods``
    periods of ``f_guess`` (a hand estimate, e.g. the tank's resonance: it only sets the time grid), else 0."""
    def count() -> list[int]:
        if shutil.which("ngspice") is None:
            pytest.skip("ngspice is not installed (apt-get install ngspice): it is the reference here")
        from test_mosfet_circuits import transient_after_kick

        period = 1.0 / f_guess
        t, v = transient_after_kick(text, node, node, periods * period, period / 100, kick=1e-9, period=period)
        first, last = (np.max(np.abs(v[(t >= a) & (t < a + period)])) for a in (3 * period, (periods - 1) * period))
        assert np.max(np.abs(v)) < 0.05, "the kick must stay small-signal"
        return [2 if last > first else 0]
    return count


def _opamp_nic_text(lext: float) -> str:
    """cases/opamp_nic.cir with its parameters written out as numbers (ngspice's own text)."""
    copamp = 1e5 / (2 * np.pi * 1e9 * 1e8)
    return textwrap.dedent(f"""\
        op-amp NIC, numbers only
        g1 0 x pos in 0.001
        r1 x 0 100000000
        c1 x 0 {copamp!r}
        e1 out 0 x 0 1
        rf out pos 1000
        rg pos 0 1000
        l0 out in 1e-07
        lext in src {lext!r}
        rs src 0 50
        """)


# ----------------------------------------------------------------------------- the registry
EXTRA = {
    "lc_tank.cir": """\
        Ideal LC tank: lossless, a natural-frequency pair on the jw axis at 1.5915 GHz (marginal)
        L1 a 0 10n
        C1 a 0 1p
        .end
        """,
    "sparam_amp.cir": """\
        BFR840L3RHESD, measured S-parameters at 1.8 V / 6 mA, between 50 ohm terminations
        Rsrc in 0 50
        N1 in out file='{models}/sparams/BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p'
        Rload out 0 50
        .end
        """,
    "gp_amp.cir": """\
        Common-emitter amplifier: BFR840L3RHESD (vendor Gummel-Poon + package), resistive bias, 50 ohm ends
        .include '{models}/BFR840L3RHESD.lib'
        VCC vcc 0 3
        RB1 vcc b 33k
        RB2 b 0 10k
        RC vcc c 470
        RE e 0 100
        CE e 0 10n
        CIN in b 10n
        RS in 0 50
        COUT c out 10n
        RL out 0 50
        X1 c b e BFR840L3RHESD
        .end
        """,
    "gp_with_block.cir": """\
        The common-emitter amplifier above driving the measured BFR840 S2P block (AC-coupled, 50 ohm load)
        .include '{models}/BFR840L3RHESD.lib'
        VCC vcc 0 3
        RB1 vcc b 33k
        RB2 b 0 10k
        RC vcc c 470
        RE e 0 100
        CE e 0 10n
        CIN in b 10n
        RS in 0 50
        COUT c mid 10n
        N1 mid out file='{models}/sparams/BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p'
        RL out 0 50
        X1 c b e BFR840L3RHESD
        .end
        """,
    "cmos_vco.cir": """\
        Complementary cross-coupled LC VCO (BSIM4 cards: evaluated by ngspice)
        VDD vdd 0 1.2
        RDD vdd vdda 0.1
        MP1 a b vdda vdda pch W=24u L=0.12u
        MP2 b a vdda vdda pch W=24u L=0.12u
        MN1 a b 0 0 nch W=24u L=0.12u
        MN2 b a 0 0 nch W=24u L=0.12u
        LT a t 12n
        RT t b {{rt}}
        CT a b 2p
        CA a 0 100f
        CB b 0 100f
        .param rt=3
        .model nch nmos level=54 version=4.7 toxe=2.5n vth0=0.4 u0=0.03 cgso=1.5e-10 cgdo=1.5e-10 cgbo=1e-12
        .model pch pmos level=54 version=4.7 toxe=2.5n vth0=-0.4 u0=0.012 cgso=1.5e-10 cgdo=1.5e-10
        .end
        """,
}
VENDOR = ("BFR840L3RHESD.lib",)
SPARAM = ("sparams/BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p",)


@dataclass(frozen=True)
class Entry:
    id: str
    netlist: str  # a file in cases/ or a key of EXTRA
    kind: str  # lumped | ndr | transistor | line | nport
    expected: str  # the verdict known without stabkit (closed form, reference, documented design)
    sets: tuple[tuple[str, str], ...] = ()
    reference: Callable[[], list[int]] | None = None  # RHP count per operating point, independent of stabkit
    needs: tuple[str, ...] = ()  # files under ../shared/models
    report: bool = False
    count_xfail: str | None = None
    ngspice: bool = False  # devices evaluated by ngspice (BSIM cards): skipped with the reason where it is absent

    @property
    def params(self) -> dict[str, float]:
        from stabkit.units import parse_value

        return {k: parse_value(v) for k, v in self.sets}

    def set_args(self) -> list[str]:
        return [a for k, v in self.sets for a in ("--set", f"{k}={v}")]


REGISTRY = [
    # shipped netlists, as they are
    Entry("cir:bfr840_gp_feedback", "bfr840_gp_feedback.cir", "transistor", "stable", needs=VENDOR),
    Entry("cir:bfr840_s2p_feedback", "bfr840_s2p_feedback.cir", "nport", "stable", needs=SPARAM),
    Entry("cir:colpitts_bfr840", "colpitts_bfr840.cir", "transistor", "unstable", needs=VENDOR),
    Entry("cir:hard_start_osc", "hard_start_osc.cir", "transistor", "stable"),
    Entry("cir:hidden_mode", "hidden_mode.cir", "lumped", "unstable",
          reference=ngspice_counts((CASES / "hidden_mode.cir").read_text(), "in"), report=True),
    Entry("cir:ideal_nic", "ideal_nic.cir", "lumped", "stable", reference=lambda: ideal_nic_counts(8e-9)),
    Entry("cir:line_negres", "line_negres.cir", "line", "stable", report=True),
    # the emitter-port Linvill NIC (the paper's Fig. 1) at its documented L_ext = 12 nH, inside the window
    # 7.7-16.9 nH that docs/paper.md and the netlist header give; the collector-port alternative at 3 nH (its
    # window lies below |L0|, docs/cases/linvill_bfr840_collector.md)
    Entry("cir:linvill_bfr840", "linvill_bfr840.cir", "transistor", "stable", needs=VENDOR),
    Entry("cir:linvill_bfr840_collector", "linvill_bfr840_collector.cir", "transistor", "stable", needs=VENDOR),
    # the Fig. 2 variants are not stabilized for their own transistors: each has its own mode at every L_ext
    # (7.6 GHz for the BFP620, 10 GHz for the BFP840: docs/paper.md, "what could damp the loop")
    Entry("cir:linvill_bfp620", "linvill_bfp620.cir", "transistor", "unstable", needs=("BFP620.lib",)),
    Entry("cir:linvill_bfp840", "linvill_bfp840.cir", "transistor", "unstable", needs=("BFP840ESD.lib",)),
    Entry("cir:linvill_vccs_collector", "linvill_vccs_collector.cir", "lumped", "unstable",
          reference=lambda: linvill_vccs_counts("collector", 3e-9)),
    Entry("cir:linvill_vccs_emitter", "linvill_vccs_emitter.cir", "lumped", "stable",
          reference=lambda: linvill_vccs_counts("emitter", 15e-9)),
    Entry("cir:linvill_nic", "linvill_nic.cir", "lumped", "stable"),
    Entry("cir:ntype_smallsignal", "ntype_smallsignal.cir", "lumped", "stable", reference=ntype_counts),
    Entry("cir:opamp_nic", "opamp_nic.cir", "lumped", "stable", reference=ngspice_counts(_opamp_nic_text(200e-9), "in")),
    Entry("cir:stype_relaxation", "stype_relaxation.cir", "ndr", "unstable", reference=stype_relaxation_counts),
    Entry("cir:stype_smallsignal", "stype_smallsignal.cir", "lumped", "stable", reference=stype_counts),
    Entry("cir:tunnel_amp", "tunnel_amp.cir", "ndr", "stable", reference=lambda: tunnel_counts(0.30, 20.0, 1e-9)),
    Entry("cir:tunnel_bistable", "tunnel_bistable.cir", "ndr", "unstable",
          reference=lambda: tunnel_counts(0.58, 100.0, 1e-9), report=True),
    Entry("cir:tunnel_osc", "tunnel_osc.cir", "ndr", "unstable", reference=lambda: tunnel_counts(0.30, 20.0, 40e-9)),
    # shipped case files: their netlist with their `set:`
    Entry("case:bfr840_s2p_feedback", "bfr840_s2p_feedback.cir", "nport", "stable", (("le", "1n"),),
          needs=SPARAM),
    Entry("case:ideal_nic", "ideal_nic.cir", "lumped", "stable", (("lext", "8n"),),
          reference=lambda: ideal_nic_counts(8e-9)),
    Entry("case:line_negres", "line_negres.cir", "line", "stable", (("rs", "35"),)),
    Entry("case:linvill_bfr840", "linvill_bfr840.cir", "transistor", "stable", (("lext", "12n"),), needs=VENDOR),
    Entry("case:linvill_bfr840_collector", "linvill_bfr840_collector.cir", "transistor", "stable",
          (("lext", "3n"), ("rc", "0")), needs=VENDOR),
    Entry("case:linvill_nic", "linvill_nic.cir", "lumped", "stable", (("lext", "3n"), ("rc", "0"))),
    Entry("case:ntype_oscillating", "ntype_smallsignal.cir", "lumped", "unstable", (("lser", "60n"),),
          reference=lambda: ntype_counts(lser=60e-9)),
    Entry("case:ntype_smallsignal", "ntype_smallsignal.cir", "lumped", "stable", reference=ntype_counts),
    Entry("case:opamp_nic", "opamp_nic.cir", "lumped", "stable", (("lext", "200n"), ("gbw", "1g")),
          reference=ngspice_counts(_opamp_nic_text(200e-9), "in")),
    Entry("case:stype_smallsignal", "stype_smallsignal.cir", "lumped", "stable", reference=stype_counts),
    # circuits the other tests build
    Entry("nic:opamp_unstable", "opamp_nic.cir", "lumped", "unstable", (("lext", "50n"),),
          reference=ngspice_counts(_opamp_nic_text(50e-9), "in")),
    # an open-circuit-stable port behind L_ext < |L0| (the ideal rule; the window starts at 7.7 nH)
    Entry("gp:bfr840_below_window", "linvill_bfr840.cir", "transistor", "unstable", (("lext", "5n"),),
          needs=VENDOR),
    # the text's values without our 700 ohm shunt: the 3-5 GHz pair stays in the RHP at its best L_ext (issue 11;
    # docs/paper.md: sigma/2pi = +0.53 GHz at 10.7 nH)
    Entry("gp:bfr840_text_values", "linvill_bfr840.cir", "transistor", "unstable", (("rp", "1t"), ("lext", "10.7n")),
          needs=VENDOR),
    Entry("gp:bfr840_collector_as_specified", "linvill_bfr840_collector.cir", "transistor", "unstable",
          (("rload", "10"), ("cload", "1"), ("ln0", "4.8n"), ("dln", "0"), ("lext", "10n")), needs=VENDOR),
    Entry("gp:ce_amplifier", "gp_amp.cir", "transistor", "stable", needs=VENDOR, report=True),
    Entry("nport:bfr840_s2p", "sparam_amp.cir", "nport", "stable", needs=SPARAM, report=True),
    # a transistor bias solution next to a block (the block's DC is its extrapolated S(f1)): both parts are
    # stable in 50 ohm on their own (gp:ce_amplifier, nport:bfr840_s2p) and meet through 10 nF into 50 ohm
    Entry("nport:gp_with_block", "gp_with_block.cir", "nport", "stable", needs=VENDOR + SPARAM),
    Entry("nport:bfr840_s2p_oscillating", "bfr840_s2p_feedback.cir", "nport", "unstable", (("le", "0.2n"),),
          needs=SPARAM, report=True),
    Entry("gp:bfr840_feedback_oscillating", "bfr840_gp_feedback.cir", "transistor", "unstable", (("le", "0.2n"),),
          needs=VENDOR),
    Entry("marginal:lc_tank", "lc_tank.cir", "lumped", "uncertain", reference=lc_tank_counts, report=True),
]
BY_ID = {e.id: e for e in REGISTRY}
# the two-method counts (exact poles and NDF) that the registry's references do not cover: case files checked
# by the shipped-cases test in test_plugin.py; the shipped netlists' own .param defaults are the "cir:" entries


def _vco_text(rt: str) -> str:
    return textwrap.dedent(EXTRA["cmos_vco.cir"]).format(models=MODELS).replace(".param rt=3", f".param rt={rt}")


def _cmos_nic_text(cext: str) -> str:
    return (CASES / "cmos_nic.cir").read_text().replace(".param cn=1p cext=2p", f".param cn=1p cext={cext}")


REGISTRY += [
    # CMOS (issue 12): the shipped level-1 converter (native MOSFETs) on both sides of its edge against ngspice
    # pz, and a BSIM4 VCO (ngspice-evaluated devices) oscillating and damped against ngspice's .tran
    Entry("cir:cmos_nic", "cmos_nic.cir", "cmos", "stable", reference=ngspice_counts(_cmos_nic_text("2p"), "d1"),
          report=True),
    Entry("case:cmos_nic", "cmos_nic.cir", "cmos", "stable", (("cext", "2p"),),
          reference=ngspice_counts(_cmos_nic_text("2p"), "d1")),
    Entry("cmos:nic_unstable", "cmos_nic.cir", "cmos", "unstable", (("cext", "0.5p"),),
          reference=ngspice_counts(_cmos_nic_text("0.5p"), "d1")),
    Entry("cmos:vco_bsim4", "cmos_vco.cir", "cmos", "unstable", reference=transient_counts(_vco_text("3"), "a", 1e9),
          ngspice=True, report=True),
    Entry("cmos:vco_bsim4_lossy", "cmos_vco.cir", "cmos", "stable", (("rt", "20"),),
          reference=transient_counts(_vco_text("20"), "a", 1e9), ngspice=True),
]
BY_ID = {e.id: e for e in REGISTRY}


def entry_params(entry):
    return pytest.param(entry, id=entry.id)


ALL = [entry_params(e) for e in REGISTRY]
REPORTED = [entry_params(e) for e in REGISTRY if e.report]


# ----------------------------------------------------------------------------- running things (cached)
@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("one_verdict")


def _ngspice_missing(entry: Entry) -> bool:
    return entry.ngspice and shutil.which("ngspice") is None


def netlist_path(entry: Entry, workdir: Path) -> Path:
    if _ngspice_missing(entry):
        pytest.skip("ngspice is not installed (apt-get install ngspice): this circuit's BSIM4 transistors are "
                    "evaluated by it")
    missing = [MODELS / n for n in entry.needs if not (MODELS / n).is_file()]
    if missing:
        pytest.skip(f"{missing[0]} is absent: vendor models and measured data are read from ../shared/models, "
                    "never shipped with stabkit")
    if entry.netlist in EXTRA:
        path = workdir / entry.netlist
        if not path.exists():
            path.write_text(textwrap.dedent(EXTRA[entry.netlist]).format(models=MODELS))
        return path
    return CASES / entry.netlist


@functools.lru_cache(maxsize=None)
def _cli(*args: str) -> tuple[int, str, str]:
    """``stabkit ARGS`` in this process through :func:`stabkit.cli.main` (what the console script runs):
    exit code, stdout, stderr."""
    import contextlib
    import io

    from stabkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@functools.lru_cache(maxsize=None)
def _subprocess(*args: str) -> tuple[int, str, str]:
    """``python -m stabkit ARGS`` as a user runs it."""
    proc = subprocess.run([sys.executable, "-m", "stabkit", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def cli(entry: Entry, workdir: Path, command: str, *extra: str, run=_cli) -> tuple[int, dict, str]:
    code, out, err = run(command, str(netlist_path(entry, workdir)), *entry.set_args(), *extra, "--json")
    return code, json.loads(out), err


_VERDICTS: dict[str, object] = {}


def verdict_of(entry: Entry, workdir: Path):
    """``decide`` in-process (cached): the verdict every other path must reproduce."""
    if entry.id not in _VERDICTS:
        from stabkit.analysis.verdict import decide
        from stabkit.circuit.graph import Circuit
        from stabkit.errors import StabkitWarning

        path = netlist_path(entry, workdir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StabkitWarning)  # negative resistors, model notes
            _VERDICTS[entry.id] = decide(Circuit.from_netlist(str(path)), entry.params)
    return _VERDICTS[entry.id]


def case_text(entry: Entry, path: Path) -> str:
    sets = ", ".join(f"{k}: {v}" for k, v in entry.sets)
    requires = [str(MODELS / n) for n in entry.needs]
    return (f"netlist: {path}\n" + (f"set: {{{sets}}}\n" if sets else "")
            + (f"requires: [{', '.join(requires)}]\n" if requires else "") + "expect: {stable: true}\n")


# ----------------------------------------------------------------------------- the registry is complete
def test_registry_covers_every_shipped_case():
    """Every shipped netlist is an entry as it is, every shipped case file an entry with its own `set:`."""
    from stabkit.cases import load_case

    netlists = {p.name for p in CASES.glob("*.cir")}
    assert netlists == {e.netlist for e in REGISTRY if e.id.startswith("cir:")}
    cases = sorted(CASES.glob("*.stab.yaml"))
    assert {c.name[: -len(".stab.yaml")] for c in cases} == {e.id[5:] for e in REGISTRY if e.id.startswith("case:")}
    for path in cases:
        case = load_case(path)
        entry = BY_ID["case:" + case.name]
        assert case.netlist.name == entry.netlist
        assert case.params.keys() == entry.params.keys(), case.path
        for k, v in case.params.items():
            np.testing.assert_allclose(entry.params[k], v, rtol=1e-12, err_msg=f"{case.path}: set {k}")
    kinds = {e.kind for e in REGISTRY}
    assert kinds == {"lumped", "ndr", "transistor", "line", "nport", "cmos"}
    assert {e.expected for e in REGISTRY} == set(EXIT)
    assert {e.kind for e in REGISTRY if e.report} == kinds  # `report` runs on every kind
    assert {e.expected for e in REGISTRY if e.report} == set(EXIT)


# ----------------------------------------------------------------------------- decide against the references
@pytest.mark.parametrize("entry", ALL)
def test_decide_gives_the_expected_verdict(entry, workdir):
    v = verdict_of(entry, workdir)
    assert v.verdict == entry.expected, "\n".join([v.summary(), *v.evidence()])
    assert v.exit_code == EXIT[entry.expected]
    assert v.stable == (entry.expected == "stable")
    if entry.expected == "uncertain":
        assert v.reasons, "an uncertain verdict must say why"
    else:
        assert v.reasons == []


@pytest.mark.parametrize("entry", [entry_params(e) for e in REGISTRY if e.reference is not None])
def test_counts_match_the_independent_reference(entry, workdir, request):
    """Unstable natural frequencies per operating point: the exact poles, the NDF and the reference agree."""
    if entry.count_xfail:
        request.applymarker(pytest.mark.xfail(strict=True, reason=entry.count_xfail))
    expected = entry.reference()
    v = verdict_of(entry, workdir)
    assert [p.rhp_count for p in v.points] == expected
    assert [p.encirclements for p in v.points] == expected


@pytest.mark.parametrize("entry", [entry_params(e) for e in REGISTRY
                                   if e.reference is None and e.kind not in ("line", "nport")])
def test_counts_of_the_two_methods_agree(entry, workdir, request):
    """Where no closed form exists, the exact poles and the NDF must still count the same."""
    if entry.count_xfail:
        request.applymarker(pytest.mark.xfail(strict=True, reason=entry.count_xfail))
    v = verdict_of(entry, workdir)
    assert [p.rhp_count for p in v.points] == [p.encirclements for p in v.points]


def test_marginal_tank_names_its_axis_pair(workdir):
    """The LC tank is uncertain *because* its pair sits on the jω axis at 1/(2π√(LC))."""
    v = verdict_of(BY_ID["marginal:lc_tank"], workdir)
    f0 = 1 / (2 * np.pi * np.sqrt(10e-9 * 1e-12))
    np.testing.assert_allclose(np.sort(np.abs(v.poles.poles_hz.imag)), [f0, f0], rtol=1e-9)
    assert "jω axis" in v.reasons[0] and "1.592 GHz" in v.reasons[0]


def test_bistable_switch_is_judged_at_each_of_its_three_points(workdir):
    """The middle point of the bistable switch is unstable (one real RHP pole), the outer two are stable."""
    v = verdict_of(BY_ID["cir:tunnel_bistable"], workdir)
    assert [p.verdict for p in v.points] == ["stable", "unstable", "stable"]
    assert v.deciding.point.index == 2


# ----------------------------------------------------------------------------- the commands
def _assert_same(entry, v, code, data, err, what):
    word = v.verdict
    assert code == EXIT[word], f"{what}: exit {code}, decide says {word}\n{err}"
    assert data["verdict"] == word, what
    assert data["stable"] is (word == "stable"), what
    uncertain_lines = [ln for ln in err.splitlines() if ln.startswith("stabkit: uncertain: ")]
    assert len(uncertain_lines) == (word == "uncertain"), err
    assert not any(ln.startswith("stabkit: error") for ln in err.splitlines()), err


@pytest.mark.parametrize("entry", ALL)
def test_poles_command(entry, workdir):
    v = verdict_of(entry, workdir)
    code, data, err = cli(entry, workdir, "poles")
    _assert_same(entry, v, code, data, err, "stabkit poles")
    assert data["rhp_count"] == v.rhp_count
    if v.poles is not None:  # lumped: the deciding point's poles, in Hz
        got = np.array([complex(a, b) for a, b in data["poles"]])
        np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(v.poles.poles_hz), rtol=1e-9, atol=1e-3)
    if len(v.points) > 1:
        assert [p["verdict"] for p in data["points"]] == [p.verdict for p in v.points]


@pytest.mark.parametrize("entry", ALL)
def test_ndf_command(entry, workdir):
    v = verdict_of(entry, workdir)
    code, data, err = cli(entry, workdir, "ndf")
    _assert_same(entry, v, code, data, err, "stabkit ndf")
    assert data["encirclements"] == v.encirclements
    assert sum(s["encirclements"] for s in data["sources"]) == data["encirclements"]
    if len(v.points) > 1:
        assert [p["verdict"] for p in data["points"]] == [p.verdict for p in v.points]


def case_file(entry: Entry, workdir: Path) -> Path:
    case = workdir / f"{entry.id.replace(':', '_')}.stab.yaml"
    case.write_text(case_text(entry, netlist_path(entry, workdir)))
    return case


@pytest.mark.parametrize("entry", ALL)
def test_check_command(entry, workdir):
    """A case file expecting `stable: true`: it holds (0), fails (1) or is uncertain (3) as the verdict is."""
    v = verdict_of(entry, workdir)
    code, out, err = _cli("check", str(case_file(entry, workdir)), "--json")
    data = json.loads(out)
    assert code == EXIT[v.verdict], err
    (result,) = data["results"]
    assert result["status"] == {"stable": "passed", "unstable": "failed", "uncertain": "uncertain"}[v.verdict]
    assert data["passed"] is v.stable
    assert len([ln for ln in err.splitlines() if ln.startswith("stabkit: uncertain")]) == (v.verdict == "uncertain")


@pytest.mark.parametrize("entry", REPORTED)
def test_report_command(entry, workdir):
    v = verdict_of(entry, workdir)
    out = workdir / f"{entry.id.replace(':', '_')}.html"
    code, data, err = cli(entry, workdir, "report", "-o", str(out), run=_subprocess)
    _assert_same(entry, v, code, data, err, "stabkit report")
    # the report's one verdict paragraph: its class and its first word are the verdict's
    (css, text), = re.findall(r'<p class="verdict (\w+)">([^<]*)</p>', out.read_text())
    assert css == {"stable": "ok", "unstable": "bad", "uncertain": "unsure"}[v.verdict]
    assert text.split(":")[0].split()[0] == v.verdict.upper()


@pytest.mark.parametrize("entry", REPORTED)
def test_commands_as_subprocesses(entry, workdir):
    """One circuit of each kind through the console entry point (a fresh interpreter): the same exit code,
    JSON and stderr as the in-process runs above."""
    v = verdict_of(entry, workdir)
    for command in ("poles", "ndf"):
        code, data, err = cli(entry, workdir, command, run=_subprocess)
        _assert_same(entry, v, code, data, err, f"python -m stabkit {command}")
        assert (code, data, err) == cli(entry, workdir, command)
    case = str(case_file(entry, workdir))
    code, out, err = _subprocess("check", case, "--json")
    assert code == EXIT[v.verdict]
    assert (code, out, err) == _cli("check", case, "--json")


# ----------------------------------------------------------------------------- the fixture, in-process
@pytest.mark.parametrize("entry", ALL)
def test_fixture_helpers(entry, workdir):
    from stabkit.circuit.graph import Circuit
    from stabkit.errors import StabkitWarning
    from stabkit.pytest_plugin import StabkitHelper, assert_stable, assert_unstable

    v = verdict_of(entry, workdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        circuit = Circuit.from_netlist(str(netlist_path(entry, workdir)))
        helper = StabkitHelper()
        assert helper.verdict(circuit, entry.params).verdict == v.verdict
        if v.verdict == "stable":
            assert assert_stable(circuit, entry.params).verdict == "stable"
            with pytest.raises(AssertionError, match="is stable, expected unstable"):
                assert_unstable(circuit, entry.params)
        elif v.verdict == "unstable":
            with pytest.raises(AssertionError, match=r"is unstable$|is unstable\n"):
                assert_stable(circuit, entry.params)
            assert assert_unstable(circuit, entry.params, rhp_count=v.rhp_count).verdict == "unstable"
        else:
            with pytest.raises(AssertionError, match="stability is uncertain"):
                assert_stable(circuit, entry.params)
            with pytest.raises(AssertionError, match="is uncertain, expected unstable"):
                assert_unstable(circuit, entry.params)


# ----------------------------------------------------------------------------- the plugin (pytester)
PLUGIN_TEST = '''
import warnings

import pytest

from stabkit.circuit.graph import Circuit
from stabkit.errors import StabkitWarning

CIRCUITS = {circuits!r}


def _circuit(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        return Circuit.from_netlist(CIRCUITS[name][0])


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_assert_stable(stabkit, name):
    stabkit.assert_stable(_circuit(name), CIRCUITS[name][1])


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_assert_unstable(stabkit, name):
    stabkit.assert_unstable(_circuit(name), CIRCUITS[name][1])
'''


def test_plugin_gives_the_same_verdicts(pytester, workdir, monkeypatch):
    """One pytest run of the plugin: a case file item (`stable: true`) and two fixture tests per circuit.
    stable: (pass, pass, fail); unstable: (fail, fail, pass); uncertain: all three fail, saying uncertain."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    entries, circuits = [], {}
    for entry in REGISTRY:
        if any(not (MODELS / n).is_file() for n in entry.needs) or _ngspice_missing(entry):
            continue  # the skip itself is tested in test_case_needing_absent_files_is_skipped_with_the_reason
        path = netlist_path(entry, workdir)
        name = entry.id.replace(":", "_")
        (pytester.path / f"{name}.stab.yaml").write_text(case_text(entry, path))
        circuits[name] = (str(path), entry.params)
        entries.append((name, entry))
    pytester.makepyfile(test_fixture=PLUGIN_TEST.format(circuits=circuits))
    reprec = pytester.inline_run("-p", "stabkit.pytest_plugin", "-p", "no:cacheprovider")
    reports = {r.nodeid: r for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call"}
    for name, entry in entries:
        word = verdict_of(entry, workdir).verdict
        item = reports[f"{name}.stab.yaml::stable"]
        fixture_stable = reports[f"test_fixture.py::test_assert_stable[{name}]"]
        fixture_unstable = reports[f"test_fixture.py::test_assert_unstable[{name}]"]
        outcomes = (item.outcome, fixture_stable.outcome, fixture_unstable.outcome)
        assert outcomes == {"stable": ("passed", "passed", "failed"), "unstable": ("failed", "failed", "passed"),
                            "uncertain": ("failed", "failed", "failed")}[word], (name, word, outcomes)
        if word == "uncertain":
            assert "the verdict is uncertain" in item.longreprtext
            assert "stability is uncertain" in fixture_stable.longreprtext
        elif word == "unstable":
            assert "expected stable, found unstable" in item.longreprtext, item.longreprtext


# ----------------------------------------------------------------------------- cases that need ../shared
def _shared_files(netlist: Path) -> list[str]:
    """`.lib`/`.include` targets and `file=` blocks of a netlist that point into ../shared."""
    text = netlist.read_text(errors="replace")
    found = re.findall(r"^\s*\.(?:lib|include|inc)\s+['\"]?([^'\"\s]+)", text, flags=re.IGNORECASE | re.MULTILINE)
    found += re.findall(r"\bfile\s*=\s*['\"]?([^'\"\s]+)", text, flags=re.IGNORECASE)
    return [f for f in found if "shared/" in f.replace("\\", "/")]


def test_shipped_cases_declare_what_they_need_from_shared():
    """A case whose netlist reads ../shared says so in `requires:` (so it is skipped, not failed, without it)."""
    from stabkit.cases import load_case

    declared_any = False
    for path in sorted(CASES.glob("*.stab.yaml")):
        case = load_case(path)
        needed = {(case.netlist.parent / f).resolve() for f in _shared_files(case.netlist)}
        declared = {p.resolve() for p in case.requires}
        assert needed <= declared, f"{path}: the netlist reads {sorted(map(str, needed - declared))}; add them to requires:"
        declared_any |= bool(needed)
    assert declared_any  # the vendor Linvill case is one


def test_case_needing_absent_files_is_skipped_with_the_reason(tmp_path, pytester, monkeypatch):
    """The vendor Linvill case copied where ../../shared does not exist (a fresh clone without ../shared):
    `stabkit check` prints SKIP with the missing file and goes on (exit 0 with the other case passing);
    the plugin skips the items with the same reason."""
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    for name in ("linvill_bfr840.cir", "linvill_bfr840.stab.yaml", "ntype_smallsignal.cir", "ntype_oscillating.stab.yaml"):
        (folder / name).write_text((CASES / name).read_text())
    assert not (tmp_path / "shared").exists()
    code, out, err = _subprocess("check", str(folder))
    assert code == 0, out + err
    skip = [ln for ln in out.splitlines() if ln.startswith("SKIP")]
    assert len(skip) == 1 and "linvill_bfr840" in skip[0] and "BFR840L3RHESD.lib" in skip[0] and "absent" in skip[0]
    assert out.splitlines()[-1] == "2 case(s), 1 expectation(s) checked: all hold; 2 skipped (required files absent)"
    assert err == ""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest("-p", "stabkit.pytest_plugin", "-p", "no:cacheprovider", "-rs", str(folder))
    result.assert_outcomes(passed=1, skipped=2)
    assert "BFR840L3RHESD.lib, which is absent" in result.stdout.str()
