"""Bad command lines and bad files: every command answers exit 2 with ONE line on stderr that names the file
(and line) or the option and what was expected — never a traceback, never a silently wrong answer.

A systematic table (every command × missing/empty/binary/directory input; every numeric option × zero,
negative, infinite, NaN, beyond double precision, wrong type; unknown names; out-of-range points; huge counts;
unwritable or wrongly-suffixed outputs), a hypothesis fuzz of whole argument lists, element sweeps in a
transistor circuit, Ctrl-C with worker processes and a 20 000-node netlist.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stabkit.cli import main

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "cases"
NTYPE = str(CASES / "ntype_smallsignal.cir")
BISTABLE = str(CASES / "tunnel_bistable.cir")
LINE = str(CASES / "line_negres.cir")
CASE = str(CASES / "ntype_oscillating.stab.yaml")
MODELS = REPO.parent / "shared" / "models"


def run(argv: list[str]) -> tuple[int, str, str]:
    """``stabkit ARGV`` in-process (the console script calls the same ``main``)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, *needles: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}, expected 2 (bad input); stderr: {err!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err!r}"
    assert lines[0].startswith("stabkit: error: ") and len(lines[0]) > len("stabkit: error: ") + 10, lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad_inputs")
    (d / "empty.cir").write_text("")
    (d / "title_only.cir").write_text("just a title\n")
    (d / "comments.cir").write_text("a title\n* only a comment\n.end\n")
    (d / "binary.cir").write_bytes(bytes(range(256)) * 8)
    (d / "latin1.stab.yaml").write_bytes("netlist: a.cir\n# r\xe9sistance\nexpect: {stable: true}\n".encode("latin-1"))
    (d / "empty.stab.yaml").write_text("")
    (d / "a_directory").mkdir()
    return {"dir": str(d), "missing": str(d / "no_such_file.cir"), "empty": str(d / "empty.cir"),
            "title": str(d / "title_only.cir"), "comments": str(d / "comments.cir"), "binary": str(d / "binary.cir"),
            "latin1_case": str(d / "latin1.stab.yaml"), "empty_case": str(d / "empty.stab.yaml"),
            "directory": str(d / "a_directory")}


# ----------------------------------------------------------------------------- bad files, every command
#: what each command needs besides its input file
TAIL = {"poles": [], "ndf": [], "oppoints": [], "zin": ["--port", "a"],
        "loads": ["--sweep", "x", "--from", "1", "--to", "2"], "report": ["-o", "OUT.html"]}
NETLIST_COMMANDS = sorted(TAIL)


@pytest.mark.parametrize("command", NETLIST_COMMANDS)
@pytest.mark.parametrize("kind, needle", [
    ("missing", "no such file"),
    ("empty", "no circuit elements"),
    ("title", "no circuit elements"),
    ("comments", "no circuit elements"),
    ("binary", "binary.cir:"),
    ("directory", "a_directory"),
])
def test_bad_netlist_files(files, tmp_path, command, kind, needle):
    argv = [command, files[kind], *[str(tmp_path / "out.html") if a == "OUT.html" else a for a in TAIL[command]]]
    line = assert_one_line_error(*run(argv)[::2], needle)
    assert Path(files[kind]).name in line  # the file is named


@pytest.mark.parametrize("kind, needle", [
    ("missing", "cannot read case file"),
    ("empty_case", "a case file is a mapping"),
    ("binary", "not UTF-8 text"),
    ("latin1_case", "not UTF-8 text"),
    ("directory", "no *.stab.yaml case files"),
])
def test_bad_case_files(files, kind, needle):
    line = assert_one_line_error(*run(["check", files[kind]])[::2], needle)
    assert Path(files[kind]).name in line


def test_case_file_errors_name_the_line(files):
    line = assert_one_line_error(*run(["check", files["latin1_case"]])[::2])
    assert "latin1.stab.yaml:2:" in line  # the undecodable byte is on line 2


def test_a_case_file_is_not_a_netlist(files):
    """A *.stab.yaml given where a netlist is expected: the reader names the case file and the line."""
    assert_one_line_error(*run(["poles", CASE])[::2], "ntype_oscillating.stab.yaml:")


# ----------------------------------------------------------------------------- bad option values
N = NTYPE
LD = ["loads", N, "--sweep", "lser"]
RANGE = ["--from", "1n", "--to", "100n"]
BAD_OPTIONS = [
    # --set: values and names
    (["poles", N, "--set", "rneg=1e999"], ["--set", "finite"]),
    (["poles", N, "--set", "rneg=nan"], ["--set", "nan"]),
    (["poles", N, "--set", "rneg=inf"], ["--set", "inf"]),
    (["poles", N, "--set", "rneg=-inf"], ["--set", "-inf"]),
    (["poles", N, "--set", "rneg="], ["--set", "expected a number"]),
    (["poles", N, "--set", "rneg=ten"], ["--set", "ten"]),
    (["poles", N, "--set", "=5"], ["NAME=VALUE"]),
    (["poles", N, "--set", "rneg"], ["NAME=VALUE"]),
    (["poles", N, "--set", "nope=3"], ["nope", "parameters: rneg, cj, rser, lser"]),
    (["poles", N, "--set", "rneg=0"], ["ntype_smallsignal.cir:6", "Rneg", "0"]),
    (["poles", N, "--set", "cj=0"], ["ntype_smallsignal.cir:7", "Cj"]),
    (["poles", N, "--set", "lser=0"], ["ntype_smallsignal.cir:9", "Ls"]),
    (["poles", N, "--set", "rser=1e-300"], ["ntype_smallsignal.cir:8", "Rs value = 1e-300", "smallest resistance"]),
    (["ndf", N, "--set", "cj=1e200"], ["ntype_smallsignal.cir:7", "Cj value = 1e+200", "beyond what stabkit analyses"]),
    # --point
    (["poles", N, "--point", "0"], ["--point", "positive integer"]),
    (["poles", N, "--point", "-1"], ["--point", "positive integer"]),
    (["poles", N, "--point", "x"], ["--point", "'x'"]),
    (["poles", N, "--point", "1.5"], ["--point", "'1.5'"]),
    (["poles", BISTABLE, "--point", "4"], ["operating point 4", "has 3"]),
    (["ndf", BISTABLE, "--point", "99999999999999999999"], ["operating point 99999999999999999999", "has 3"]),
    (["zin", BISTABLE, "--port", "a", "--point", "7"], ["--point 7", "3 operating point"]),
    (["loads", BISTABLE, "--sweep", "ls", "--from", "1n", "--to", "2n", "--point", "5"], ["operating point 5"]),
    (["loads", BISTABLE, "--sweep", "ls", "--from", "1n", "--to", "2n"], ["3 DC operating points", "--point"]),
    ([*LD, *RANGE, "--point", "2"], ["--point 2", "linear"]),
    # ndf band
    (["ndf", N, "--fmin", "0"], ["--fmin", "positive"]),
    (["ndf", N, "--fmin", "-1k"], ["--fmin", "positive"]),
    (["ndf", N, "--fmin", "inf"], ["--fmin", "inf"]),
    (["ndf", N, "--fmin", "nan"], ["--fmin", "nan"]),
    (["ndf", N, "--fmax", "1e999"], ["--fmax", "finite"]),
    (["ndf", N, "--fmin", "abc"], ["--fmin", "abc"]),
    (["ndf", N, "--fmin", "1g", "--fmax", "1meg"], ["--fmin 1g must be below --fmax 1meg"]),
    (["ndf", N, "--fmin", "1e-300"], ["--fmin", "expected a frequency between 1 pHz and"]),
    (["ndf", N, "--fmax", "1e300"], ["--fmax", "expected a frequency between 1 pHz and"]),
    # zin
    (["zin", N, "--port", "zz"], ["zz", "nodes: d, m"]),
    (["zin", N, "--port", "d,d"], ["the two nodes are the same"]),
    (["zin", N, "--port", "d", "--freqs", "0:1g:3"], ["--freqs", "START:STOP:N"]),
    (["zin", N, "--port", "d", "--freqs", "1g:1meg:3"], ["--freqs"]),
    (["zin", N, "--port", "d", "--freqs", "1:2:0"], ["--freqs"]),
    (["zin", N, "--port", "d", "--freqs", "1:2:2.5"], ["--freqs"]),
    (["zin", N, "--port", "d", "--freqs", "1meg:1g:100000000000"], ["--freqs", "N from 1 to 100000"]),
    (["zin", N, "--port", "d", "--freqs", "nan"], ["--freqs"]),
    (["zin", N, "--port", "d", "--freqs", "1e999"], ["--freqs"]),
    (["zin", N, "--port", "d", "--freqs", "1g,,2g"], ["--freqs"]),
    (["zin", N, "--port", "d", "--freqs", ""], ["--freqs"]),
    # loads: range, scale, tolerances, counts
    ([*LD, "--from", "0", "--to", "100n", "--scale", "log"], ["--scale log", "positive"]),
    ([*LD, "--from", "-1n", "--to", "100n", "--scale", "log"], ["--scale log", "positive"]),
    ([*LD, "--from", "1n", "--to", "1e999"], ["--to", "finite"]),
    ([*LD, "--from", "nan", "--to", "1"], ["--from", "nan"]),
    ([*LD, "--from", "-inf", "--to", "1"], ["--from", "-inf"]),
    ([*LD, "--from", "100n", "--to", "1n"], ["--from 100n must be below --to 1n"]),
    ([*LD, "--from", "1n", "--to", "1n"], ["must be below"]),
    ([*LD, *RANGE, "--rtol", "-1"], ["--rtol", "0 < RTOL < 0.5"]),
    ([*LD, *RANGE, "--rtol", "0"], ["--rtol", "0 < RTOL < 0.5"]),
    ([*LD, *RANGE, "--rtol", "0.5"], ["--rtol", "0 < RTOL < 0.5"]),
    ([*LD, *RANGE, "--rtol", "nan"], ["--rtol"]),
    ([*LD, *RANGE, "--rtol", "inf"], ["--rtol"]),
    ([*LD, *RANGE, "--points", "1"], ["--points", "2 to 10000"]),
    ([*LD, *RANGE, "--points", "100000"], ["--points", "2 to 10000"]),
    ([*LD, *RANGE, "--points", "1e3"], ["--points"]),
    ([*LD, *RANGE, "--workers", "0"], ["--workers", "positive"]),
    ([*LD, *RANGE, "--workers", "-2"], ["--workers", "positive"]),
    ([*LD, *RANGE, "--scale", "cubic"], ["--scale", "invalid choice"]),
    ([*LD, *RANGE, "--method", "magic"], ["--method", "invalid choice"]),
    (["loads", N, "--sweep", "nope", *RANGE], ["--sweep nope", "parameters: rneg"]),
    (["loads", N, "--sweep", "", *RANGE], ["--sweep"]),
    (["loads", BISTABLE, "--sweep", "D1", "--from", "1", "--to", "2", "--point", "1"], ["D1", "has no single value"]),
    (["loads", BISTABLE, "--sweep", "V1", "--from", "1", "--to", "2", "--point", "1"], ["V1", ".param"]),
    (["loads", LINE, "--sweep", "rs", "--from", "1", "--to", "100", "--method", "poles"], ["transmission line"]),
    # loads: --by, --map, --probes
    ([*LD, *RANGE, "--by", "rser"], ["--by", "NAME=v1,v2"]),
    ([*LD, *RANGE, "--by", "rser="], ["--by", "NAME=v1,v2"]),
    ([*LD, *RANGE, "--by", "=1,2"], ["--by"]),
    ([*LD, *RANGE, "--by", "rser=a,b"], ["--by value", "'a'"]),
    ([*LD, *RANGE, "--by", "rser=nan"], ["--by value", "nan"]),
    ([*LD, *RANGE, "--by", "rser=1e999"], ["--by value", "finite"]),
    ([*LD, *RANGE, "--by", "nope=1,2"], ["--by nope", "no parameter or element"]),
    ([*LD, *RANGE, "--map", "rser=1:2"], ["--map", "NAME=START:STOP:N"]),
    ([*LD, *RANGE, "--map", "rser=1:2:0"], ["--map", "2 to 1000"]),
    ([*LD, *RANGE, "--map", "rser=1:2:-3"], ["--map", "2 to 1000"]),
    ([*LD, *RANGE, "--map", "rser=1:2:1000000000"], ["--map", "2 to 1000"]),
    ([*LD, *RANGE, "--map", "rser=1:2:x"], ["--map", "integer"]),
    ([*LD, *RANGE, "--map", "rser=2:1:3"], ["--map", "START must be below STOP"]),
    ([*LD, *RANGE, "--map", "rser=nan:2:3"], ["--map start", "nan"]),
    ([*LD, *RANGE, "--map", "nope=1:2:3"], ["--map nope", "no parameter or element"]),
    ([*LD, *RANGE, "--by", "rser=10,20", "--probes", "a,b"], ["--probes value", "'a'"]),
    ([*LD, *RANGE, "--by", "rser=10,20", "--probes", "inf"], ["--probes value"]),
    # oppoints of a linear circuit
    (["oppoints", N], ["no nonlinear device"]),
    # the command line itself
    (["frobnicate"], ["invalid choice", "poles"]),
    ([], ["required", "COMMAND"]),
    (["poles"], ["required", "netlist"]),
    (["poles", N, "--bogus"], ["unrecognized arguments", "--bogus"]),
    (["loads", N], ["required", "--sweep"]),
    (["zin", N], ["required", "--port"]),
    (["report", N], ["required", "-o"]),
    (["check"], ["required"]),
]


@pytest.mark.parametrize("argv, needles", BAD_OPTIONS, ids=[" ".join(a[:1] + a[2:])[:60] for a, _ in BAD_OPTIONS])
def test_bad_options(argv, needles):
    assert_one_line_error(*run(argv)[::2], *needles)


@pytest.mark.parametrize("suffix, needle", [(".png.txt", "ending in .png, .svg, .pdf"), ("", "ending in"),
                                            ("/no/such/dir/map.png", "no such directory")])
def test_unwritable_or_wrong_plot_is_refused_before_any_work(tmp_path, suffix, needle):
    target = str(tmp_path / "plot") + suffix if not suffix.startswith("/") else str(tmp_path) + suffix
    t0 = time.perf_counter()
    assert_one_line_error(*run([*LD, *RANGE, "--plot", target])[::2], "--plot", needle)
    assert time.perf_counter() - t0 < 2.0  # refused before the sweep runs
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name, needle", [("report.txt", "expected a .html or .md suffix"),
                                          ("report", "expected a .html or .md suffix"),
                                          ("a_dir.html", "is a directory")])
def test_bad_report_output_is_refused_before_any_work(tmp_path, name, needle):
    (tmp_path / "a_dir.html").mkdir()
    assert_one_line_error(*run(["report", NTYPE, "-o", tmp_path / name])[::2], needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_dir.html"]


def test_report_into_a_folder_that_cannot_be_created(tmp_path):
    """A file where the output's folder should be: the OS error, one line."""
    (tmp_path / "blocker").write_text("a file, not a folder")
    line = assert_one_line_error(*run(["report", NTYPE, "-o", tmp_path / "blocker" / "r.html"])[::2])
    assert "blocker" in line


def test_negative_values_with_suffixes_are_values_not_options():
    """``--from -2n``: argparse alone reads ``-2n`` as an unknown option; stabkit takes it as a number."""
    code, out, err = run(["loads", str(CASES / "ideal_nic.cir"), "--sweep", "lext", "--from", "-2n", "--to", "100n",
                          "--json"])
    assert code == 0, err
    (lo, hi), = json.loads(out)["intervals"]
    assert hi == pytest.approx(100e-9) and lo == pytest.approx(5e-9, rel=1e-3)  # closed form: stable iff lext > l0


# ----------------------------------------------------------------------------- check goes on after a broken case
def test_check_reports_a_broken_case_and_checks_the_others(tmp_path):
    """A netlist with a syntax error in one case: that case is one line on stderr (file and line), the other cases
    are still checked and reported, and the exit status is 2."""
    (tmp_path / "broken.cir").write_text("broken\nR1 a 0 50\nC1 a 0 oops\n.end\n")
    (tmp_path / "a_broken.stab.yaml").write_text("netlist: broken.cir\nexpect: {stable: true}\n")
    (tmp_path / "b_good.stab.yaml").write_text(f"netlist: {NTYPE}\nexpect: {{stable: true}}\n")
    (tmp_path / "c_bad.stab.yaml").write_text(f"netlist: {NTYPE}\nset: {{lser: 60n}}\nexpect: {{stable: true}}\n")
    code, out, err = run(["check", tmp_path])
    assert_one_line_error(code, err, "broken.cir:3")
    assert [ln.split()[0] for ln in out.splitlines()] == ["FAIL", "3"]
    assert "c_bad.stab.yaml:3" in out
    assert out.splitlines()[-1].endswith("1 not checked (bad input, on stderr)")
    code, out, err = run(["check", tmp_path, "--json"])
    assert code == 2
    data = json.loads(out)
    assert [r["status"] for r in data["results"]] == ["error", "passed", "failed"]
    assert data["errors"] == 1 and data["passed"] is False


# ----------------------------------------------------------------------------- element sweeps in a transistor circuit
GP_AMP = """Common-emitter amplifier: BFR840L3RHESD (vendor Gummel-Poon + package), resistive bias, 50 ohm ends
.include '{models}/BFR840L3RHESD.lib'
VCC vcc 0 3
RB1 vcc b 33k
RB2 b 0 10k
RC vcc c 470
RE e 0 100
C2 e 0 10n
CIN in b 10n
RS in 0 50
COUT c out 10n
RL out 0 50
X1 c b e BFR840L3RHESD
.end
"""


@pytest.fixture
def gp_amp(tmp_path, models_dir) -> str:
    path = tmp_path / "gp_amp.cir"
    path.write_text(GP_AMP.format(models=models_dir))
    return str(path)


@pytest.mark.parametrize("element, lo, hi", [("C2", "1p", "100n"), ("COUT", "1p", "1u"), ("X1.LB", "0.1n", "1n")])
def test_element_sweep_in_a_transistor_circuit(gp_amp, element, lo, hi):
    """`loads --sweep C2` (an element, as --help promises) in a Gummel-Poon circuit: linearized once (a capacitor
    or an inductor leaves the bias alone), the stable set found, and each end confirmed by `poles --set`."""
    code, out, err = run(["loads", gp_amp, "--sweep", element, "--from", lo, "--to", hi, "--points", "7", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["param"] == element and data["verdict"] == "stable"
    assert data["intervals"] and data["intervals"][0][0] == pytest.approx(float(data["intervals"][0][0]))
    for value in (lo, hi):
        code, out, err = run(["poles", gp_amp, "--set", f"{element}={value}", "--json"])
        assert code == 0 and json.loads(out)["verdict"] == "stable", err


def test_sweeping_a_bias_resistor_re_biases_at_every_value(gp_amp):
    """A swept bias resistor is no longer refused (issue 11): every value is re-biased, and the JSON says so."""
    code, out, err = run(["loads", gp_amp, "--sweep", "RE", "--from", "50", "--to", "200", "--points", "3", "--json"])
    assert code in (0, 1, 3), err
    data = json.loads(out)
    assert data["rebias"] == "point"
    assert [b["region"] for b in data["bias"].values() if "ic" in b] == ["forward active"]


def test_a_map_over_a_bias_moving_value_is_refused_with_the_reason(gp_amp):
    """A --map linearizes once: a bias-moving axis is refused, naming --by as the way to re-bias."""
    line = assert_one_line_error(*run(["loads", gp_amp, "--sweep", "RL", "--from", "10", "--to", "100",
                                       "--map", "RE=50:200:3", "--points", "3"])[::2], "moves the DC operating point")
    assert "--by" in line


def test_a_mode_beyond_double_precision_is_uncertain():
    """rser = 1e300 ohm puts the series R-L mode at -R/(2πL) ≈ -5.3e306 Hz: a genuine natural frequency that double
    precision cannot place; the verdict is uncertain (exit 3) with that reason on stderr, not stable."""
    code, out, err = run(["poles", NTYPE, "--set", "rser=1e300"])
    assert code == 3, (code, err)
    assert "stabkit: uncertain:" in err and "cannot be resolved in double precision" in err
    assert "UNCERTAIN" in out


# ----------------------------------------------------------------------------- fuzzing whole command lines
VALUES = ["0", "-1", "1", "2", "1e999", "-1e999", "nan", "inf", "-inf", "1e-320", "1e300", "abc", "", "=",
          "1n", "-2n", "60n", "3:2:1", "1:2:3", "1g", "1meg:1g:3", "rser=10,20", "lser=5n", "rneg=", "d", "m", "zz",
          "x", "7", "99999999999999999999", "5%", "-5n,-1n", "lser=1n:100n", "Ls=50", "rser", "Ls", "L", "C",
          "widest", "1meg:1g", "0:1g", "1g:1meg"]
OPTIONS = {
    "poles": ["--set", "--point", "--json"],
    "ndf": ["--set", "--point", "--fmin", "--fmax", "--json"],
    "zin": ["--set", "--point", "--port", "--freqs", "--json"],
    "oppoints": ["--set", "--json"],
    "oscillation": ["--set", "--harmonics", "--json"],
    "loads": ["--set", "--point", "--sweep", "--from", "--to", "--by", "--map", "--probes", "--rtol", "--points",
              "--scale", "--method", "--json"],
    "equiv": ["--set", "--point", "--port", "--band", "--target", "--kind", "--tune", "--mode", "--tol", "--compensate",
              "--external", "--loads", "--by", "--line", "--line-above", "--search", "--points", "--rtol", "--fmin",
              "--fmax", "--json"],
}
FLAGS = {"--json"}


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(sorted(OPTIONS)))
    argv = [command, draw(st.sampled_from([NTYPE, BISTABLE, "no_such.cir", str(CASES)]))]
    if command == "equiv" and draw(st.booleans()):  # the required options first, so that most lines get past them
        argv += ["--port", "d", "--band", "100meg:1g", "--target", "-5n"]
    for _ in range(draw(st.integers(0, 5))):
        option = draw(st.sampled_from(OPTIONS[command]))
        argv.append(option)
        if option not in FLAGS:
            argv.append(draw(st.sampled_from(VALUES) | st.text(max_size=6)))
    if command == "loads":
        argv += ["--points", "5", "--workers", "1"]  # keep each example cheap (later options win)
    if command == "equiv":
        argv += ["--points", "5", "--workers", "1"]
    return argv


@pytest.mark.filterwarnings("ignore::stabkit.errors.StabkitWarning")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=command_lines())
def test_fuzzed_command_lines_never_crash(argv):
    """Whatever the arguments: exit 0/1/3 with a verdict, or 2 with one error line — never an exception."""
    code, out, err = run(argv)
    assert code in (0, 1, 2, 3), (argv, code)
    if code == 2:
        assert_one_line_error(code, err)
    else:
        assert "stabkit: error" not in err
        assert out.strip(), "a run that succeeds prints its answer"


@settings(max_examples=60, deadline=None)
@given(x=st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 5e-324, 1e-320, 1e308]))
def test_fuzzed_set_values(x):
    """Any float for the negative resistance: a verdict, or exit 2 with one line (zero, non-finite, overflow)."""
    import warnings

    from stabkit.errors import StabkitWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        code, out, err = run(["poles", NTYPE, "--set", f"rneg={x!r}", "--json"])
    if code == 2:
        assert_one_line_error(code, err)
    else:
        assert code in (0, 1, 3)
        assert json.loads(out)["verdict"] == {0: "stable", 1: "unstable", 3: "uncertain"}[code]


# ----------------------------------------------------------------------------- Ctrl-C, a huge netlist (subprocesses)
def _limited_memory():  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # a runaway allocation fails, the machine lives


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to see the worker processes")
@pytest.mark.parametrize("delay", [0.0, 0.05, 2.0])
def test_ctrl_c_with_workers_exits_130_at_once(delay):
    """SIGINT to the whole process group (what Ctrl-C does) while a `loads --by` run has its worker processes
    (as they start, and busy): exit 130 within seconds, `stabkit: interrupted` and nothing else on stderr (no
    worker tracebacks), no process of the group left behind."""
    argv = [sys.executable, "-m", "stabkit", "loads", str(CASES / "linvill_nic.cir"), "--sweep", "lext", "--from",
            "0.5n", "--to", "60n", "--by", "rc=" + ",".join(str(x / 2) for x in range(40)), "--workers", "2"]
    with subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True, preexec_fn=_limited_memory) as proc:
        try:
            t0 = time.perf_counter()
            while not _children(proc.pid) and proc.poll() is None and time.perf_counter() - t0 < 120:
                time.sleep(0.01)
            time.sleep(delay)
            assert proc.poll() is None, "the sweep finished before it could be interrupted"
            t0 = time.perf_counter()
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            elapsed = time.perf_counter() - t0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    assert proc.returncode == 130
    assert err == "stabkit: interrupted\n"
    assert elapsed < 5.0, f"took {elapsed:.1f} s to stop"
    deadline = time.perf_counter() + 5.0
    while time.perf_counter() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break  # no process of the group is left
        time.sleep(0.1)
    else:
        pytest.fail("worker processes outlived the interrupted command")


def test_twenty_thousand_nodes_work_or_say_one_line(tmp_path):
    """A 20 000-section RC ladder: the exact poles would need ~40 GB, so the rightmost natural frequencies come
    from shift-invert Arnoldi (sparse), cross-checked with the NDF, and the result says so; the verdict is the
    passive ladder's (stable, every mode found in the left half-plane), no traceback, memory bounded (6 GB)."""
    lines = ["RC ladder, 20000 sections", "R0 in 0 50"]
    for k in range(20000):
        lines += [f"R{k + 1} {'in' if k == 0 else f'n{k - 1}'} n{k} 1", f"C{k + 1} n{k} 0 1p"]
    lines += ["Rend n19999 0 50", ".end"]
    net = tmp_path / "ladder.cir"
    net.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([sys.executable, "-m", "stabkit", "poles", str(net), "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=600, preexec_fn=_limited_memory)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"] == "stable" and len(data["poles"]) >= 1
    assert all(re < 0 for re, _ in data["poles"])
    assert proc.stderr == ""  # under --json the warnings are in the document
    assert any("20001 unknowns" in w and "shift-invert Arnoldi" in w for w in data["warnings"])


def test_dense_pole_limit():
    from stabkit.analysis.verdict import POLES_MAX_UNKNOWNS, dense_poles_fit

    assert dense_poles_fit(100)[0]
    fits, why = dense_poles_fit(POLES_MAX_UNKNOWNS + 1)
    assert not fits and f"{POLES_MAX_UNKNOWNS + 1} unknowns" in why


def test_method_poles_on_a_circuit_too_large_for_the_exact_spectrum():
    """`method="poles"` on more unknowns than the dense solution allows: the rightmost modes by shift-invert
    Arnoldi, which alone (no NDF count to prove them complete) never make a circuit stable."""
    from stabkit.analysis.verdict import POLES_MAX_UNKNOWNS, decide_linear
    from stabkit.circuit.graph import Circuit

    c = Circuit("long ladder")
    c.add_resistor("R0", "n0", 0, 50.0)
    for k in range(POLES_MAX_UNKNOWNS):
        c.add_resistor(f"R{k + 1}", f"n{k}", f"n{k + 1}", 1.0)
        c.add_capacitor(f"C{k + 1}", f"n{k + 1}", 0, 1e-12)
    t0 = time.perf_counter()
    pv = decide_linear(c, method="poles")
    assert pv.poles.method == "shift-invert Arnoldi" and pv.poles.rhp_count == 0 and pv.poles.poles.size >= 1
    assert pv.verdict == "uncertain" and "without the NDF count" in pv.reasons[0]
    assert time.perf_counter() - t0 < 30.0


def test_an_ndf_that_cannot_count_makes_the_verdict_uncertain_not_bad_input(monkeypatch):
    """A degenerate contour (a leading minor of the return-difference matrix vanishing identically) on a valid
    circuit is numerical doubt: exit 3 with the reason, never exit 2 'bad input'; a sure instability of the
    exact poles still stands."""
    import stabkit.analysis.ndf as ndf_module
    from stabkit.errors import CircuitError

    def refuse(*args, **kwargs):
        raise CircuitError("the return-difference matrix is singular on the contour (a leading minor vanishes "
                           "identically near s = 1 rad/s): a subset of the active elements makes the circuit "
                           "degenerate")

    monkeypatch.setattr(ndf_module, "ndf", refuse)  # decide_linear imports it at call time
    code, out, err = run(["poles", NTYPE])
    assert code == 3 and "NDF: no count" in err, (code, err)
    code, out, err = run(["ndf", NTYPE])
    assert code == 3 and "NDF: no count" in err, (code, err)
    code, out, err = run(["poles", NTYPE, "--set", "lser=60n"])  # two RHP poles, sure: unstable stands
    assert code == 1, (code, err)
