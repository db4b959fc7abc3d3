"""The pytest plugin, driven with pytester: case files as items, the ``stabkit`` fixture, messages with numbers."""

from __future__ import annotations

import textwrap

import pytest

from stab_helpers import NTYPE_NETLIST, ntype_poles_hz
from stabkit.units import format_eng


BUILD = '''
import warnings
from stabkit import Circuit

def ntype(lser):
    c = Circuit("N-type amplifier")
    c.set_param("g", 0.02)
    c.set_param("lser", lser)
    c.add_resistor("RS", "a", 0, 20.0)
    c.add_inductor("LS", "a", "d", "lser")
    c.add_capacitor("CD", "d", 0, 10e-12)
    c.add_vccs("GD", "d", 0, "d", 0, "-g")
    return c
'''


@pytest.fixture(autouse=True)
def _no_autoload(monkeypatch):
    """Inner pytest runs load only the stabkit plugin (faster, and no double load via the entry point)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run(pytester, *args):
    return pytester.runpytest("-p", "stabkit.pytest_plugin", "-p", "no:cacheprovider", *args)


def test_fixture_assert_stable_and_failure_message_names_rhp_poles(pytester):
    pytester.makepyfile(test_amp=BUILD + textwrap.dedent('''
        import pytest

        @pytest.mark.stabkit
        def test_small_l_is_stable(stabkit):
            v = stabkit.assert_stable(ntype(5e-9))
            assert v.stable

        @pytest.mark.stabkit
        def test_large_l_is_stable(stabkit):
            stabkit.assert_stable(ntype(20e-9))

        def test_report_into_dir(stabkit):
            path = stabkit.report(ntype(20e-9), "ntype20n")
            assert path is not None and path.name == "ntype20n.html" and "UNSTABLE" in path.read_text()

        def test_unstable_pair(stabkit):
            stabkit.assert_unstable(ntype(20e-9), rhp_count=2)

        def test_unstable_wrong_count(stabkit):
            stabkit.assert_unstable(ntype(20e-9), rhp_count=1)
    '''))
    result = run(pytester, "--strict-markers", "-m", "stabkit or not stabkit", f"--stabkit-report={pytester.path / 'rep'}")
    result.assert_outcomes(passed=3, failed=2)
    out = result.stdout.str()
    p = ntype_poles_hz(20e-9)
    assert "'N-type amplifier' is unstable" in out
    assert "2 right-half-plane pole(s)" in out
    assert format_eng(p.real[0], "Hz") in out and format_eng(abs(p.imag[0]), "Hz") in out
    assert "expected 1" in out


def test_marker_is_registered(pytester):
    result = run(pytester, "--markers")
    assert "@pytest.mark.stabkit" in result.stdout.str()


def test_bad_case_files_are_collection_errors_with_lines(pytester):
    pytester.makefile(".stab.yaml", unknown="netlist: a.cir\nexpect: {stable: true}\nwhatever: 1\n")
    pytester.makefile(".stab.yaml", broken="netlist: a.cir\n  bad: indent\nexpect: {stable: true}\n")
    result = run(pytester)
    assert result.ret != 0
    out = result.stdout.str()
    assert "unknown.stab.yaml:3: unknown key 'whatever'" in out
    assert "broken.stab.yaml:2: invalid YAML" in out
    result.assert_outcomes(errors=2)


def test_case_items_pass_fail_and_messages(pytester):
    """One item per expectation; a wrong `stable` names the RHP poles, a wrong range says how to update."""
    pytester.makefile(".cir", ntype=NTYPE_NETLIST)
    pytester.makefile(".stab.yaml", good="netlist: ntype.cir\nset: {lser: 5n}\nexpect: {stable: true}\n")
    pytester.makefile(".stab.yaml", wrong="netlist: ntype.cir\nset: {lser: 20n}\nexpect:\n  stable: true\n")
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    p = ntype_poles_hz(20e-9)
    assert "wrong.stab.yaml:4: wrong: expected stable, found unstable" in out
    assert format_eng(abs(p.imag[0]), "Hz") in out
    assert "change" in out and "`stable: false`" in out


def test_report_option_writes_one_report_per_case(pytester, tmp_path):
    pytester.makefile(".cir", ntype=NTYPE_NETLIST)
    pytester.makefile(".stab.yaml", good="netlist: ntype.cir\nset: {lser: 5n}\nexpect: {stable: true}\n")
    out_dir = tmp_path / "reports"
    result = run(pytester, f"--stabkit-report={out_dir}")
    result.assert_outcomes(passed=1)
    report = out_dir / "good.html"
    assert report.exists()
    text = report.read_text()
    assert "STABLE" in text and "data:image/png;base64," in text


def test_netlist_syntax_error_in_case_is_reported_with_file_and_line(pytester):
    pytester.makefile(".cir", broken="broken\nR1 a 0 50\nC1 a 0 oops\n.end\n")
    pytester.makefile(".stab.yaml", c="netlist: broken.cir\nexpect: {stable: true}\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    assert "broken.cir:3" in result.stdout.str()


def test_wrong_admissible_range_names_found_and_expected(pytester):
    """Stable lser set over [0.1n, 100n] is [0.1n, 10n] (closed form rs·C/g): asking for [1n, 12n] fails."""
    pytester.makefile(".cir", ntype=NTYPE_NETLIST)
    pytester.makefile(".stab.yaml", rng="netlist: ntype.cir\nexpect:\n  admissible:\n"
                                        "    - {param: lser, from: 0.1n, to: 100n, contains: [1n, 12n]}\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "rng.stab.yaml:4:" in out
    assert "found [100 p, 10 n], expected it to contain [1 n, 12 n]" in out
    assert "`contains: [100p, 10n]`" in out


def test_shipped_cases_pass_under_the_repository_config(pytester):
    """`pytest cases/` with the repository's own pytest config (strict markers, warnings as errors)."""
    from pathlib import Path

    from stabkit.cases import load_case

    repo = Path(__file__).resolve().parents[1]
    cases = sorted((repo / "cases").glob("*.stab.yaml"))
    assert cases, "no shipped case files"
    if not (repo.parent / "shared" / "models").is_dir():
        # cases built on the vendors' models need ../shared/models (never shipped); the rest must still pass
        cases = [c for c in cases if "shared/models" not in load_case(c).netlist.read_text(errors="replace")]
    result = run(pytester, f"--rootdir={repo}", "-c", str(repo / "pyproject.toml"), *map(str, cases))
    expected = sum(len(load_case(c).expectations) for c in cases)
    result.assert_outcomes(passed=expected)
