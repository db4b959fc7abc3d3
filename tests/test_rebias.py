"""Sweeps that move the DC operating point: re-biased and re-linearized per column (--by) and per point (--sweep).

The circuit is a BJT negative-resistance (Colpitts-type) stage whose loop gain grows with the collector current,
so the supply U decides stability. References: ngspice ``op`` for the bias of every column, the one verdict
(stabkit.analysis.verdict.decide) at values either side of each per-point edge, a fresh Newton solve for the
continuation start, and the sweep linearized by hand at each column's bias."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stabkit import ngspice
from stabkit.nonlinear.dc import dc_point as bias_point
from stabkit.nonlinear.linearize import small_signal_circuit as small_signal
from stabkit.analysis.loads import admissible_range, stability_table
from stabkit.analysis.points import bias_movers, linear_point_near
from stabkit.analysis.verdict import decide
from stabkit.circuit.graph import Circuit

NETLIST = """* Colpitts-type negative-resistance stage: the loop gain (gm ~ Ic ~ U) decides stability
.model QN NPN(IS=1e-15 BF=100 VAF=50 CJE=1p CJC=0.5p TF=20p)
.temp 27
.param u=8 rl=10
VU vcc 0 {u}
RCC vcc c 100
RB1 vcc b 10k
RB2 b 0 2.2k
RE e 0 1k
Q1 c b e QN
C1 b e 100p
C2 e 0 100p
CB b t 10n
LT t m 100n
RL m 0 {rl}
.end
"""


@pytest.fixture(scope="module")
def stage() -> Circuit:
    return Circuit.from_netlist(NETLIST)


def test_continuation_reproduces_a_fresh_solve(stage):
    """`linear_point_near(..., near=)`: Newton from the neighbour's DC solution converges to the fresh solve."""
    fresh = bias_point(stage, {"u": 9.0})
    near = linear_point_near(stage, {"u": 8.5})
    again = linear_point_near(stage, {"u": 9.0}, near=near)
    assert again.dc.method == "newton from the given start" and again.dc.iterations < fresh.iterations
    for node, v in fresh.voltages.items():
        assert again.dc.voltages[node] == pytest.approx(v, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(again.transistors[0]["ic"], fresh.transistors["Q1"].ic, rtol=1e-9)


def test_bias_movers(stage):
    assert set(bias_movers(stage, {"u": [5, 12], "rl": [1, 100]})) == {"u"}


@pytest.mark.ngspice
def test_table_columns_are_rebiased_like_ngspice_op(stage, ngspice_required):
    """`stability_table(... by="u")`: each column's bias is ngspice's `op` at that U, and its admissible range
    is the one of the circuit linearized by hand at that bias."""
    table = stability_table(stage, "rl", 1.0, 100.0, "u", [5.0, 12.0], rtol=1e-4, workers=1, probes=[])
    assert [c.rebias for c in table.columns] == ["column", "column"]
    for u, col in zip(table.by_values, table.columns):
        op = ngspice.operating_point(NETLIST.replace(".param u=8", f".param u={u:g}"))
        ic_ngspice = (op["vcc"] - op["c"]) / 100.0
        np.testing.assert_allclose(col.bias["Q1"]["ic"], ic_ngspice, rtol=1e-5)
        np.testing.assert_allclose(col.bias["Q1"]["vce"], op["c"] - op["e"], rtol=1e-5)
        by_hand = admissible_range(small_signal(stage, {"u": u}), "rl", 1.0, 100.0, params={"u": u}, rtol=1e-4)
        np.testing.assert_allclose(col.intervals, by_hand.intervals, rtol=1e-9)
    # more current, more gain: the stable range of the loss resistance shrinks from below
    assert table.columns[1].intervals[0][0] > table.columns[0].intervals[0][0]
    data = table.to_dict()
    assert all("bias" in c and c["rebias"] == "column" for c in data["columns"])


def test_sweeping_the_supply_rebiases_every_point(stage):
    """`admissible_range(stage, "u", ...)` on the nonlinear circuit: each value re-biased (continuation); the
    located edge agrees with the one verdict either side of it, and carries the bias there."""
    res = admissible_range(stage, "u", 3.0, 15.0, points=13, rtol=1e-5)
    assert res.rebias == "point"
    (edge,) = res.edges
    assert edge.side == "upper" and edge.crossing == "complex pair"
    assert decide(stage, {"u": edge.value * (1 - 1e-3)}).verdict == "stable"
    assert decide(stage, {"u": edge.value * (1 + 1e-3)}).verdict == "unstable"
    np.testing.assert_allclose(edge.bias["Q1"]["ic"], bias_point(stage, {"u": edge.bracket[0]}).transistors["Q1"].ic,
                               rtol=1e-8)
    assert not res.uncertain  # the marginal values met while bracketing the edge are the edge itself


def test_loads_cli_by_supply(tmp_path, capsys):
    """`stabkit loads NET --by u=...` no longer refuses: one re-biased column each, with its bias in the JSON."""
    from stabkit.cli import main

    net = tmp_path / "stage.cir"
    net.write_text(NETLIST)
    code = main(["loads", str(net), "--sweep", "rl", "--from", "1", "--to", "100", "--by", "u=5,12", "--workers", "1",
                 "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    ics = [c["bias"]["Q1"]["ic"] for c in data["columns"]]
    np.testing.assert_allclose(ics, [bias_point(Circuit.from_netlist(str(net)), {"u": u}).transistors["Q1"].ic
                                     for u in (5, 12)], rtol=1e-9)
    # a sweep that leaves the bias alone is linearized once; the columns carry that one bias
    code = main(["loads", str(net), "--sweep", "rl", "--from", "1", "--to", "100", "--by", "rl=1", "--workers", "1",
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert "bias" in data["columns"][0] and "rebias" not in data["columns"][0]
