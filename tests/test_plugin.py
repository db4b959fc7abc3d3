"""The pytest plugin, driven with pytester: case files as items, the ``stabkit`` fixture, messages with numbers."""

from __future__ import annotations

import re
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
            import re

            path = stabkit.report(ntype(20e-9), "ntype20n")
            assert path.name == "ntype20n.html"
            (css, text), = re.findall(r'<p class="verdict (\\w+)">([^<]*)</p>', path.read_text())
            assert css == "bad" and text.startswith("UNSTABLE: 2 unstable natural frequencies")

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
    text = report.read_text()
    (css, verdict), = re.findall(r'<p class="verdict (\w+)">([^<]*)</p>', text)
    assert css == "ok" and verdict.startswith("STABLE: no natural frequency in the right half-plane")
    assert "data:image/png;base64," in text
    assert sorted(p.name for p in out_dir.iterdir()) == ["good.html"]  # one report per case file


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
    """`pytest cases/` with the repository's own pytest config (strict markers, warnings as errors): every
    expectation passes, except those of cases whose `requires:` files (vendor models in ../shared) are absent
    here, which are skipped with the missing file named."""
    from pathlib import Path

    from stabkit.cases import load_case

    repo = Path(__file__).resolve().parents[1]
    cases = [load_case(c) for c in sorted((repo / "cases").glob("*.stab.yaml"))]
    assert cases, "no shipped case files"
    # the outer pytest has imported the plugin already; where it was not assertion-rewritten (a PYTHONPATH checkout
    # rather than the installed package) the inner run would warn about it, an error under the repository config
    result = run(pytester, f"--rootdir={repo}", "-c", str(repo / "pyproject.toml"), "-rs",
                 "-W", "ignore::pytest.PytestAssertRewriteWarning", str(repo / "cases"))
    runnable = sum(len(c.expectations) for c in cases if not c.missing)
    skipped = [c for c in cases if c.missing]
    result.assert_outcomes(passed=runnable, skipped=sum(len(c.expectations) for c in skipped))
    out = result.stdout.str()
    for case in skipped:
        assert f"{case.name}: needs {case.missing[0]}, which is absent" in out
