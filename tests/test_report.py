"""Reports: content checked against closed forms, self-contained HTML, deterministic bytes, Markdown figures,
the CLI command, the progress bar, and a headless-Chromium screenshot."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from stab_helpers import L_CRIT, NTYPE_NETLIST, ntype_circuit, ntype_poles_hz
from stabkit.report.progress import Progress, progress, render_bar, set_quiet
from stabkit.report.render import (
    report_for_circuit, render_html, render_markdown, strip_generated, write_report,
)
from stabkit.units import format_eng

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def verdict_of(rep):
    return next(b for b in rep.blocks if b.kind == "verdict")


@pytest.mark.parametrize("lser", [2e-9, 9e-9, 11e-9, 30e-9])
def test_report_verdict_and_poles_match_closed_form(lser):
    rep = report_for_circuit(ntype_circuit(lser))
    assert verdict_of(rep).ok == (lser < L_CRIT)
    text = render_markdown(rep)
    p = ntype_poles_hz(lser)
    for pole in p:
        assert format_eng(pole.real, "Hz") in text
    assert text.count("RHP (unstable)") == int(np.sum(p.real > 0))
    # the circuit summary lists every element and the active source
    for name in ("RS", "LS", "CD", "GD"):
        assert f"| {name} |" in text
    assert "{lser} = " + format_eng(lser, "H") in text


def test_html_is_self_contained_with_decodable_pngs():
    rep = report_for_circuit(ntype_circuit(20e-9))
    html = render_html(rep)
    assert "<img" in html and "src=\"http" not in html and "<script" not in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(rep.figures) >= 1
    from matplotlib.image import imread

    for data in images:
        raw = base64.b64decode(data)
        assert raw.startswith(PNG_MAGIC)
        img = imread(io.BytesIO(raw), format="png")
        assert img.shape[0] >= 300 and img.shape[1] >= 400  # legible size


def test_reports_are_deterministic_apart_from_the_generated_line(tmp_path):
    a = write_report(report_for_circuit(ntype_circuit(20e-9)), tmp_path / "a.html")[0].read_text()
    b = write_report(report_for_circuit(ntype_circuit(20e-9)), tmp_path / "b.html")[0].read_text()
    assert strip_generated(a) == strip_generated(b)
    assert sum("Generated:" in line for line in a.splitlines()) == 1


def test_source_date_epoch_fixes_the_generated_line(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    rep = report_for_circuit(ntype_circuit(2e-9))
    assert rep.generated.startswith("Generated: 1970-01-01 00:00:00 UTC")


def test_markdown_writes_figures_beside_the_file(tmp_path):
    rep = report_for_circuit(ntype_circuit(20e-9))
    files = write_report(rep, tmp_path / "out.md")
    md = files[0].read_text()
    assert len(files) == 1 + len(rep.figures)
    for f in files[1:]:
        assert f.read_bytes().startswith(PNG_MAGIC)
        assert f"({f.parent.name}/{f.name})" in md
    embedded = write_report(rep, tmp_path / "emb.md", embed_images=True)
    assert len(embedded) == 1 and "data:image/png;base64," in embedded[0].read_text()


def test_unknown_suffix_is_rejected(tmp_path):
    from stabkit.errors import StabkitError

    with pytest.raises(StabkitError, match="expected a .html or .md"):
        write_report(report_for_circuit(ntype_circuit(2e-9)), tmp_path / "out.pdf")


def test_cli_report_from_netlist_and_case(tmp_path, capsys):
    from stabkit.cli import main

    (tmp_path / "ntype.cir").write_text(NTYPE_NETLIST)
    (tmp_path / "n.stab.yaml").write_text("netlist: ntype.cir\nset: {lser: 20n}\nexpect: {stable: false}\n")
    out = tmp_path / "r.html"
    # the report is written either way; the exit code is the circuit's verdict (lser = 30n > 10n: unstable)
    assert main(["report", str(tmp_path / "ntype.cir"), "-o", str(out), "--set", "lser=30n"]) == 1
    assert '<p class="verdict bad">UNSTABLE: 2 unstable natural frequencies' in out.read_text()
    assert main(["report", str(tmp_path / "ntype.cir"), "-o", str(out), "--set", "lser=5n"]) == 0
    assert '<p class="verdict ok">STABLE' in out.read_text()
    assert main(["report", str(tmp_path / "n.stab.yaml"), "-o", str(tmp_path / "c.md")]) == 1
    md = (tmp_path / "c.md").read_text()
    assert "## Expectations" in md and "| stable: false | holds |" in md
    capsys.readouterr()
    assert main(["report", str(tmp_path / "ntype.cir"), "-o", str(tmp_path / "x.pdf")]) == 2
    assert "expected a .html or .md" in capsys.readouterr().err


def test_case_report_ranges_table_and_map_match_closed_form(tmp_path):
    """Stable iff lser < rs·C/g = rs·0.5 nH (and rs < 50 Ω): the table's edges and the map's stable count."""
    from stabkit.report.render import build_report
    from stabkit.units import parse_value

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
    table = next(b for b in rep.blocks if b.kind == "table" and b.header and b.header[0].startswith("lser"))
    last = table.rows[-1]
    assert last[0] == "admissible"
    upper = [parse_value(cell.split("…")[1]) for cell in last[1:]]
    np.testing.assert_allclose(upper, [5e-9, 10e-9], rtol=1e-3)
    # grid: lser in geomspace(1n, 20n, 4), rs in {10, 20, 30}: stable where lser < rs·0.5n
    lser = np.geomspace(1e-9, 20e-9, 4)
    expected_stable = sum(int(np.sum(lser < rs * 0.5e-9)) for rs in (10.0, 20.0, 30.0))
    grid_text = next(b.text for b in rep.blocks if b.kind == "p" and b.text.startswith("4 × 3 grid"))
    assert f"({expected_stable} stable, {12 - expected_stable} not" in grid_text
    assert len(rep.figures) >= 4


# ----------------------------------------------------------------------------- progress
def test_progress_bar_text():
    assert render_bar(5, 10, "lext", 1.25, width=10) == "lext [#####.....]  5/10  1.2 s"
    assert render_bar(3, None, "", 0.0) == "3 steps  0.0 s"


def test_progress_quiet_when_not_a_tty_or_quiet():
    buf = io.StringIO()
    assert list(progress(range(5), label="x", stream=buf)) == list(range(5))
    assert buf.getvalue() == ""  # StringIO is not a terminal
    forced = io.StringIO()
    with Progress(total=3, label="y", stream=forced, enabled=True) as bar:
        for _ in range(3):
            bar.update()
    assert forced.getvalue().startswith("\r") and "3/3" in forced.getvalue() and forced.getvalue().endswith("\n")

    class FakeTTY(io.StringIO):
        def isatty(self):
            return True

    tty = FakeTTY()
    set_quiet(True)
    try:
        list(progress(range(3), stream=tty))
    finally:
        set_quiet(False)
    assert tty.getvalue() == ""
    list(progress(range(3), stream=tty))
    assert "3/3" in tty.getvalue()


# ----------------------------------------------------------------------------- screenshot
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(html_file: Path, png: Path, tmp: Path) -> None:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}",
                    f"--screenshot={png}", "--window-size=1200,2000", html_file.resolve().as_uri()],
                   check=True, capture_output=True, timeout=90)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`)")
def test_report_renders_in_headless_chromium(tmp_path):
    html = write_report(report_for_circuit(ntype_circuit(20e-9)), tmp_path / "r.html")[0]
    png = tmp_path / "shot.png"
    screenshot(html, png, tmp_path / "profile")
    from matplotlib.image import imread

    img = imread(png)
    assert img.shape[:2] == (2000, 1200)
    # the page is not blank: the pole plot adds many distinct colours (red RHP markers among them)
    rgb = img[..., :3]
    red = (rgb[..., 0] > 0.7) & (rgb[..., 1] < 0.35) & (rgb[..., 2] < 0.35)
    assert red.sum() > 20
    assert (rgb < 0.5).any(axis=-1).mean() > 0.01


def test_pole_zoom_window_frames_the_least_damped_poles():
    from stabkit.report.render import pole_zoom_window

    near = np.array([-1e6 + 2e8j, -1e6 - 2e8j, -3e6, -5e6, -2e7, -3e7, -4e7, -5e7])
    far = np.array([-5e14, -1e13])
    lo, hi, im = pole_zoom_window(np.concatenate([near, far]))
    assert lo < -5e7 and -5e7 > -1e13 and hi >= 0 and hi < 1e7
    assert 2e8 < im < 2.5e8
    assert pole_zoom_window(near) is None  # few poles: the full map shows them


def test_nonlinear_report_judges_each_operating_point():
    """cases/tunnel_bistable.cir: the load line (R1 = 100 Ω) cuts the N-shaped curve three times. An N-type point
    fed through R is stable iff R < |r| where r < 0 (DESIGN.md §1), and always where r > 0 (passive slope)."""
    from stabkit.report.render import build_report
    from stabkit.units import parse_value

    repo = Path(__file__).resolve().parents[1]
    rep = build_report(repo / "cases" / "tunnel_bistable.cir")
    table = next(b for b in rep.blocks if b.kind == "table" and b.header and b.header[0] == "#")
    assert len(table.rows) == 3
    expected = []
    for row in table.rows:
        r = parse_value(row[4].replace(" ", "").replace("Ω", ""))
        expected.append(r > 0 or 100.0 < abs(r))
        assert row[-1] == ("stable" if expected[-1] else "unstable"), row
    assert expected == [True, False, True]
    # one unstable point makes the circuit's verdict unstable (the report's exit code is 1)
    assert verdict_of(rep).word == "unstable" and rep.outcome == "unstable"
    assert verdict_of(rep).text.startswith("UNSTABLE (operating point 2 of 3)")
    headings = [b.text for b in rep.blocks if b.kind == "h2" and b.text.startswith("Operating point")]
    assert headings == [f"Operating point {k} of 3: {'STABLE' if ok else 'UNSTABLE'}"
                        for k, ok in enumerate(expected, start=1)]


def test_unstable_bands():
    from stabkit.report.render import unstable_bands

    f = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert unstable_bands(f, np.array([0, 0, 1, 1, 0, 1], bool)) == [(1.0, 2.0), (5.0, 5.0)]
    assert unstable_bands(f, np.ones(6, bool)) == []
    assert unstable_bands(f, np.array([1, 1, 1, 1, 0, 0], bool)) == [(5.0, 6.0)]


def test_report_of_circuit_with_sparameter_block_shows_two_port_factors(models_dir):
    """K of the measured block as in the report equals scikit-rf's K; μ > 1 exactly where K > 1 and |Δ| < 1
    (Edwards–Sinsky); a distributed circuit without the NDF gets no verdict."""
    import skrf

    from stabkit import Circuit

    net = skrf.Network(str(models_dir / "sparams" / "BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p"))
    c = Circuit("BFR840 between 50 ohm terminations")
    c.add_nport("N1", ["b", "c"], net)
    c.add_resistor("RB", "b", 0, 50.0)
    c.add_resistor("RC", "c", 0, 50.0)
    rep = report_for_circuit(c)
    table = next(b for b in rep.blocks if b.kind == "table" and b.header and b.header[0] == "block")
    np.testing.assert_allclose(float(table.rows[0][2]), np.min(net.stability), rtol=1e-2)
    s = net.s
    delta = np.abs(s[:, 0, 0] * s[:, 1, 1] - s[:, 0, 1] * s[:, 1, 0])
    unconditional = (net.stability > 1) & (delta < 1)
    from stabkit.report.render import unstable_bands

    expected = "; ".join(f"{format_eng(a, 'Hz')} … {format_eng(b, 'Hz')}" for a, b in unstable_bands(net.f, unconditional))
    assert table.rows[0][5] == (expected or "none")
    assert any(b.slug == "twoport-N1" for b in rep.figures)
