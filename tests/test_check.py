"""Case files (stabkit.cases) and ``stabkit check``: validation errors with lines, verdicts against closed forms."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from stab_helpers import L_CRIT, NTYPE_NETLIST, ntype_circuit, ntype_poles_hz
from stabkit.cases import CaseFileError, CaseRunner, load_case, spice_number
from stabkit.cli import main
from stabkit.units import format_eng



def write(path, text):
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


# ----------------------------------------------------------------------------- loading and validation
def test_load_case_parses_suffixed_values_and_expectations(tmp_path):
    case = load_case(write(tmp_path / "a.stab.yaml", """
        netlist: amp.cir
        set: {lser: 20n, rl: 1e-9, g: 0.02}
        expect:
          stable: false
          admissible:
            - {param: LSER, from: 0.1n, to: 100n, contains: [1n, 9n]}
    """))
    assert case.netlist == tmp_path / "amp.cir"
    np.testing.assert_allclose([case.params["lser"], case.params["rl"], case.params["g"]], [20e-9, 1e-9, 0.02], rtol=1e-12)
    kinds = [(e.kind, e.name, e.line) for e in case.expectations]
    assert kinds == [("stable", "stable", 4), ("admissible", "admissible[lser]", 6)]
    adm = case.expectations[1]
    np.testing.assert_allclose([adm.lo, adm.hi, *adm.contains], [0.1e-9, 100e-9, 1e-9, 9e-9], rtol=1e-12)


@pytest.mark.parametrize("text, line, words", [
    ("netlist: a.cir\nexpect: {stable: true}\nfoo: 1\n", 3, ["unknown key 'foo'", "netlist, title"]),
    ("netlist: a.cir\nexpect:\n  stable: true\n  stabel: false\n", 4, ["unknown key 'stabel'", "stable"]),
    ("netlist: a.cir\nexpect: {stable: [1\n", 3, ["invalid YAML", "began on line 2"]),
    ("netlist: a.cir\n  bad: indent\nexpect: {stable: true}\n", 2, ["invalid YAML"]),
    ("netlist: a.cir\nset: {r: ten}\nexpect: {stable: true}\n", 2, ["set r", "ten"]),
    ("netlist: a.cir\nexpect: {stable: yes please}\n", 2, ["true or false"]),
    ("netlist: a.cir\nnetlist: b.cir\nexpect: {stable: true}\n", 2, ["appears twice"]),
    ("netlist: a.cir\nexpect:\n  admissible:\n    - {param: l, from: 1n, to: 10n, contains: [0.5n, 2n]}\n", 4, ["must lie inside"]),
    ("netlist: a.cir\nexpect:\n  admissible:\n    - {param: l, from: 1n, to: 10n}\n", 4, ["needs 'contains'"]),
    ("expect: {stable: true}\n", 1, ["missing key 'netlist'"]),
    ("netlist: a.cir\nexpect: {stable: true}\nreport:\n  plot: 1\n", 4, ["unknown key 'plot'", "table, map"]),
    ("netlist: a.cir\nexpect: {stable: true}\nreport:\n  map:\n    x: {param: a, from: 1, to: 2, points: 1}\n"
     "    y: {param: b, from: 1, to: 2}\n", 5, ["points: expected an integer from 2 to 200"]),
    ("netlist: a.cir\nexpect: {stable: true}\nreport:\n  table: {param: a, from: 1, to: 2, by: b}\n", 4,
     ["report.table needs 'values'"]),
])
def test_bad_case_files_name_file_and_line(tmp_path, text, line, words):
    path = tmp_path / "bad.stab.yaml"
    path.write_text(text)
    with pytest.raises(CaseFileError) as info:
        load_case(path)
    assert info.value.file == str(path)
    assert info.value.line == line
    for w in words:
        assert w in str(info.value)


def test_report_section_of_a_case_file(tmp_path):
    case = load_case(write(tmp_path / "r.stab.yaml", """
        netlist: n.cir
        expect: {stable: true}
        report:
          table: {param: lser, from: 0.1n, to: 100n, by: rs, values: [10, 20]}
          map:
            x: {param: lser, from: 1n, to: 20n, points: 4}
            y: {param: rs, from: 10, to: 30}
    """))
    assert case.table == {"param": "lser", "lo": pytest.approx(0.1e-9), "hi": pytest.approx(100e-9), "by": "rs",
                          "values": [10.0, 20.0]}
    assert case.map["x"] == ("lser", pytest.approx(1e-9), pytest.approx(20e-9), 4)
    assert case.map["y"] == ("rs", 10.0, 30.0, 21)


@pytest.mark.parametrize("x, text", [(7.52e-9, "7.52n"), (1.5e6, "1.5meg"), (20.0, "20"), (4.7e-12, "4.7p"), (2.2e-6, "2.2u")])
def test_spice_number_round_trips(x, text):
    from stabkit.units import parse_value

    assert spice_number(x) == text
    np.testing.assert_allclose(parse_value(spice_number(x)), x, rtol=1e-12)


# ----------------------------------------------------------------------------- evaluating expectations (Python-built circuit)
@pytest.mark.parametrize("lser", [2e-9, 9e-9, 11e-9, 40e-9])
def test_stable_expectation_matches_closed_form(tmp_path, lser):
    """The verdict follows the closed-form roots (stable iff L < R·C/g = 10 nH); a wrong expectation fails and
    names the RHP poles of the closed form."""
    expect_stable = bool(np.all(ntype_poles_hz(lser).real < 0))
    for claimed in (True, False):
        case = load_case(write(tmp_path / "n.stab.yaml", f"""
            netlist: unused.cir
            set: {{lser: {lser!r}}}
            expect: {{stable: {str(claimed).lower()}}}
        """))
        outcome = CaseRunner(case, circuit=ntype_circuit(1e-9)).run()[0]
        assert outcome.passed == (claimed == expect_stable)
        assert outcome.data["stable"] == expect_stable
        if not outcome.passed:
            assert "expected" in outcome.reason and "found" in outcome.reason
            text = outcome.message()
            assert f"`stable: {str(expect_stable).lower()}`" in text  # how to update
            if not expect_stable:
                p = ntype_poles_hz(lser)
                assert np.all(p.real > 0)
                np.testing.assert_allclose(sorted(x[1] for x in outcome.data["rhp_poles_hz"]), sorted(p.imag), rtol=1e-6)
                assert format_eng(p.real[0], "Hz") in text
                assert format_eng(abs(p.imag[0]), "Hz") in text


# ----------------------------------------------------------------------------- the CLI
def test_check_bad_yaml_exits_2_with_file_and_line(tmp_path, capsys):
    path = write(tmp_path / "bad.stab.yaml", """
        netlist: a.cir
        expect:
          stable: true
          colour: red
    """)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4:" in err and "unknown key 'colour'" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_check_missing_netlist_exits_2(tmp_path, capsys):
    path = write(tmp_path / "c.stab.yaml", "netlist: nowhere.cir\nexpect: {stable: true}\n")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:1:" in err and "nowhere.cir" in err


def test_check_empty_directory_exits_2(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert "no *.stab.yaml" in capsys.readouterr().err


def test_help_teaches_the_case_format(capsys):
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    for word in ("netlist:", "expect:", "admissible", "exit status", "examples"):
        assert word in out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "check" in out and "report" in out


def test_check_netlist_syntax_error_exits_2_with_netlist_file_and_line(tmp_path, capsys):
    net = tmp_path / "broken.cir"
    net.write_text("broken\nR1 a 0 50\nC1 a 0 oops\n.end\n")
    case = write(tmp_path / "broken.stab.yaml", "netlist: broken.cir\nexpect: {stable: true}\n")
    assert main(["check", str(case)]) == 2
    err = capsys.readouterr().err
    assert "broken.cir:3" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_check_exit_codes_and_reasons(tmp_path, capsys):
    (tmp_path / "ntype.cir").write_text(NTYPE_NETLIST)
    good = write(tmp_path / "good.stab.yaml", "netlist: ntype.cir\nset: {lser: 5n}\nexpect: {stable: true}\n")
    bad = write(tmp_path / "bad.stab.yaml", "netlist: ntype.cir\nset: {lser: 20n}\nexpect:\n  stable: true\n")
    assert main(["check", str(good)]) == 0
    capsys.readouterr()
    assert main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and f"{bad}:4" in fails[0] and "expected stable, found unstable" in fails[0]
    assert main(["check", str(good), "--set", "lser=30n"]) == 1  # --set applies on top of the case's set
    capsys.readouterr()
    assert main(["check", str(tmp_path), "--json"]) == 1
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["failed"] == 1 and data["checked"] == 2


def test_check_admissible_range_against_closed_form(tmp_path, capsys):
    """Stable lser set over [0.1n, 100n] is (0.1n, 10n): an expectation inside holds, one beyond fails."""
    (tmp_path / "ntype.cir").write_text(NTYPE_NETLIST)
    ok = write(tmp_path / "ok.stab.yaml", """
        netlist: ntype.cir
        expect:
          admissible:
            - {param: lser, from: 0.1n, to: 100n, contains: [1n, 9.5n]}
    """)
    wrong = write(tmp_path / "wrong.stab.yaml", """
        netlist: ntype.cir
        expect:
          admissible:
            - {param: lser, from: 0.1n, to: 100n, contains: [1n, 12n]}
    """)
    assert main(["check", str(ok)]) == 0
    capsys.readouterr()
    assert main(["check", str(wrong), "-v"]) == 1
    out = capsys.readouterr().out
    assert "expected it to contain [1 n, 12 n]" in out
    runner = CaseRunner(load_case(wrong))
    found = runner.admissible("lser", 0.1e-9, 100e-9)
    assert len(found) == 1
    np.testing.assert_allclose(found[0][1], L_CRIT, rtol=2e-4)  # edges are located to rtol 1e-4


def test_encirclements_expectation_counts_rhp_poles(tmp_path, capsys):
    """The NDF count of the N-type circuit equals its number of RHP poles (2 above the 10 nH limit, 0 below)."""
    (tmp_path / "ntype.cir").write_text(NTYPE_NETLIST)
    counts = []
    for lser in (5e-9, 20e-9):
        n = int(np.sum(ntype_poles_hz(lser).real > 0))  # the closed form
        counts.append(n)
        good = write(tmp_path / "e.stab.yaml", f"netlist: ntype.cir\nset: {{lser: {lser!r}}}\nexpect: {{encirclements: {n}}}\n")
        assert main(["check", str(good)]) == 0
        bad = write(tmp_path / "e.stab.yaml", f"netlist: ntype.cir\nset: {{lser: {lser!r}}}\nexpect: {{encirclements: {n + 1}}}\n")
        assert main(["check", str(bad), "-v"]) == 1
        out = capsys.readouterr().out
        assert f"expected {n + 1} NDF encirclement(s), found {n}" in out
        assert f"per source: GD: {n}\n" in out
    assert counts == [0, 2]  # both sides of the 10 nH limit were exercised


def test_uncertain_verdict_exits_3_with_the_reason(tmp_path, capsys):
    """An ideal LC tank has its pair on the jω axis (±j/√(LC)): `stable: true` can be neither confirmed nor
    refuted, so check says UNCERTAIN with the marginal frequency and exits 3."""
    (tmp_path / "tank.cir").write_text("ideal tank\nL1 a 0 10n\nC1 a 0 1p\n.end\n")
    case = write(tmp_path / "tank.stab.yaml", "netlist: tank.cir\nexpect:\n  stable: true\n")
    assert main(["check", str(case)]) == 3
    captured = capsys.readouterr()
    f0 = 1 / (2 * np.pi * np.sqrt(10e-9 * 1e-12))
    (line,) = [ln for ln in captured.out.splitlines() if ln.startswith("UNCERTAIN")]
    assert line.startswith(f"UNCERTAIN {case}:3: tank: the verdict is uncertain") and "jω axis" in line
    assert format_eng(f0, "Hz") in line
    assert captured.err.strip() == "stabkit: uncertain: 1 expectation(s) could not be decided reliably (see above)"
