"""Pole continuation along a sweep (stabkit.analysis.continuation) and its use in the loads edge search, against
closed forms, the exact poles (stabkit.analysis.poles) at every swept point, and bisection on the verdicts."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg as la

from stabkit import examples
from stabkit.analysis import continuation
from stabkit.analysis.continuation import edge_by_continuation, pole_derivatives, track_poles
from stabkit.analysis.loads import CircuitProbe, admissible_range
from stabkit.analysis.points import sweep_circuit
from stabkit.analysis.poles import poles
from stabkit.circuit.graph import Circuit
from stabkit.circuit.netlist import read_netlist
from stabkit.errors import StabkitWarning

TWO_PI = 2 * math.pi
CASES = Path(__file__).resolve().parents[1] / "cases"
L_S, C_S, R_S = 1e-6, 1e-9, 10.0  # series R–L–C; the negative resistor rn is swept


def _series_rlc(rn: float = -5.0) -> Circuit:
    """R_S + rn + L + C in one loop: s² + (R_S + rn)/L·s + 1/(LC) = 0, stable iff rn > −R_S."""
    c = Circuit("series RLC with a negative resistor")
    c.set_param("rn", rn)
    c.add_resistor("Rpos", "0", "a", R_S)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        c.add_resistor("Rneg", "a", "b", "rn")
    c.add_inductor("L1", "b", "c", L_S)
    c.add_capacitor("C1", "c", "0", C_S)
    return c


def _rlc_poles(rn: float) -> np.ndarray:
    """Both roots of L·C·s² + (R_S + rn)·C·s + 1, upper one (Im ≥ 0, or the larger real one) first."""
    a = (R_S + rn) / L_S
    disc = np.sqrt(complex(a * a - 4.0 / (L_S * C_S)))
    return np.array([(-a + disc) / 2, (-a - disc) / 2])


def _rlc_pencil(rn: float):
    return CircuitProbe(_series_rlc(), "rn", method="poles").pencil(rn)


# ------------------------------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("predictor", ["secant", "tangent"])
def test_series_rlc_poles_followed_through_the_edge_match_the_closed_form(predictor):
    """The least-damped pole of the series RLC followed over rn ∈ [−2, −18] (through R_total = 0) is the closed
    form's root at every swept value."""
    values = np.linspace(-2.0, -18.0, 9)
    track = track_poles(CircuitProbe(_series_rlc(), "rn", method="poles").pencil, values, param="rn",
                        predictor=predictor)
    assert track.complete and not track.warnings
    at, got = track.at_requested()
    np.testing.assert_array_equal(at, values)
    expected = np.array([_rlc_poles(v)[0] for v in values])
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-10)
    assert np.all(track.residuals <= 1e-10)


def test_series_rlc_edge_is_where_the_total_resistance_vanishes():
    """Edge at rn = −R_S exactly, where the pair crosses the jω axis at 1/(2π√(LC))."""
    probe = CircuitProbe(_series_rlc(), "rn", method="poles")
    located = edge_by_continuation(probe.pencil, -4.0, -17.0, param="rn", rtol=1e-12)
    assert located.found and located.status == "found" and located.crossing == "complex pair"
    np.testing.assert_allclose(located.value, -R_S, rtol=1e-11)
    assert abs(located.value + R_S) <= located.tolerance <= 1e-9 * R_S  # the stated tolerance holds
    np.testing.assert_allclose(located.f_osc, 1.0 / (TWO_PI * math.sqrt(L_S * C_S)), rtol=1e-12)
    assert abs(located.pole.real) <= 1e-9 * abs(located.pole)
    assert located.pencils < 20  # a few pencils, not a scan
    json.loads(json.dumps(located.to_dict()))


def test_pole_derivative_matches_closed_form_and_finite_differences():
    """ds/drn by first-order perturbation with null vectors = d/drn of the closed-form root = central
    difference of the exact poles."""
    rn = -7.0
    s = _rlc_poles(rn)[0]
    got = pole_derivatives(_rlc_pencil, rn, [s])[0]
    a = (R_S + rn) / L_S
    disc = np.sqrt(complex(a * a - 4.0 / (L_S * C_S)))
    closed = (-1.0 / L_S + (a / L_S) / disc) / 2
    np.testing.assert_allclose(got, closed, rtol=1e-7)
    h = 1e-4
    up = poles(_series_rlc(), {"rn": rn + h}).poles
    down = poles(_series_rlc(), {"rn": rn - h}).poles
    fd = (up[np.argmin(abs(up - s))] - down[np.argmin(abs(down - s))]) / (2 * h)
    np.testing.assert_allclose(got, fd, rtol=1e-6)


def test_real_poles_collide_and_part_again_step_control_keeps_both():
    """Over rn ∈ [190, −210] the two real poles collide at R_total = 2√(L/C), travel as a pair through the edge
    and part again at −2√(L/C): both followed poles equal the closed-form roots throughout (the pair as
    conjugates, not twice the same root)."""
    values = np.linspace(190.0, -210.0, 9)
    track = track_poles(_rlc_pencil, values, count=2, param="rn")
    assert track.complete
    at, got = track.at_requested()
    for v, row in zip(at, got):
        expected = _rlc_poles(v)
        assert abs(row[0] - row[1]) > 1e-3 * abs(row[0])  # two poles, not one twice
        for s in row:
            assert np.min(np.abs(expected - s)) <= 1e-9 * abs(s)
    assert track.halvings > 0  # the square-root corners forced smaller steps
    assert any("collide" in w for w in track.warnings)


def _tanks(c2: float, coupling: float = 0.05):
    """Two series R–L–C loops (5.03 MHz fixed, and one tuned by c2) coupled by a small shared resistance."""
    def tank(r, ind, cap):
        return np.array([[r, 1.0], [-1.0, 0.0]]), np.array([[ind, 0.0], [0.0, cap]])

    g1, k1 = tank(2.0, 1e-6, 1e-9)
    g2, k2 = tank(2.2, 1e-6, c2)
    G, C = la.block_diag(g1, g2), la.block_diag(k1, k2)
    G[0, 2] = G[2, 0] = coupling
    return G, C


def _upper_eigenvalues(c2: float) -> np.ndarray:
    G, C = _tanks(c2)
    w = la.eigvals(-G, C)
    w = w[w.imag > 0]
    return w[np.argsort(w.imag)]


@pytest.mark.parametrize("values", [[0.25e-9, 0.3e-9, 1.2e-9], [0.25e-9, 1.1e-9], [0.25e-9, 0.6e-9, 1.5e-9, 4e-9]])
def test_two_poles_cross_step_control_keeps_each_on_its_own_path(values, monkeypatch):
    """The tuned tank's pole sweeps down through the fixed one's frequency (they pass within 16 kHz of each other
    at c2 = 1 nF). With step control each followed pole stays itself (Im > 0, the dense eigenvalues at every
    requested value; the tuned one near its uncoupled closed form). Without it (no halving) the same coarse
    steps land on the conjugate pole — the check can fail."""
    start = _upper_eigenvalues(values[0])  # (fixed 5.03 MHz, tuned) by increasing frequency
    track = track_poles(_tanks, values, start)
    assert track.complete
    at, got = track.at_requested()
    for c2, row in zip(at, got):
        exact = _upper_eigenvalues(c2)
        for s in row:
            assert np.min(np.abs(exact - s)) <= 1e-9 * abs(s)
        alpha = 2.2 / 2e-6
        tuned = -alpha + 1j * math.sqrt(1 / (1e-6 * c2) - alpha ** 2)
        np.testing.assert_allclose(row[1], tuned, rtol=2e-3)  # the coupling shifts it by < 0.2 %
        np.testing.assert_allclose(row[0], exact[np.argmin(np.abs(exact - 2 * math.pi * 5.0304e6j))], rtol=1e-9)
    monkeypatch.setitem(continuation.defaults, "continuation.max_halvings", 0)
    blind = track_poles(_tanks, values, start)
    assert blind.poles[-1, 1].imag < 0  # landed on the conjugate of the tuned pole


# ------------------------------------------------------------------------------------------ circuits in cases/
def test_tunnel_diode_case_followed_poles_equal_exact_poles_at_every_point():
    """cases/tunnel_amp.cir (1N3716 biased in its NDR region), linearized once, series inductance ls swept over
    1 … 40 nH: the followed rightmost pole is the exact pencil's rightmost pole at each value, and the edge found
    by continuation is where the exact poles change sides."""
    circuit = read_netlist(CASES / "tunnel_amp.cir")
    lin = sweep_circuit(circuit, {"ls": [1e-9, 40e-9]})
    probe = CircuitProbe(lin, "ls", method="poles")
    values = np.geomspace(1e-9, 40e-9, 7)
    track = track_poles(probe.pencil, values, param="ls")
    assert track.complete
    at, got = track.at_requested()
    for ls, s in zip(at, got[:, 0]):
        exact = poles(lin, {"ls": ls}).poles
        exact = exact[exact.imag >= 0]
        rightmost = exact[np.argmax(exact.real / np.abs(exact))]
        np.testing.assert_allclose(s, rightmost, rtol=1e-9)
    res = admissible_range(lin, "ls", 1e-9, 40e-9, points=9)
    (edge,) = res.edges
    assert edge.located_by == "continuation"
    exact_lo = poles(lin, {"ls": edge.value * (1 - 1e-7)}).poles
    exact_hi = poles(lin, {"ls": edge.value * (1 + 1e-7)}).poles
    assert (exact_lo.real.max() < 0) != (exact_hi.real.max() < 0)


def test_large_circuit_sparse_and_dense_factorizations_find_the_same_edge(monkeypatch):
    """Active RC ladder of 80 nodes (above the dense limit: SuperLU), its negative resistor swept: the real pole
    crossing through s = 0 is where the eigenvalues (scipy's QZ; every node has its capacitor, so C is
    nonsingular and all are finite) change sides, and the dense path finds the same value."""
    lad = examples.active_rc_ladder(80)
    probe = CircuitProbe(lad, "Rneg", method="poles")

    def eigenvalues(x):
        G, C = (m.toarray() for m in probe.pencil(x))
        return la.eigvals(-G, C)

    assert probe.pencil(-100.0)[0].shape[0] > continuation.defaults["continuation.dense_max_n"]
    unstable = eigenvalues(-100.0)
    located = edge_by_continuation(probe.pencil, -150.0, -100.0, unstable, param="Rneg")
    assert located.found and located.crossing == "real pole" and located.f_osc == 0.0
    x = located.value
    less, more = (eigenvalues(v) for v in (x * (1 - 1e-6), x * (1 + 1e-6)))
    assert less.real.max() > 0 > more.real.max()  # a more negative Rneg (more loss at n2) is stable
    monkeypatch.setitem(continuation.defaults, "continuation.dense_max_n", 10_000)
    dense = edge_by_continuation(probe.pencil, -150.0, -100.0, unstable, param="Rneg")
    np.testing.assert_allclose(dense.value, x, rtol=1e-9)


def test_continuation_edges_agree_with_bisection_and_closed_form():
    """N-type −r ∥ C fed by R + L: edges L/(rC) (a pair at √((1 − R/r)/(LC))/2π) and r (a real pole through
    s = 0). Continuation puts them within 1e-9 of the closed form (bisection only within its rtol = 1e-4), inside
    bisection's proven bracket, with 2 verdicts each instead of ~5–16."""
    r, cap, ind = 50.0, 10e-12, 1e-9
    c = examples.ntype_series_rl(1 / r, cap, 10.0, ind)
    cont = admissible_range(c, "Rs", 0.1, 1000.0, points=15)
    bis = admissible_range(c, "Rs", 0.1, 1000.0, points=15, locate="bisection")
    low = ind / (r * cap)
    assert not cont.warnings
    assert [e.located_by for e in cont.edges] == ["continuation"] * 2
    assert [e.located_by for e in bis.edges] == ["bisection"] * 2
    np.testing.assert_allclose([e.value for e in cont.edges], [low, r], rtol=1e-9)
    probe = CircuitProbe(c, "Rs", method="poles")
    for x, stable, unstable in ((low, 1.1 * low, 0.9 * low), (r, 0.9 * r, 1.1 * r)):
        located = edge_by_continuation(probe.pencil, stable, unstable, param="Rs")
        assert abs(located.value - x) <= located.tolerance <= 1e-9 * x  # the stated tolerance holds
    np.testing.assert_allclose([e.value for e in bis.edges], [low, r], rtol=1e-4)
    for ce, be in zip(cont.edges, bis.edges):
        assert be.bracket[0] <= ce.value <= be.bracket[1]
        assert ce.bracket[1] - ce.bracket[0] <= 1e-4 * ce.value  # the verdicts still prove rtol
        assert ce.evaluations == 2 < be.evaluations
    np.testing.assert_allclose(cont.edges[0].f_osc, math.sqrt((1 - low / r) / (ind * cap)) / TWO_PI, rtol=1e-9)
    assert cont.edges[1].f_osc == 0.0 and cont.edges[1].crossing == "real pole" and cont.edges[1].via == "origin"
    assert cont.evaluations < bis.evaluations


def test_pole_through_infinity_is_left_to_bisection():
    """Ideal NIC: the real pole −R/(L_ext − L0) crosses through infinity at L_ext = L0 — no Re s = 0 to find, so
    continuation says so and bisection locates the edge (without a warning: nothing disagreed)."""
    probe = CircuitProbe(examples.ideal_nic(5e-9, 1e-8), "Lext", method="poles")
    located = edge_by_continuation(probe.pencil, 6e-9, 4e-9, param="Lext")
    assert not located.found and located.status == "infinity"
    res = admissible_range(examples.ideal_nic(5e-9, 1e-8), "Lext", 0.1e-9, 100e-9)
    (edge,) = res.edges
    assert edge.located_by == "bisection" and edge.via == "infinity"
    np.testing.assert_allclose(edge.value, 5e-9, rtol=1e-4)
    assert not any("continuation" in w for w in res.warnings)


class _OffsetPencilProbe(CircuitProbe):
    """A probe whose pencil is that of a 2 % larger parameter value: continuation's edge then disagrees with the
    verdicts, which must send the edge back to bisection."""

    def pencil(self, x):
        return super().pencil(1.02 * x)


def test_cross_check_with_the_verdicts_falls_back_to_bisection():
    r, cap, ind = 50.0, 10e-12, 1e-9
    c = examples.ntype_series_rl(1 / r, cap, 10.0, ind)
    res = admissible_range(c, "Rs", 0.1, 1000.0, points=15, probe=_OffsetPencilProbe(c, "Rs", method="poles"))
    assert [e.located_by for e in res.edges] == ["bisection"] * 2
    np.testing.assert_allclose([e.value for e in res.edges], [ind / (r * cap), r], rtol=1e-4)
    assert sum("located by bisection instead" in w for w in res.warnings) == 2


def test_cli_json_reports_f_osc_and_how_each_edge_was_located(capsys):
    from stabkit.cli import main

    args = ["loads", str(CASES / "ntype_smallsignal.cir"), "--sweep", "lser", "--from", "1n", "--to", "200n", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    (edge,) = out["edges"]
    for key in ("value", "side", "bracket", "evaluations", "crossing", "freq_hz", "pole_hz", "via"):
        assert key in edge  # the contract's keys stay
    # closed form: lser = rser·cj·rneg, where L·C·s² + (R·C − L/r)·s + 1 − R/r has ω² = (1 − R/r)/(L·C)
    rneg, cj, rser = 58.9, 25e-12, 30.0
    lser = rser * cj * rneg
    assert edge["located_by"] == "continuation" and edge["pencils"] > 0
    np.testing.assert_allclose(edge["value"], lser, rtol=1e-9)
    np.testing.assert_allclose(edge["f_osc"], math.sqrt((1 - rser / rneg) / (lser * cj)) / TWO_PI, rtol=1e-9)
    assert main([*args, "--locate", "bisection"]) == 0
    (edge,) = json.loads(capsys.readouterr().out)["edges"]
    assert edge["located_by"] == "bisection" and edge["pencils"] == 0
    np.testing.assert_allclose(edge["value"], lser, rtol=1e-4)


# ------------------------------------------------------------------------------------------ API
def test_track_plot_draws_the_followed_poles():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = np.linspace(-2.0, -18.0, 5)
    track = track_poles(_rlc_pencil, values, param="rn")
    ax = track.plot(unit="Ω", edges=[-R_S])
    (line,) = [ln for ln in ax.lines if ln.get_label() == "pole 1"]
    np.testing.assert_allclose(line.get_ydata(), [_rlc_poles(v)[0].real / TWO_PI for v in np.sort(track.values)],
                               rtol=1e-9, atol=1e-3)
    assert any(ln.get_linestyle() == "--" and ln.get_xdata()[0] == -R_S for ln in ax.lines)
    plt.close(ax.figure)
    json.loads(json.dumps(track.to_dict()))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="strictly"):
        track_poles(_rlc_pencil, [-2.0, -5.0, -3.0])
    with pytest.raises(ValueError, match="predictor"):
        track_poles(_rlc_pencil, [-2.0, -5.0], predictor="cubic")
    with pytest.raises(TypeError, match="unexpected keyword"):
        track_poles(_rlc_pencil, [-2.0, -5.0], step=0.1)
    with pytest.raises(ValueError, match="two different"):
        edge_by_continuation(_rlc_pencil, -5.0, -5.0)
    with pytest.raises(ValueError, match="locate"):
        admissible_range(_series_rlc(), "rn", -20.0, 0.0, locate="newton")
    with pytest.raises(ValueError, match="not an eigenvalue"):
        pole_derivatives(_rlc_pencil, -5.0, [1e6 + 0j])
