"""The negative-inductor paper's NIC as shipped (cases/linvill_bfr840.cir: emitter port, vendor BFR840 models).

References: ngspice ``op`` (bias, also of a re-biased column with the DC-carrying Rc) and ``ac`` (port impedance)
on the same nonlinear netlist, and the exact natural frequencies at chosen external inductances for the
claims docs/paper.md makes (the as-specified design's one unstable pair, the shipped design's window)."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from stabkit import ngspice
from stabkit.nonlinear.dc import dc_point as bias_point
from stabkit.nonlinear.linearize import small_signal_circuit as small_signal
from stabkit.analysis.equiv import PortModel, with_line_load
from stabkit.analysis.points import linear_point_near
from stabkit.analysis.poles import poles
from stabkit.circuit.graph import Circuit

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "linvill_bfr840.cir"
VENDOR_LIB = ROOT.parent / "shared" / "models" / "BFR840L3RHESD.lib"
#: the paper's text values: no shunt across the load, Ln for -5 nH at 1 GHz, Rn = 10 ohm
AS_SPECIFIED = {"rp": 1e12, "lload": 5.3e-9, "rload": 10.0}


@pytest.fixture(scope="module")
def nic():
    if not VENDOR_LIB.is_file():
        pytest.skip(f"{VENDOR_LIB} is absent: the Infineon model is read from ../shared/models, never shipped")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # model notes (MJC/MJS limited to 0.999)
        circuit = Circuit.from_netlist(str(CASE))
        return circuit, small_signal(circuit)


def _ngspice_text(sets: dict[str, float] | None = None, extra: str = "") -> str:
    text = CASE.read_text().replace(".lib ../../shared/models/BFR840L3RHESD.lib", f".include {VENDOR_LIB}")
    for name, value in (sets or {}).items():
        lines = [ln for ln in text.splitlines() if ln.lower().startswith(f".param {name}=")]
        assert len(lines) == 1, name
        text = text.replace(lines[0], f".param {name}={value!r}")
    return text.replace("\n.end", extra + "\n.end")


@pytest.mark.ngspice
@pytest.mark.parametrize("sets", [{}, {"rc": 8.0}, {"u": 5.0}])
def test_bias_agrees_with_ngspice_op(nic, sets, ngspice_required):
    """The operating point (also re-biased: the paper's Rc carries the collector current, U moves everything)
    against ngspice; at U = 7 V, Rc = 0 it is the paper's 3.3 mA at 1.6 V."""
    circuit, _ = nic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = linear_point_near(circuit, sets)
    theirs = ngspice.operating_point(_ngspice_text(sets))
    nodes = ["vdd", "k1", "k2", "c1", "c2", "b1", "b2", "e1", "e2", "in"]
    np.testing.assert_allclose([ours.voltages[n] for n in nodes], [theirs[n] for n in nodes], rtol=1e-6, atol=1e-9)
    q = ours.transistors[0]
    if not sets:
        assert q["ic"] == pytest.approx(3.3e-3, rel=0.02) and q["vce"] == pytest.approx(1.6, abs=0.05)
    if sets.get("rc"):
        base = bias_point(circuit).transistors["X1.Q1"]
        assert q["vce"] == pytest.approx(base.vce - 8.0 * q["ic"], abs=2e-3)  # Rc drops Vce by Rc·Ic


@pytest.mark.ngspice
def test_port_impedance_agrees_with_ngspice_ac(nic, ngspice_required):
    """Zin at "in" with the external load removed (stabkit: the elements detached; ngspice: rsrc = 1 Tohm)."""
    circuit, _ = nic
    f = np.geomspace(0.1e9, 10e9, 5)  # two per decade (ngspice "ac dec 2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = PortModel(circuit, "in", external=["LEXT", "RSRC"]).z(f)
    theirs = ngspice.ac_vector(_ngspice_text({"rsrc": 1e12}, "\nIPORT 0 in dc 0 ac 1"), f, "v(in)")
    np.testing.assert_allclose(ours, theirs, rtol=2e-4)  # the residue: ngspice's excess phase (PTF)


def _rhp(lin, params):
    p = poles(lin, params).poles_hz
    return p[p.real > 0]


def test_as_specified_design_has_one_unstable_pair_for_every_lext(nic):
    """The text's values (no shunt across the load): for L_ext from 5 to 30 nH exactly one complex pair between
    2.5 and 5 GHz is in the right half-plane, and no low-frequency mode (no DC block needed in the load)."""
    _, lin = nic
    lin = lin.with_values(AS_SPECIFIED)
    growth = []
    for lext in (5e-9, 7.5e-9, 10e-9, 12.5e-9, 15e-9, 20e-9, 30e-9):
        rhp = _rhp(lin, {"lext": lext})
        assert rhp.size == 2 and np.all(2.5e9 < abs(rhp.imag)) and np.all(abs(rhp.imag) < 5e9), (lext, rhp)
        growth.append(rhp.real.max())
    assert int(np.argmin(growth)) in (2, 3)  # bathtub: least unstable near 10 nH


def test_shipped_design_window_lies_above_l0(nic):
    """With the shunt rp = 700 ohm across the load: stable at 8, 12 and 16 nH, unstable at 7 and 18 nH and for
    L_ext below |L0| = 5 nH (the ideal rule's side)."""
    _, lin = nic
    for lext, stable in ((3e-9, False), (7e-9, False), (8e-9, True), (12e-9, True), (16e-9, True), (18e-9, False)):
        assert (_rhp(lin, {"lext": lext}).size == 0) == stable, lext


def test_port_model_travels_to_worker_processes(nic):
    """`design_rows` sends each row's port model to a process pool: the vendor-model NIC with the line load (whose
    MNA entries and DC problem hold closures) pickles without its solvers and DC problem, and the copy gives the
    same Zin, re-assembled (the same arithmetic: equal to the bit)."""
    circuit, _ = nic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PortModel(with_line_load(circuit, "LN", 90.0, 1e9), "in", external=["LEXT", "RSRC"])
    f = np.geomspace(0.1e9, 10e9, 9)
    z = model.z(f, {"lload": 8.6e-9})
    copy = pickle.loads(pickle.dumps(model))
    assert copy.point.dc is None and not copy._solvers
    np.testing.assert_array_equal(copy.z(f, {"lload": 8.6e-9}), z)
