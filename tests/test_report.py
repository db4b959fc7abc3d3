"""Reports: every number checked against an independent reference (closed forms from ``stab_helpers``, the
exact RHP count, scikit-rf's K), every figure checked through its matplotlib objects (units on the axes,
integer ticks where counts are drawn, titles that fit, legends off the data, the pole map's zoom), the
self-contained HTML, deterministic output, the CLI, progress bars on a terminal, and a headless-Chromium
screenshot."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stab_helpers import C_DEV, G_NEG, L_CRIT, NTYPE_NETLIST, R_SER, ntype_circuit, ntype_poles_hz
from stabkit.report import render
from stabkit.report.progress import Progress, progress, render_bar, set_quiet
from stabkit.report.render import (
    build_report, pole_zoom_window, render_html, render_markdown, report_for_circuit, strip_generated, write_report,
)
from stabkit.units import format_eng

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PREFIX = {"E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "": 1.0, "m": 1e-3, "µ": 1e-6,
          "n": 1e-9, "p": 1e-12, "f": 1e-15, "a": 1e-18}
ENG = re.compile(r"^([−+-]?)(?:± )?([0-9.]+(?:e[+-]?\d+)?) ?([EPTGMkmµnpfa]?)(Hz|H|Ω|F|V|A|S)?$")


def eng(text: str) -> float:
    """``'-79.58 MHz'`` → -79.58e6 (the report's engineering notation; ``'± 1 GHz'`` → 1e9)."""
    m = ENG.match(text.strip())
    assert m, f"not a number in engineering notation: {text!r}"
    sign = -1.0 if m.group(1) in ("-", "−") else 1.0
    return sign * float(m.group(2)) * PREFIX[m.group(3)]


def verdict_of(rep):
    return next(b for b in rep.blocks if b.kind == "verdict")


def pole_table_poles(block) -> list[complex]:
    """Every pole a report pole table stands for (a pair row gives both conjugates)."""
    out = []
    for row in block.rows:
        re_, im = eng(row[0]), (0.0 if row[1] == "0" else eng(row[1]))
        out += [complex(re_, im), complex(re_, -im)] if row[4] == "pair" else [complex(re_, 0.0)]
    return out


def sort_poles(p):
    return sorted(np.asarray(p, complex), key=lambda z: (round(z.real, -3), z.imag))


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures a report draws, by slug (recorded as :func:`render.draw_figure` makes them)."""
    made: list = []
    original = render.draw_figure

    def recording(draw, size=render.FIG_SIZE):
        fig = original(draw, size)
        made.append(fig)
        return fig

    monkeypatch.setattr(render, "draw_figure", recording)

    def by_slug(rep):
        slugs = [b.slug for b in rep.figures]
        assert len(slugs) == len(made), "every report figure is drawn once"
        return dict(zip(slugs, made))

    return by_slug


# ----------------------------------------------------------------------------- numbers vs closed forms
@pytest.mark.parametrize("lser", [2e-9, 9e-9, 11e-9, 30e-9])
def test_verdict_pole_table_and_ndf_count_match_the_closed_form(lser):
    """N-type −g ∥ C fed by R + L: the poles are the roots of L·C·s² + (R·C − g·L)·s + (1 − g·R); stable iff
    L < R·C/g. The report's pole table, its RHP rows, the NDF count and the per-source total all agree."""
    rep = report_for_circuit(ntype_circuit(lser))
    exact = ntype_poles_hz(lser)
    rhp = int(np.sum(exact.real > 0))
    assert verdict_of(rep).word == ("stable" if lser < L_CRIT else "unstable") == rep.outcome
    (table,) = rep.tables("Re s/2π")
    np.testing.assert_allclose(sort_poles(pole_table_poles(table)), sort_poles(exact), rtol=1e-3)
    assert sum(2 if r[4] == "pair" else 1 for r in table.rows if r[5] == "RHP (unstable)") == rhp
    (sources,) = rep.tables("source")
    assert sources.rows == [["GD", str(rhp)], ["total", str(rhp)]]
    text = next(b.text for b in rep.blocks if b.kind == "p" and b.text.startswith("The NDF encircles"))
    assert f"→ {rhp} natural frequenc" in text
    # damping ratios: ζ = −Re s/|s| of the closed-form roots
    zeta = sorted(float(r[3]) for r in table.rows)
    np.testing.assert_allclose(zeta, sorted({round(-z.real / abs(z), 12) for z in exact}), rtol=2e-3)
    (active,) = rep.tables("element")[:1]
    assert active.rows[0][:2] == ["GD", "G"] and eng(active.rows[0][2]) == pytest.approx(-G_NEG, rel=1e-3)


def _ntype_with_parasitic(lser=9e-9, r_par=1.0, c_par=1e-15):
    """The N-type circuit plus a decoupled R ∥ C node: one more pole, far left, at −1/(2π·R·C)."""
    c = ntype_circuit(lser)
    c.add_resistor("RP", "p", 0, r_par)
    c.add_capacitor("CP", "p", 0, c_par)
    return c, np.append(ntype_poles_hz(lser), -1.0 / (2 * np.pi * r_par * c_par))


def test_pole_map_zooms_to_the_modes_that_matter_and_lists_the_parasitic(figures):
    """A −159 THz parasitic beside a lightly damped 411 MHz pair: the map's view holds the pair and the jω
    axis, the parasitic is left out of it and listed, with its closed-form value, in the table after it."""
    circuit, exact = _ntype_with_parasitic()
    far = exact[np.argmin(exact.real)]
    pair = exact[exact.imag != 0]
    rep = report_for_circuit(circuit)
    inside, outside = rep.tables("Re s/2π")
    np.testing.assert_allclose(sort_poles(pole_table_poles(inside)), sort_poles(pair), rtol=1e-3)
    np.testing.assert_allclose(pole_table_poles(outside), [far], rtol=1e-3)
    ax = figures(rep)["poles"].axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < pair.real.min() and x1 > 0 and y0 < -pair.imag.max() and y1 > pair.imag.max()
    assert x0 > far.real / 1000  # the parasitic is far outside the view
    assert (x1 - x0) < 50 * abs(pair.real.min())  # the pair is not squashed against the axis
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("+1 outside this view") for t in legend)


def test_pole_zoom_window_holds_rhp_lightly_damped_and_slow_poles():
    slow = np.array([-163.0, -3.1e4, -4.4e4, -4.3e5])
    resonances = np.array([-9.3e8 + 9.9e10j, -9.3e8 - 9.9e10j, -2.2e9 + 1.9e11j, -2.2e9 - 1.9e11j])
    rhp = np.array([2e6 + 5e8j, 2e6 - 5e8j])
    damped = np.array([-5.3e9 + 7.9e9j, -5.3e9 - 7.9e9j, -4.4e10])
    far = np.array([-3.0e11, -1.0e12, -5.0e14])
    p = np.concatenate([slow, resonances, rhp, damped, far])
    lo, hi, im = pole_zoom_window(p)
    kept = (p.real >= lo) & (p.real <= hi) & (np.abs(p.imag) <= im)
    assert kept[: slow.size + resonances.size + rhp.size + damped.size].all()
    assert not kept[-far.size:].any()
    # a map whose poles all fit is not zoomed
    assert pole_zoom_window(np.concatenate([slow, rhp])) is None
    assert pole_zoom_window(ntype_poles_hz(30e-9)) is None


def test_case_report_table_edges_and_map_match_the_closed_form(tmp_path):
    """Stable iff lser < rs·C/g = rs·0.5 nH (and rs < 50 Ω): the table's upper edges and the map's stable count."""
    (tmp_path / "ntype.cir").write_text(NTYPE_NETLIST)
    case = tmp_path / "n.stab.yaml"
    case.write_text(
        "netlist: ntype.cir\n"
        "expect:\n  stable: true\n  admissible:\n    - {param: lser, from: 0.1n, to: 100n, contains: [1n, 9n]}\n"
        "report:\n  table: {param: lser, from: 0.1n, to: 100n, by: rs, values: [10, 20]}\n"
        "  map:\n    x: {param: lser, from: 1n, to: 20n, points: 4}\n    y: {param: rs, from: 10, to: 30, points: 3}\n")
    rep = build_report(case)
    headings = [b.text for b in rep.blocks if b.kind == "h2"]
    assert {"Expectations", "Admissible ranges", "Admissible lser for each rs", "Stability map: lser × rs"} <= set(headings)
    (table,) = rep.tables("lser \\ rs")
    assert table.header[1:] == ["10 Ω", "20 Ω"]
    last = table.rows[-1]
    assert last[0] == "admissible"
    upper = [eng(cell.split("…")[1]) for cell in last[1:]]
    np.testing.assert_allclose(upper, [10 * C_DEV / G_NEG, 20 * C_DEV / G_NEG], rtol=1e-3)
    (edges,) = rep.tables("edge")
    np.testing.assert_allclose(eng(edges.rows[0][0]), R_SER * C_DEV / G_NEG, rtol=1e-3)
    lser = np.geomspace(1e-9, 20e-9, 4)
    expected_stable = sum(int(np.sum(lser < rs * C_DEV / G_NEG)) for rs in (10.0, 20.0, 30.0))
    grid_text = next(b.text for b in rep.blocks if b.kind == "p" and b.text.startswith("4 × 3 grid"))
    assert f"({expected_stable} stable, {12 - expected_stable} not" in grid_text


def test_transistor_regions_are_tabled_and_saturation_is_warned(tmp_path):
    """A common-emitter stage: RB = 200 kΩ leaves it forward active (Ic ≈ β·Ib); RB = 2 kΩ drives the base so
    hard that Ic·RC would exceed the supply — saturated, and the report says so in a warning."""
    card = ".model qn npn(is=1e-15 bf=100 vaf=100 cje=1p cjc=1p tf=10p)\n"
    for rb, region in ((200e3, "forward active"), (2e3, "SATURATION (!)")):
        net = tmp_path / f"ce{int(rb)}.cir"
        net.write_text(f"CE stage\nVCC vcc 0 5\nRB vcc b {rb}\nRC vcc c 1k\nQ1 c b 0 qn\n{card}.end\n")
        rep = build_report(net)
        (tr,) = rep.tables("transistor")
        assert tr.rows[0][:2] == ["Q1", region]
        warnings = [b.text for b in rep.blocks if b.kind == "warning"]
        if region == "forward active":
            ic = eng(tr.rows[0][2])
            ib = (5.0 - eng(tr.rows[0][4])) / rb
            assert ic / ib == pytest.approx(100.0, rel=0.05)  # bf, with the Early effect and vbe
            assert not any("saturation" in w for w in warnings)
        else:
            assert any(w.startswith("Q1 is in saturation") for w in warnings)
            assert '<p class="warning"><strong>warning:</strong> Q1 is in saturation' in render_html(rep)


def test_nonlinear_report_judges_each_operating_point():
    """cases/tunnel_bistable.cir: the load line (R1 = 100 Ω) cuts the N-shaped curve three times. An N-type point
    fed through R is stable iff R < |r| where r < 0 (DESIGN.md §1), and always where r > 0 (passive slope)."""
    rep = build_report(REPO / "cases" / "tunnel_bistable.cir")
    (table,) = rep.tables("#")
    assert len(table.rows) == 3
    expected = []
    for row in table.rows:
        r = eng(row[4])
        expected.append(r > 0 or 100.0 < abs(r))
        assert row[5] == ("positive" if r > 0 else "negative (NDR)")
        assert row[-1] == ("stable" if expected[-1] else "unstable"), row
    assert expected == [True, False, True]
    assert verdict_of(rep).word == "unstable" and rep.outcome == "unstable"
    assert verdict_of(rep).text.startswith("UNSTABLE (operating point 2 of 3)")
    headings = [b.text for b in rep.blocks if b.kind == "h2" and b.text.startswith("Operating point")]
    assert headings == [f"Operating point {k} of 3: {'STABLE' if ok else 'UNSTABLE'}"
                        for k, ok in enumerate(expected, start=1)]
    # each point's own pole tables (in view, and outside it): RHP rows exactly at the unstable point
    rhp_rows, point = {1: 0, 2: 0, 3: 0}, None
    for b in rep.blocks:
        if b.kind == "h2" and b.text.startswith("Operating point"):
            point = int(b.text.split()[2])
        elif b.kind == "table" and b.header[0] == "Re s/2π":
            rhp_rows[point] += sum(r[5] == "RHP (unstable)" for r in b.rows)
    assert rhp_rows == {1: 0, 2: 1, 3: 0}


def test_report_of_circuit_with_sparameter_block_shows_two_port_factors(models_dir):
    """K of the measured block as in the report equals scikit-rf's K; μ > 1 exactly where K > 1 and |Δ| < 1
    (Edwards–Sinsky). The block terminated in its own reference sees Γ = 0: its return difference is ≡ 1, the
    NDF counts nothing, and a stable circuit gets no trap warning."""
    import skrf

    from stabkit import Circuit

    net = skrf.Network(str(models_dir / "sparams" / "BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p"))
    c = Circuit("BFR840 between 50 ohm terminations")
    c.add_nport("N1", ["b", "c"], net)
    c.add_resistor("RB", "b", 0, 50.0)
    c.add_resistor("RC", "c", 0, 50.0)
    rep = report_for_circuit(c)
    (table,) = rep.tables("block")
    np.testing.assert_allclose(float(table.rows[0][2]), np.min(net.stability), rtol=1e-2)
    s = net.s
    delta = np.abs(s[:, 0, 0] * s[:, 1, 1] - s[:, 0, 1] * s[:, 1, 0])
    unconditional = (net.stability > 1) & (delta < 1)
    expected = "; ".join(f"{format_eng(a, 'Hz')} … {format_eng(b, 'Hz')}"
                         for a, b in render.unstable_bands(net.f, unconditional))
    assert table.rows[0][5] == (expected or "none")
    assert [b.slug for b in rep.figures] == ["ndf", "rd", "twoport-N1"]
    (sources,) = rep.tables("source")
    assert sources.rows == [["N1", "0"], ["total", "0"]]
    from stabkit.analysis import twoport

    np.testing.assert_allclose(float(table.rows[0][6]), np.min(twoport.mu_prime_factor(s)), rtol=1e-2)
    assert not any("classic trap" in b.text for b in rep.blocks if b.kind == "warning")


def test_unstable_bands():
    f = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert render.unstable_bands(f, np.array([0, 0, 1, 1, 0, 1], bool)) == [(1.0, 2.0), (5.0, 5.0)]
    assert render.unstable_bands(f, np.ones(6, bool)) == []
    assert render.unstable_bands(f, np.array([1, 1, 1, 1, 0, 0], bool)) == [(5.0, 6.0)]


def test_param_units_follow_the_elements_they_feed():
    from stabkit import Circuit

    c = Circuit.from_netlist(str(REPO / "cases" / "linvill_nic.cir"))
    assert [render.param_unit(c, p) for p in ("lext", "rc")] == ["H", "Ω"]
    bistable = Circuit.from_netlist(str(REPO / "cases" / "tunnel_bistable.cir"))
    assert render.param_unit(bistable, "vs") == "V"  # V1 in 0 dc {vs}
    assert render.param_unit(bistable, "R1") == "Ω"  # an element name


# ----------------------------------------------------------------------------- figures, through matplotlib
def _unit(axis) -> str:
    from matplotlib.ticker import EngFormatter

    fmt = axis.get_major_formatter()
    if isinstance(fmt, EngFormatter) and fmt.unit:
        return fmt.unit
    m = re.search(r"\[([^\]]+)\]", axis.get_label_text())
    return m.group(1) if m else ""


def _integer_ticks(axis) -> bool:
    lo, hi = sorted(axis.get_view_interval())
    ticks = [t for t in axis.get_majorticklocs() if lo - 1e-9 <= t <= hi + 1e-9]
    labels = [t.get_text().replace("−", "-") for t in axis.get_majorticklabels() if t.get_text()]
    return bool(ticks) and np.allclose(ticks, np.round(ticks)) and all(re.fullmatch(r"-?\d+", s) for s in labels)


def _render(fig):
    """Draw ``fig`` with Agg (as the report does) and return the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _check_layout(fig) -> None:
    """Every title inside the figure; every legend outside its axes' data area."""
    renderer = _render(fig)
    width = fig.bbox.width
    for ax in fig.axes:
        box = ax.title.get_window_extent(renderer)
        if ax.get_title():
            assert box.x0 >= -1 and box.x1 <= width + 1, f"title {ax.get_title()!r} runs off the figure"
        legend = ax.get_legend()
        if legend is not None:
            lb, ab = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
            assert lb.x0 >= ab.x1 - 1 or lb.x1 <= ab.x0 + 1 or lb.y0 >= ab.y1 - 1 or lb.y1 <= ab.y0 + 1, \
                f"legend over the data of {ax.get_title()!r}"


def test_case_report_figures_have_units_integer_counts_and_fitting_titles(figures):
    rep = build_report(REPO / "cases" / "ntype_smallsignal.stab.yaml")
    figs = figures(rep)
    assert set(figs) == {"ndf", "rd", "poles", "admissible", "sweep-lser", "sweep-rser", "map"}
    for fig in figs.values():
        _check_layout(fig)
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_majorticklabels() and any(t.get_text() for t in axis.get_majorticklabels()):
                    assert axis.get_label_text(), f"an axis of {ax.get_title()!r} has ticks but no label"
    poles = figs["poles"].axes[0]
    assert (_unit(poles.xaxis), _unit(poles.yaxis)) == ("Hz", "Hz")
    locus, count = figs["ndf"].axes
    assert locus.get_xlabel().startswith("Re NDF") and locus.get_ylabel().startswith("Im NDF")
    assert _unit(count.xaxis) == "Hz" and _integer_ticks(count.yaxis) and count.get_ylabel()
    for slug, unit in (("sweep-lser", "H"), ("sweep-rser", "Ω")):
        ax = figs[slug].axes[0]
        assert _unit(ax.xaxis) == unit and _integer_ticks(ax.yaxis) and "count" in ax.get_ylabel()
    strips = figs["admissible"].axes
    assert [(_unit(a.xaxis), a.get_xlabel()) for a in strips] == [("H", "lser"), ("Ω", "rser")]
    grid, bar = figs["map"].axes
    assert (_unit(grid.xaxis), _unit(grid.yaxis)) == ("H", "Ω")
    assert _integer_ticks(bar.yaxis) and "count" in bar.get_ylabel()


def test_frequency_marks_do_not_overlap(figures):
    rep = report_for_circuit(ntype_circuit(30e-9))
    fig = figures(rep)["ndf"]
    renderer = _render(fig)
    labels = [t for t in fig.axes[0].texts if t.get_text().endswith("Hz")]
    assert len(labels) >= 2
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two frequency labels overlap"


def test_device_curve_figure_names_its_units(figures):
    rep = build_report(REPO / "cases" / "tunnel_bistable.cir")
    ax = figures(rep)["oppoints"].axes[0]
    assert (_unit(ax.xaxis), _unit(ax.yaxis)) == ("V", "mA")
    assert ax.get_title() == "device curve, DC load line and operating points"
    _check_layout(ax.figure)


def test_twoport_figure_units(figures, models_dir):
    import skrf

    from stabkit import Circuit

    net = skrf.Network(str(models_dir / "sparams" / "BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p"))
    c = Circuit("two-port")
    c.add_nport("N1", ["b", "c"], net)
    c.add_resistor("RB", "b", 0, 50.0)
    c.add_resistor("RC", "c", 0, 50.0)
    rep = report_for_circuit(c)
    ax = figures(rep)["twoport-N1"].axes[0]
    assert _unit(ax.xaxis) == "Hz" and ax.get_ylabel() == "factor (dimensionless)"
    _check_layout(ax.figure)


# ----------------------------------------------------------------------------- output files
def test_html_is_self_contained_with_decodable_pngs():
    rep = report_for_circuit(ntype_circuit(20e-9))
    html = render_html(rep)
    assert "<img" in html and "src=\"http" not in html and "<script" not in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(rep.figures) == 4  # NDF, return differences, pole map, sensitivities of the RHP pair
    from matplotlib.image import imread

    sizes = {b.slug: render.NDF_FIG_SIZE if b.slug.startswith("ndf") else render.FIG_SIZE for b in rep.figures}
    for data, block in zip(images, rep.figures):
        raw = base64.b64decode(data)
        assert raw.startswith(PNG_MAGIC)
        img = imread(io.BytesIO(raw), format="png")
        w, h = sizes[block.slug]
        assert img.shape[:2] == (round(h * render.RC["savefig.dpi"]), round(w * render.RC["savefig.dpi"]))


def test_reports_are_deterministic_apart_from_the_generated_line(tmp_path):
    a = write_report(report_for_circuit(ntype_circuit(20e-9)), tmp_path / "a.html")[0].read_text()
    b = write_report(report_for_circuit(ntype_circuit(20e-9)), tmp_path / "b.html")[0].read_text()
    assert sum("Generated:" in line for line in a.splitlines()) == 1
    assert strip_generated(a) == strip_generated(b)


def test_source_date_epoch_fixes_the_generated_line(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    rep = report_for_circuit(ntype_circuit(2e-9))
    assert rep.generated.startswith("Generated: 1970-01-01 00:00:00 UTC")


def test_markdown_writes_figures_beside_the_file(tmp_path):
    rep = report_for_circuit(ntype_circuit(20e-9))
    files = write_report(rep, tmp_path / "out.md")
    md = files[0].read_text()
    assert len(files) == 1 + len(rep.figures)
    for f, block in zip(files[1:], rep.figures):
        assert f.read_bytes() == block.png
        assert f"({f.parent.name}/{f.name})" in md
    embedded = write_report(rep, tmp_path / "emb.md", embed_images=True)
    assert len(embedded) == 1
    assert embedded[0].read_text().count("data:image/png;base64,") == len(rep.figures)
    assert render_markdown(rep).count("| GD | G |") == 1


def test_unknown_suffix_is_rejected(tmp_path):
    from stabkit.errors import StabkitError

    with pytest.raises(StabkitError, match="expected a .html or .md"):
        write_report(report_for_circuit(ntype_circuit(2e-9)), tmp_path / "out.pdf")


def test_cli_report_exit_code_is_the_verdict(tmp_path, capsys):
    from stabkit.cli import main

    (tmp_path / "ntype.cir").write_text(NTYPE_NETLIST)
    (tmp_path / "n.stab.yaml").write_text("netlist: ntype.cir\nset: {lser: 20n}\nexpect: {stable: false}\n")
    out = tmp_path / "r.html"
    # lser = 30n > rs·C/g = 10n: a complex pair in the right half-plane, exit 1; lser = 5n: stable, exit 0
    assert main(["report", str(tmp_path / "ntype.cir"), "-o", str(out), "--set", "lser=30n"]) == 1
    assert '<p class="verdict bad">UNSTABLE: 2 unstable natural frequencies' in out.read_text()
    assert main(["report", str(tmp_path / "ntype.cir"), "-o", str(out), "--set", "lser=5n"]) == 0
    assert '<p class="verdict ok">STABLE: no natural frequency' in out.read_text()
    assert main(["report", str(tmp_path / "n.stab.yaml"), "-o", str(tmp_path / "c.md")]) == 1
    md = (tmp_path / "c.md").read_text()
    assert "## Expectations" in md and "| stable: false | holds |" in md
    capsys.readouterr()
    assert main(["report", str(tmp_path / "ntype.cir"), "-o", str(tmp_path / "x.pdf")]) == 2
    assert "expected a .html or .md" in capsys.readouterr().err


# ----------------------------------------------------------------------------- progress
def test_progress_bar_text():
    assert render_bar(5, 10, "lext", 1.25, width=10) == "lext [#####.....]  5/10  1.2 s"
    assert render_bar(3, None, "", 0.0) == "3 steps  0.0 s"
    assert render_bar(1, 4, "report", 0.5, width=4, status="NDF") == "report [#...] 1/4  0.5 s  NDF"


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def loud(monkeypatch):
    """Progress bars allowed, whatever an earlier in-process ``main([..., "--json"])`` left behind (it calls
    ``set_quiet(True)`` for the rest of the process) or the environment says."""
    monkeypatch.delenv("STABKIT_NO_PROGRESS", raising=False)
    set_quiet(False)
    yield
    set_quiet(False)


def test_progress_draws_only_on_a_terminal_and_not_when_quiet(monkeypatch, loud):
    buf = io.StringIO()
    assert list(progress(range(5), label="x", stream=buf, delay=0)) == list(range(5))
    assert buf.getvalue() == ""  # not a terminal
    tty = FakeTTY()
    list(progress(range(3), label="y", stream=tty, delay=0))
    assert "y [" in tty.getvalue() and "3/3" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[K")  # transient: the line is erased at the end
    quick = FakeTTY()
    list(progress(range(3), stream=quick))  # done before the 0.5 s delay: nothing drawn
    assert quick.getvalue() == ""
    for quiet in ("set_quiet", "env"):
        silent = FakeTTY()
        if quiet == "env":
            monkeypatch.setenv("STABKIT_NO_PROGRESS", "1")
        else:
            set_quiet(True)
        try:
            list(progress(range(3), stream=silent, delay=0))
        finally:
            set_quiet(False)
            monkeypatch.delenv("STABKIT_NO_PROGRESS", raising=False)
        assert silent.getvalue() == ""


def test_nested_bars_share_one_line(loud):
    tty = FakeTTY()
    with Progress(total=2, label="report", stream=tty, delay=0) as outer:
        outer.update(0, status="sweeps")
        list(progress(range(4), label="lext", stream=tty, delay=0))
        outer.update(2)
    frames = [f for f in tty.getvalue().split("\r") if f.strip("\x1b[K")]
    assert any(f.startswith("report [") and " › lext [" in f and "4/4" in f for f in frames)
    assert frames[-1].startswith("report [") and "2/2" in frames[-1] and "›" not in frames[-1]


@pytest.mark.parametrize("argv, label", [
    (["loads", "cases/ntype_smallsignal.cir", "--sweep", "lser", "--from", "1n", "--to", "200n"], "lser sweep"),
    (["report", "cases/tunnel_bistable.cir", "-o", "{tmp}/r.html"], "report ["),
])
def test_cli_shows_progress_on_a_terminal_only(argv, label, tmp_path):
    """On a pseudo-terminal the bar appears; with --json or STABKIT_NO_PROGRESS=1 it does not."""
    pty = pytest.importorskip("pty")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]

    def stderr_on_tty(extra_env: dict, extra_args: list) -> str:
        master, slave = pty.openpty()
        # draw from the first step (a quick sweep would otherwise finish inside the bar's 0.5 s delay)
        env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "STABKIT_PROGRESS_DELAY": "0", **extra_env}
        env.pop("STABKIT_NO_PROGRESS", None) if "STABKIT_NO_PROGRESS" not in extra_env else None
        proc = subprocess.Popen([sys.executable, "-m", "stabkit", *argv, *extra_args], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=300)
        os.close(master)
        assert proc.returncode in (0, 1), b"".join(chunks).decode(errors="replace")  # (bistable: 1)
        return b"".join(chunks).decode(errors="replace")

    assert label in stderr_on_tty({}, [])
    assert label not in stderr_on_tty({"STABKIT_NO_PROGRESS": "1"}, [])
    assert label not in stderr_on_tty({}, ["--json"])


# ----------------------------------------------------------------------------- screenshot
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(html_file: Path, png: Path, tmp: Path) -> None:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}",
                    f"--screenshot={png}", "--window-size=1200,2000", html_file.resolve().as_uri()],
                   check=True, capture_output=True, timeout=90)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`)")
def test_report_renders_in_headless_chromium(tmp_path):
    """The unstable verdict box is drawn in its colour, and the embedded figures show their RHP markers
    (vermillion, #D55E00) — the page is rendered, not blank."""
    html = write_report(report_for_circuit(ntype_circuit(20e-9)), tmp_path / "r.html")[0]
    png = tmp_path / "shot.png"
    screenshot(html, png, tmp_path / "profile")
    from matplotlib.image import imread

    img = imread(png)
    assert img.shape[:2] == (2000, 1200)
    rgb = img[..., :3]
    verdict_bg = np.all(np.abs(rgb - np.array([0xFB, 0xE3, 0xD6]) / 255) < 0.02, axis=-1)
    assert verdict_bg.sum() > 5000
    vermillion = np.all(np.abs(rgb - np.array([0xD5, 0x5E, 0x00]) / 255) < 0.06, axis=-1)
    assert vermillion.sum() > 20
