"""Lossy (RLGC) transmission lines: SPICE's ``O`` element with an ``ltra`` card.

Checked against ngspice's LTRA ``.ac`` (the four line types it accepts: RLC, RC, RG, LC), the textbook input
impedance of a terminated RLGC line (the one ngspice refuses: g and l both present), the lossless ``T`` line, the
DC operating point of a CMOS driver on a line against ngspice ``.op``, and the count of unstable natural
frequencies of a line with a negative-resistance termination against the roots of its characteristic equation
(written out here, found from a lumped-ladder approximation and refined by Newton)."""

from __future__ import annotations

import contextlib
import io
import shutil

import numpy as np
import pytest
import scipy.linalg as la

from stabkit.analysis.ports import zin
from stabkit.circuit.netlist import read_netlist
from stabkit.errors import NetlistError

NGSPICE = shutil.which("ngspice")

CARDS = {
    "rlc": "r=12.45 l=8.972e-9 g=0 c=0.468e-12 len=16",
    "rc": "r=1k l=0 g=0 c=1n len=0.01",
    "rg": "r=5 l=0 g=1m c=0 len=0.3",
    "lc": "r=0 l=250n g=0 c=100p len=0.5",
}


def terminated(card: str) -> str:
    return f"""line into 75 ohm || 1 pF
O1 a 0 b 0 lline
RL b 0 75
CL b 0 1p
.model lline ltra {card}
.end
"""


@pytest.mark.parametrize("kind", CARDS)
@pytest.mark.ngspice
@pytest.mark.skipif(NGSPICE is None, reason="ngspice is not installed (apt-get install ngspice); it is the reference "
                                            "simulator here")
def test_port_impedance_against_ngspice_ac(kind):
    from stabkit import ngspice

    text = terminated(CARDS[kind])
    f = np.logspace(4, 10, 25)
    ours = zin(read_netlist(text), "a", f).z
    theirs = ngspice.ac_vector(text.replace(".end", "IPROBE 0 a DC 0 AC 1\n.end"), f, "v(a)")
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_rlgc_input_impedance_closed_form():
    """``Zin = Zc·(ZL + Zc·tanh γℓ)/(Zc + ZL·tanh γℓ)`` with ``γ = √(z·y)``, ``Zc = √(z/y)``."""
    r, l, g, c, length = 5.0, 250e-9, 1e-3, 100e-12, 0.3
    text = terminated(f"r={r} l={l} g={g} c={c} len={length}")
    f = np.logspace(3, 10, 30)
    s = 2j * np.pi * f
    z, y = r + s * l, g + s * c
    gamma, zc = np.sqrt(z * y), np.sqrt(z / y)
    zl = 1 / (1 / 75 + s * 1e-12)
    t = np.tanh(gamma * length)
    expected = zc * (zl + zc * t) / (zc + zl * t)
    np.testing.assert_allclose(zin(read_netlist(text), "a", f).z, expected, rtol=1e-10)


def test_lossless_card_is_the_t_line():
    """``r = g = 0``: the lossless line ``Z0 = √(l/c)``, ``TD = ℓ·√(l·c)`` (a different element and formula)."""
    l, c, length = 250e-9, 100e-12, 0.5
    f = np.linspace(1e6, 5e9, 40)
    lossy = zin(read_netlist(terminated(f"r=0 l={l} g=0 c={c} len={length}")), "a", f).z
    t_line = read_netlist(terminated("r=1 l=1 c=1 len=1").replace("O1 a 0 b 0 lline",
                                                                    f"T1 a 0 b 0 Z0={float(np.sqrt(l / c))!r} "
                                                                    f"TD={float(length * np.sqrt(l * c))!r}"))
    np.testing.assert_allclose(lossy, zin(t_line, "a", f).z, rtol=1e-9)


DRIVER = """CMOS inverter driving a lossy line (level-1 cards)
VDD vdd 0 5
VIN in 0 DC {vin}
MP out in vdd vdd pch W=30u L=1u
MN out in 0 0 nch W=15u L=1u
CN out 0 25f
O1 out 0 far 0 lline
CF far 0 10f
RF far 0 10k
.param vin=2.2
.model nch nmos level=1 vto=0.8 kp=48u gamma=0.3 phi=0.55 lambda=0.02 tox=20n cgso=2e-10 cgdo=2e-10
.model pch pmos level=1 vto=-0.8 kp=21u gamma=0.45 phi=0.61 lambda=0.02 tox=20n cgso=2e-10 cgdo=2e-10
.model lline ltra r=12.45 l=8.972e-9 g=0 c=0.468e-12 len=4 steplimit compactrel=1.0e-3 compactabs=1.0e-14
.end
"""


@pytest.mark.parametrize("vin", ["0", "2.2"])
def test_cmos_driver_on_a_lossy_line(vin):
    """The driver's operating point (the line is r·len at DC, carrying the 10 kΩ load's current) against ngspice
    ``.op`` within 1e-6 V, and the verdict: stable (no loop closes through the line), decided by the NDF
    without doubt."""
    from stabkit.analysis.points import linear_points
    from stabkit.analysis.verdict import decide

    text = DRIVER.replace(".param vin=2.2", f".param vin={vin}")
    circuit = read_netlist(text)
    point = linear_points(circuit)[0]
    if NGSPICE is not None:
        from stabkit import ngspice

        op = ngspice.operating_point(text.replace(".end", ".options reltol=1e-9 vntol=1e-12\n.end"))
        for node in ("out", "far"):
            np.testing.assert_allclose(point.voltages[node], op[node], atol=1e-6)
    verdict = decide(circuit)
    assert verdict.verdict == "stable", verdict.reasons
    assert verdict.points[0].ndf.doubts == []


NEGATIVE = """negative resistance at the near end of a lossy line
RN a 0 {rn}
CA a 0 2p
O1 a 0 b 0 lline
CB b 0 1p
.param rn=-200
.model lline ltra r=5 l=250n g=0 c=100p len=0.1
.end
"""


def characteristic(s, rn, r=5.0, l=250e-9, c=100e-12, length=0.1, ca=2e-12, cb=1e-12):
    """``(1/rn + s·CA)·(A + B·s·CB) + C + A·s·CB`` (KCL at the near end, the line's chain matrix)."""
    z, y = r + s * l, s * c
    gamma_l = length * np.sqrt(z * y)
    a, sinhc = np.cosh(gamma_l), np.sinh(gamma_l) / gamma_l
    b, cc = length * z * sinhc, length * y * sinhc
    return (1 / rn + s * ca) * (a + b * s * cb) + cc + a * s * cb


def exact_rhp_roots(rn, sections=200) -> np.ndarray:
    """RHP roots of :func:`characteristic`: eigenvalues of a lumped ladder (``sections`` RLC sections) as starting
    points, each refined by Newton on the exact equation; duplicates merged."""
    r, l, c, length, ca, cb = 5.0, 250e-9, 100e-12, 0.1, 2e-12, 1e-12
    dx, nv = length / sections, sections + 1
    n = nv + sections
    a_mat, b_mat = np.zeros((n, n)), np.zeros((n, n))
    caps = np.full(nv, c * dx)
    caps[0], caps[-1] = ca + c * dx / 2, cb + c * dx / 2
    b_mat[np.arange(nv), np.arange(nv)] = caps
    a_mat[0, 0] = -1 / rn
    for j in range(sections):  # inductor current j from node j to node j+1
        a_mat[j, nv + j] -= 1
        a_mat[j + 1, nv + j] += 1
        b_mat[nv + j, nv + j] = l * dx
        a_mat[nv + j, nv + j] = -r * dx
        a_mat[nv + j, j] += 1
        a_mat[nv + j, j + 1] -= 1
    w = la.eigvals(a_mat, b_mat)
    roots = []
    for s in w[(w.real > 0) & (w.imag >= 0)]:
        for _ in range(60):
            h = 1e-7 * abs(s)
            s = s - characteristic(s, rn) * 2 * h / (characteristic(s + h, rn) - characteristic(s - h, rn))
        assert abs(characteristic(s, rn)) < 1e-9
        if s.real > 0 and not any(abs(s - x) < 1e-6 * abs(s) for x in roots):
            roots.append(s)
    roots = np.array(roots)
    return np.concatenate([roots, roots[roots.imag > 1e-6 * np.abs(roots)].conj()])


def test_negative_resistance_on_a_lossy_line_counts_every_round_trip_mode():
    """-200 Ω ∥ 2 pF at the near end, 1 pF at the far end of a 0.1 m, 50 Ω line with a little loss: a real RHP
    pole and RHP pairs at about every 1 GHz up to ~10 GHz, a few 100 kHz from the axis; the NDF counts all of
    them (no doubt) — the same number as the exact equation."""
    from stabkit.analysis.verdict import decide

    expected = exact_rhp_roots(-200.0)
    assert expected.size > 20
    verdict = decide(read_netlist(NEGATIVE))
    assert verdict.verdict == "unstable"
    ndf = verdict.points[0].ndf
    assert ndf.doubts == []
    assert ndf.encirclements == expected.size


def test_poles_command_on_a_lossy_line_says_the_ndf_decides(tmp_path):
    from stabkit.cli import main

    path = tmp_path / "driver.cir"
    path.write_text(DRIVER)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["poles", str(path)])
    assert code == 0, err.getvalue()
    assert "distributed elements: no finite set of natural frequencies; the verdict is the NDF's" in out.getvalue()


@pytest.mark.parametrize("card, message", [
    (".model other nmos level=1", "model other is of type 'nmos'; a lossy line (O) needs an ltra card"),
    (".model lline ltra r=1 l=1n c=1p", "ltra card lline needs len="),
    (".model lline ltra r=1 l=1n c=1p len=1 zz=3", "unknown parameter zz"),
    (".model lline ltra r=1 l=1n c=1p len=0", "needs len > 0"),
    (".model lline ltra r=0 l=0 c=1p len=1", "has neither r nor l"),
    (".model lline ltra r=1 l=1n c=-1p len=1", "needs c >= 0"),
    ("", "uses model 'lline', but no .model card of that name exists"),
])
def test_bad_lines_are_refused_naming_the_line(card, message):
    text = f"bad line\nR1 a 0 50\nO1 a 0 b 0 {'other' if 'other' in card else 'lline'}\nR2 b 0 50\n{card}\n.end\n"
    with pytest.raises(NetlistError) as info:
        read_netlist(text)
    assert str(info.value).startswith("<netlist>:3: ")
    assert message in str(info.value)
