"""Pole sensitivities (stabkit.analysis.sensitivity) against closed forms and finite differences.

References: the implicit-function derivative of the characteristic polynomial of the N-type small-signal
circuit (closed form), central differences of recomputed poles (a second method) on a dependent-source NIC
and on the vendor-model Linvill NIC (where parameters re-bias the transistors), and scipy's dense
eigen-solver for the left/right null vectors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg as la

from stabkit.analysis.sensitivity import (finite_difference_sensitivity, refine_eigentriple, select_modes,
                                          sensitivities)
from stabkit.circuit.graph import Circuit

ROOT = Path(__file__).resolve().parents[1]
VENDOR_LIB = ROOT.parent / "shared" / "models" / "BFR840L3RHESD.lib"
TWO_PI = 2 * np.pi


def test_refined_triple_is_a_null_pair_of_the_pencil():
    """Left and right null vectors of G + sC at an eigenvalue of a random regular pencil with singular C
    (three algebraic unknowns), against scipy's QZ eigenvalues."""
    rng = np.random.default_rng(3)
    n = 9
    G = rng.standard_normal((n, n))
    C = rng.standard_normal((n, n))
    C[:, -3:] = 0.0  # C singular: infinite eigenvalues in the pencil
    ev = la.eigvals(G, -C)
    finite = ev[np.isfinite(ev)]
    s0 = finite[np.argmax(finite.imag)]
    t = refine_eigentriple(G, C, s0 * (1 + 1e-7))  # start slightly off the eigenvalue
    np.testing.assert_allclose(t.s, s0, rtol=1e-10)
    assert t.genuine
    np.testing.assert_allclose((G + t.s * C) @ t.right, 0, atol=1e-10 * la.norm(G))
    np.testing.assert_allclose(t.left.conj() @ (G + t.s * C), 0, atol=1e-10 * la.norm(G))


def test_select_modes():
    p = np.array([-1 + 10j, -1 - 10j, 2 + 5j, 2 - 5j, -0.05 + 1j, -0.05 - 1j, -3.0])
    np.testing.assert_allclose(select_modes(p, "rhp"), [2 + 5j])
    np.testing.assert_allclose(select_modes(p, "least-damped"), [2 + 5j])
    np.testing.assert_allclose(select_modes(p[[0, 1, 4, 5, 6]], "auto"), [-0.05 + 1j])  # ζ 0.05 < 0.0995
    assert select_modes(p, 2).size == 2
    with pytest.raises(ValueError):
        select_modes(p, "most")


def _ntype_closed_form(R, L, C, g):
    """Pole with Im > 0 of LC s² + (RC − gL) s + (1 − gR) = 0 and ds/dp = −(∂P/∂p)/(∂P/∂s) for p = R, L, C, g."""
    s = np.roots([L * C, R * C - g * L, 1 - g * R])
    s = s[np.argmax(s.imag)]
    dP_ds = 2 * L * C * s + R * C - g * L
    return s, {"R": -(C * s - g) / dP_ds, "L": -(C * s * s - g * s) / dP_ds,
               "C": -(L * s * s + R * s) / dP_ds, "g": -(-L * s - R) / dP_ds}


def test_ntype_sensitivities_match_the_characteristic_polynomial():
    """cases/ntype_smallsignal.cir: −g ∥ Cj fed by Rs + Ls. Element values (Rs, Ls, Cj, Rneg = −1/g) and the
    .params (rser, lser, cj, rneg = 1/g) against the implicit-function derivatives of the quadratic."""
    c = Circuit.from_netlist(str(ROOT / "cases" / "ntype_smallsignal.cir"))
    R, L, C, rneg = 30.0, 30e-9, 25e-12, 58.9
    s, d = _ntype_closed_form(R, L, C, 1 / rneg)
    res = sensitivities(c, which="least-damped")
    (mode,) = res.modes
    np.testing.assert_allclose(mode.pole_hz, s / TWO_PI, rtol=1e-10)
    by_name = {x.name.lower(): x for x in [*mode.elements, *mode.parameters]}
    expected = {"rs": d["R"], "ls": d["L"], "cj": d["C"],
                "rneg": d["g"] / (-rneg) ** 2,  # Rneg's value v = −rneg, g = −1/v: dg/dv = 1/v²
                "rser": d["R"], "lser": d["L"], "cj_param": d["C"], "rneg_param": d["g"] * (-1 / rneg ** 2)}
    for name in ("rs", "ls", "cj", "rneg"):
        el = next(x for x in mode.elements if x.name.lower() == name)
        np.testing.assert_allclose(el.derivative, expected[name], rtol=1e-8, err_msg=name)
    for name, key in (("rser", "rser"), ("lser", "lser"), ("cj", "cj_param"), ("rneg", "rneg_param")):
        par = next(x for x in mode.parameters if x.name == name)
        np.testing.assert_allclose(par.derivative, expected[key], rtol=1e-6, err_msg=name)
    assert by_name["rs"].re_hz_relative < 0  # more series resistance damps the mode: Re s = −R/2L + g/2C
    np.testing.assert_allclose(by_name["rs"].re_hz_relative, -R / (2 * L) / TWO_PI, rtol=1e-8)


def test_dependent_source_nic_sensitivities_match_finite_differences():
    """cases/linvill_vccs_emitter.cir with beta = 100 (VCCS transistors): every element's dRe, dIm against
    central differences of the recomputed poles (relative step 1e-5)."""
    c = Circuit.from_netlist(str(ROOT / "cases" / "linvill_vccs_emitter.cir"))
    params = {"rpi": 1e3, "lext": 8e-9}
    res = sensitivities(c, params, which="rhp", parameters=False)
    assert res.modes, "this design is unstable at lext = 8 nH (below the closed-form bound 13 nH)"
    mode = res.modes[0]
    for el in mode.elements:
        fd = finite_difference_sensitivity(c.with_values(params), el.name, mode.pole_hz, rel_step=1e-5)
        np.testing.assert_allclose(el.derivative / TWO_PI, fd, rtol=2e-4, atol=1e-6 * abs(fd) + 1e-30,
                                   err_msg=el.name)


def test_poles_cli_sensitivity_json(capsys):
    from stabkit.cli import main

    code = main(["poles", str(ROOT / "cases" / "ntype_smallsignal.cir"), "--set", "lser=60n", "--sensitivity",
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["verdict"] == "unstable"
    (mode,) = data["sensitivities"]
    p = mode["pole_hz"]
    rhp = [q for q in data["poles"] if q[0] > 0 and q[1] > 0]
    np.testing.assert_allclose(p, rhp[0], rtol=1e-9)
    rel = [abs(e["dre_hz_relative"]) for e in mode["elements"]]
    assert rel == sorted(rel, reverse=True)
    s, d = _ntype_closed_form(30.0, 60e-9, 25e-12, 1 / 58.9)
    ls = next(e for e in mode["elements"] if e["name"] == "Ls")
    np.testing.assert_allclose(ls["dre_hz_per_unit"], d["L"].real / TWO_PI, rtol=1e-8)


@pytest.fixture(scope="module")
def vendor_case():
    if not VENDOR_LIB.is_file():
        pytest.skip(f"{VENDOR_LIB} is absent: the Infineon model is read from ../shared/models, never shipped")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Circuit.from_netlist(str(ROOT / "cases" / "linvill_bfr840.cir"))


def test_vendor_nic_mode_and_sensitivities_match_finite_differences(vendor_case):
    """The as-specified NIC (no shunt rp, Ln = 5.3 nH, Rn = 10 Ω) at L_ext = 10 nH has one unstable pair near
    4 GHz. Its sensitivities to the top-ranked elements of the small-signal circuit (frozen bias) and to
    .params — rload (no DC), u and rc (they move the DC point: re-biased) — against central differences of
    the recomputed poles (relative step 1e-3)."""
    params = {"rp": 1e12, "lload": 5.3e-9, "rload": 10.0, "lext": 10e-9, "rc": 8.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sensitivities(vendor_case, params, which="rhp", parameters=["rload", "u", "rc", "lext"])
        (mode,) = res.modes
        assert 3e9 < mode.pole_hz.imag < 5e9 and mode.pole_hz.real > 0
        assert mode.genuine
        checks = [mode.elements[0], mode.elements[1], next(e for e in mode.elements if e.name == "X2.Q1.gm"),
                  *mode.parameters]
        for item in checks:
            fd = finite_difference_sensitivity(vendor_case, item.name, mode.pole_hz, params, rel_step=1e-3)
            np.testing.assert_allclose(item.derivative / TWO_PI, fd, rtol=3e-3, err_msg=item.name)
    # the linear solve behind them: the pole is an eigenvalue of the assembled pencil to rounding
    assert mode.residual < 1e-10
