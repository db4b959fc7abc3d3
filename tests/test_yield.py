"""``stabkit yield``: Monte-Carlo yield over tolerances, locally and on a real Dask cluster.

References independent of the code under test:

* the N-type amplifier of :mod:`stab_helpers` (``−g ∥ C`` fed by ``R + L``) is stable iff ``R < 1/g`` and
  ``L < R·C/g``: every sample's verdict is checked against that, and the exact stable probability under the
  uniform distributions used (a double integral by :func:`scipy.integrate.dblquad`) must lie inside the
  reported 95 % interval;
* the Wilson interval against :func:`scipy.stats.binomtest`;
* the sample stream against the distributions (Kolmogorov–Smirnov, fixed seed);
* the worst samples written as netlists, read back and judged again (``stabkit poles``), and for the vendor
  Linvill case the per-sample route (private parameters) against ``Circuit.with_values`` + model card copy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from stab_helpers import NTYPE_NETLIST, ntype_poles_hz
from stabkit import Circuit
from stabkit.analysis.tolerance import (Distribution, Variation, bind_variations, draw_samples, flat_netlist,
                                        least_damped, parse_distribution, parse_vary, sample_circuit,
                                        wilson_interval, yield_analysis, yield_interval)
from stabkit.analysis.verdict import decide
from stabkit.errors import ParameterError

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"
LINVILL = REPO / "cases" / "linvill_bfr840.cir"

# the closed-form case: uniform R, g, L around the N-type amplifier (C = 10 pF fixed)
C_DEV = 10e-12
R_LO, R_HI = 5.0, 45.0
G_LO, G_HI = 0.015, 0.03
L_LO, L_HI = 1e-9, 20e-9
VARY = {"rs": f"uniform:{R_LO}:{R_HI}", "g": f"uniform:{G_LO}:{G_HI}", "lser": "uniform:1n:20n"}
N_SAMPLES = 300
SEED = 20240607


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e["STABKIT_NO_PROGRESS"] = "1"
    e["MPLBACKEND"] = "Agg"
    return e


def _cli(*argv, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stabkit", *map(str, argv)], cwd=cwd or REPO, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def ntype_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ntype") / "ntype.cir"
    path.write_text(NTYPE_NETLIST)
    return path


@pytest.fixture(scope="module")
def ntype() -> Circuit:
    return Circuit.from_netlist(NTYPE_NETLIST)


@pytest.fixture(scope="module")
def serial_run(ntype):
    return yield_analysis(ntype, VARY, N_SAMPLES, seed=SEED, workers=1)


def exact_stable_probability() -> float:
    """P(R < 1/g and L < R·C/g) for R, g, L independent and uniform: a double integral over (g, R) of the
    probability that L falls below R·C/g."""
    def inner(r, g):
        return np.clip((r * C_DEV / g - L_LO) / (L_HI - L_LO), 0.0, 1.0)

    value, err = integrate.dblquad(inner, G_LO, G_HI, lambda g: R_LO, lambda g: min(R_HI, 1.0 / g),
                                   epsabs=1e-12, epsrel=1e-10)
    assert err < 1e-8
    return value / ((G_HI - G_LO) * (R_HI - R_LO))


def closed_form_stable(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stable, clear): the closed-form verdict per sample row (rs, g, lser), and whether the sample is more
    than 1e-6 (relative) away from both boundaries."""
    r, g, lser = values.T
    a = 1.0 / g - r  # > 0 needed
    b = r * C_DEV / g - lser  # > 0 needed
    clear = (np.abs(a) > 1e-6 * r) & (np.abs(b) > 1e-6 * lser)
    return (a > 0) & (b > 0), clear


# ---------------------------------------------------------------------------------------------- parsing
def test_distributions_parse():
    assert parse_distribution("uniform:1n:5n") == Distribution("uniform", 1e-9, 5e-9, "uniform:1n:5n")
    d = parse_distribution("normal:50:2.5")
    assert (d.kind, d.a, d.b) == ("normal", 50.0, 2.5)
    d = parse_distribution("tol:5%")
    assert (d.kind, d.a) == ("tol", 0.05)
    assert parse_vary("RS=tol:10%")[0] == "rs"


@pytest.mark.parametrize("spec, words", [
    ("gauss:1:2", "expected uniform:LO:HI"), ("uniform:5:1", "LO < HI"), ("normal:1:0", "SIGMA > 0"),
    ("tol:5", "percent sign"), ("tol:150%", "between 0 and 100"), ("uniform:1n", "two numbers"),
    ("uniform:abc:2", "expected a number"),
])
def test_bad_distributions_name_the_problem(spec, words):
    with pytest.raises(ParameterError, match=words.replace("(", r"\(")):
        parse_distribution(spec)


def test_binding_finds_params_elements_and_model_cards():
    c = Circuit.from_netlist("""bind
.param rl=50
.model qx npn(bf=100 is=1e-16)
VCC vcc 0 5
R1 vcc b 10k
RL vcc c {rl}
Q1 c b 0 qx
.end
""")
    vs = bind_variations(c, [parse_vary("rl=tol:10%"), parse_vary("r1=uniform:9k:11k"),
                             parse_vary("qx.bf=tol:20%"), parse_vary("vcc=normal:5:0.1")])
    assert [(v.target, v.nominal) for v in vs] == [("param", 50.0), ("element", 1e4), ("model", 100.0),
                                                   ("element", 5.0)]
    np.testing.assert_allclose([vs[0].a, vs[0].b], [45.0, 55.0], rtol=1e-15)
    np.testing.assert_allclose([vs[2].a, vs[2].b], [80.0, 120.0], rtol=1e-15)
    assert vs[3].key == "dc" and vs[3].kind == "normal"
    with pytest.raises(ParameterError, match=r"named nope, qx\.nf"):
        bind_variations(c, [parse_vary("nope=tol:1%"), parse_vary("qx.nf=tol:1%"), parse_vary("rl=tol:1%")])
    with pytest.raises(ParameterError, match="varied twice"):
        bind_variations(c, [parse_vary("rl=tol:1%"), parse_vary("RL=tol:2%")])


def test_scoped_model_cards_are_named_in_the_error():
    c = Circuit.from_netlist("""scoped
.subckt amp c b e
.model qm npn(bf=100)
Q1 c b e qm
.ends
VCC vcc 0 5
R1 vcc b 10k
R2 vcc c 1k
X1 c b 0 amp
.end
""")
    with pytest.raises(ParameterError, match=r"x1\.qm\.bf"):
        bind_variations(c, [parse_vary("qm.bf=tol:10%")])


def test_samples_follow_their_distributions_and_do_not_depend_on_n():
    vs = [Variation("a", "param", "uniform", 2.0, 5.0, 3.5, "uniform:2:5"),
          Variation("b", "param", "normal", 10.0, 0.5, 10.0, "normal:10:0.5")]
    x = draw_samples(vs, 20000, seed=3)
    assert x[:, 0].min() >= 2.0 and x[:, 0].max() < 5.0
    # Kolmogorov–Smirnov against the intended distributions (fixed seed: deterministic)
    assert stats.kstest(x[:, 0], stats.uniform(loc=2.0, scale=3.0).cdf).pvalue > 0.01
    assert stats.kstest(x[:, 1], stats.norm(loc=10.0, scale=0.5).cdf).pvalue > 0.01
    np.testing.assert_array_equal(draw_samples(vs, 100, seed=3), x[:100])
    assert not np.array_equal(draw_samples(vs, 100, seed=4), x[:100])


# ---------------------------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("k, n", [(0, 10), (1, 10), (7, 10), (10, 10), (500, 1000), (999, 1000), (3, 7)])
def test_wilson_interval_matches_scipy(k, n):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    np.testing.assert_allclose(wilson_interval(k, n), [ci.low, ci.high], rtol=1e-9, atol=1e-12)


def test_uncertain_samples_widen_the_interval_both_ways():
    lo, hi = yield_interval(80, 10, 100)
    assert lo == pytest.approx(wilson_interval(80, 100)[0], rel=1e-12)
    assert hi == pytest.approx(wilson_interval(90, 100)[1], rel=1e-12)
    assert yield_interval(80, 0, 100) == wilson_interval(80, 100)


def test_least_damped_pole():
    poles = np.array([-1.0 + 0j, -0.1 + 10j, -0.1 - 10j, -50 + 1j, -50 - 1j])
    pole, margin = least_damped(poles)
    assert pole == complex(-0.1, 10.0)
    assert margin == pytest.approx(-0.1 / abs(poles[1]), rel=1e-12)
    assert least_damped(np.array([-3.0 + 0j, 2.0 + 0j]))[1] == 1.0


# ---------------------------------------------------------------------------------------------- the closed form
def test_every_sample_agrees_with_the_closed_form(serial_run):
    res = serial_run
    stable, clear = closed_form_stable(res.values)
    assert clear.sum() >= N_SAMPLES - 1
    codes = res.outcomes.codes
    np.testing.assert_array_equal(codes[clear] == 0, stable[clear])
    assert res.uncertain == 0
    # a real RHP pole for R > 1/g, a complex pair for L > RC/g: margins positive exactly for unstable samples
    np.testing.assert_array_equal(res.outcomes.margin[clear] > 0, ~stable[clear])


def test_stable_fraction_brackets_the_exact_probability(serial_run):
    exact = exact_stable_probability()
    res = serial_run
    lo, hi = res.ci95
    assert lo <= exact <= hi, f"exact {exact:.4f} outside [{lo:.4f}, {hi:.4f}] (fraction {res.stable_fraction:.4f})"
    assert res.stable_fraction == res.stable / N_SAMPLES
    assert 0.05 < hi - lo < 0.15  # the interval of 300 samples near p = 0.5, not a vacuous [0, 1]


def test_worst_samples_are_ranked_by_damping(serial_run):
    res = serial_run
    worst = res.worst(5)
    margins = res.outcomes.margin[worst]
    assert all(res.outcomes.codes[i] == 1 for i in worst)
    assert np.all(np.diff(margins) <= 0)
    assert margins[0] == np.nanmax(res.outcomes.margin)


def test_local_processes_give_identical_results(ntype, serial_run):
    res = yield_analysis(ntype, VARY, N_SAMPLES, seed=SEED, workers=2)
    assert res.backend == "processes" and res.workers == 2
    np.testing.assert_array_equal(res.values, serial_run.values)
    np.testing.assert_array_equal(res.outcomes.codes, serial_run.outcomes.codes)
    np.testing.assert_allclose(res.outcomes.margin, serial_run.outcomes.margin, rtol=1e-9)


# ---------------------------------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def local_cluster():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed "
                                                            "(pip install -e '.[test]')")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        yield cluster


def test_dask_local_cluster_gives_the_same_counts(ntype, serial_run, local_cluster):
    import distributed  # the test extra installs dask[distributed]
    res = yield_analysis(ntype, VARY, N_SAMPLES, seed=SEED, scheduler=local_cluster.scheduler_address)
    assert res.backend == "dask" and res.workers == 2
    np.testing.assert_array_equal(res.outcomes.codes, serial_run.outcomes.codes)
    np.testing.assert_allclose(res.outcomes.margin, serial_run.outcomes.margin, rtol=1e-9)
    assert (res.stable, res.unstable, res.uncertain) == (serial_run.stable, serial_run.unstable, serial_run.uncertain)
    with distributed.Client(local_cluster.scheduler_address, set_as_default=False) as client:
        # the run's worker plugin: BLAS limited to one thread, the statistical profiler paused; removed after the
        # run, leaving the workers as they were
        from threadpoolctl import threadpool_info

        from stabkit.analysis.tolerance import DASK_PLUGIN, _worker_plugin

        def state(dask_worker):
            return (DASK_PLUGIN in dask_worker.plugins, dask_worker.periodic_callbacks["profile"].is_running(),
                    max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"))

        assert sorted(client.run(state).values()) == [(False, True, 1)] * 2
        client.register_plugin(_worker_plugin())
        assert sorted(client.run(state).values()) == [(True, False, 1)] * 2
        client.unregister_worker_plugin(DASK_PLUGIN)
        assert sorted(client.run(state).values()) == [(False, True, 1)] * 2
        # a connected client works too (the caller's client is left open)
        again = yield_analysis(ntype, VARY, 40, seed=SEED, scheduler=client)
        np.testing.assert_array_equal(again.outcomes.codes, serial_run.outcomes.codes[:40])
        assert client.status == "running"


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory):
    """``dask scheduler`` + ``dask worker`` (2 single-threaded workers) on loopback, as separate processes."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[test]')")
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            env=_env(), cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scheduler_file.exists(), "the dask scheduler did not start within 60 s"
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", address, "--nworkers", "2", "--nthreads", "1",
             "--no-dashboard", "--host", "127.0.0.1"],
            env=_env(), cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # both workers registered before a test counts them (on a loaded machine the second may take seconds)
        import distributed

        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_cli_on_dask_scheduler_and_workers_matches_local(ntype_file, serial_run, dask_processes):
    args = [ntype_file, *sum((["--vary", f"{k}={v}"] for k, v in VARY.items()), []), "--samples", N_SAMPLES,
            "--seed", SEED, "--json"]
    proc = _cli("yield", *args, "--scheduler", dask_processes)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["backend"] == "dask" and out["workers"] == 2
    assert (out["samples"], out["stable"], out["unstable"], out["uncertain"]) == \
        (N_SAMPLES, serial_run.stable, serial_run.unstable, serial_run.uncertain)
    np.testing.assert_allclose(out["ci95"], serial_run.ci95, rtol=1e-12)
    local = _cli("yield", *args, "--workers", 2)
    assert local.returncode == 0, local.stderr
    lout = json.loads(local.stdout)
    assert lout["backend"] == "processes"
    for key in ("samples", "stable", "unstable", "uncertain", "stable_fraction", "ci95"):
        assert lout[key] == out[key], key
    assert [w["index"] for w in lout["worst"]] == [w["index"] for w in out["worst"]]


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_json_contract_and_kept_netlists(ntype_file, serial_run, tmp_path):
    keep = tmp_path / "worst"
    plot = tmp_path / "hist.png"
    proc = _cli("yield", ntype_file, *sum((["--vary", f"{k}={v}"] for k, v in VARY.items()), []),
                "--samples", N_SAMPLES, "--seed", SEED, "--workers", 1, "--worst", 3, "--keep", keep,
                "--plot", plot, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["samples"] == N_SAMPLES and out["stable"] == serial_run.stable
    assert out["stable_fraction"] == pytest.approx(serial_run.stable / N_SAMPLES, rel=1e-15)
    assert len(out["worst"]) == 3 and plot.stat().st_size > 1000
    for entry in out["worst"]:
        assert set(entry["set"]) == set(VARY)
        # the kept netlist, judged again from its text, has the sample's least-damped pole
        again = _cli("poles", entry["netlist"], "--json")
        assert again.returncode == 1, again.stderr  # the worst samples are unstable
        poles = np.array([complex(*p) for p in json.loads(again.stdout)["poles"]])
        pole, _ = least_damped(poles)
        np.testing.assert_allclose([pole.real, pole.imag], entry["rightmost_pole"], rtol=1e-9, atol=1e-3)
        # and the closed form agrees that the written values are unstable
        row = np.array([[entry["set"]["rs"], entry["set"]["g"], entry["set"]["lser"]]])
        assert not closed_form_stable(row)[0][0]


def test_cli_text_and_require_exit_status(ntype_file, serial_run):
    base = ["yield", ntype_file, *sum((["--vary", f"{k}={v}"] for k, v in VARY.items()), []), "--samples", 100,
            "--seed", SEED, "--workers", 1]
    lo, hi = yield_analysis(Circuit.from_netlist(NTYPE_NETLIST), VARY, 100, seed=SEED, workers=1).ci95
    proc = _cli(*base)
    assert proc.returncode == 0 and "95 % confidence interval" in proc.stdout
    assert _cli(*base, "--require", f"{lo * 0.9:.6f}").returncode == 0  # the whole interval above: met
    assert _cli(*base, "--require", f"{min(1.0, hi * 1.05):.6f}").returncode == 1  # the interval below: not met
    straddle = _cli(*base, "--require", f"{100 * (lo + hi) / 2:.4f}%", "--json")
    assert straddle.returncode == 3 and "stabkit: uncertain:" in straddle.stderr
    assert json.loads(straddle.stdout)["require"] == {"fraction": pytest.approx((lo + hi) / 2, rel=1e-5), "met": None}


@pytest.mark.parametrize("argv, words", [
    (["--vary", "nope=tol:5%", "--vary", "rs.bf=tol:1%"], "named nope, rs.bf"),
    (["--vary", "rs=tol:5"], "percent sign"),
    (["--vary", "rs=tol:5%", "--samples", "0"], "positive integer"),
    (["--vary", "rs=tol:5%", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with"),
    (["--vary", "rs=tol:5%", "--require", "1.5"], "fraction"),
])
def test_cli_bad_input_exits_2(ntype_file, argv, words):
    proc = _cli("yield", ntype_file, *argv)
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_scheduler_is_bad_input(ntype_file):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    for address in ("tcp://127.0.0.1:9", "127.0.0.1:9"):
        proc = _cli("yield", ntype_file, "--vary", "rs=tol:5%", "--samples", 5, "--scheduler", address)
        assert proc.returncode == 2 and "cannot reach the Dask scheduler" in proc.stderr, proc.stderr


def test_ctrl_c_stops_the_workers(ntype_file):
    proc = subprocess.Popen([sys.executable, "-m", "stabkit", "yield", str(ntype_file), "--vary", "rs=tol:5%",
                             "--samples", "1000000", "--workers", "2", "--seed", "1"],
                            cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        deadline = time.monotonic() + 60
        # interrupt once the pool's workers run (not during the imports, which may take seconds on a busy machine)
        while time.monotonic() < deadline and proc.poll() is None:
            if children.exists() and len(children.read_text().split()) >= 2:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()
        workers = [int(p) for p in children.read_text().split()] if children.exists() else []
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "stabkit: interrupted" in err and "Traceback" not in err
        assert time.monotonic() - start < 10
        time.sleep(0.5)
        for pid in workers:  # the pool's workers are gone too (or dead, waiting to be reaped)
            try:
                status = Path(f"/proc/{pid}/status").read_text().lower()
            except FileNotFoundError:
                continue
            assert "zombie" in status or "python" not in status, status[:200]
    finally:  # whatever failed above: no process left running, no pipe left open
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# ---------------------------------------------------------------------------------------------- transistors
def test_linvill_samples_are_rebiased_and_written_faithfully(tmp_path):
    if not (MODELS / "BFR840L3RHESD.lib").is_file():
        pytest.skip(f"vendor model {MODELS / 'BFR840L3RHESD.lib'} is absent (../shared/models)")
    circuit = Circuit.from_netlist(str(LINVILL)).with_values({"lext": 3e-9})
    vary = {"u": "uniform:5:12", "x1.m_bfr840l3rhesd.bf": "tol:30%", "x2.m_bfr840l3rhesd.is": "tol:20%",
            "re1": "tol:5%"}
    # from 0 V like decide() below, so both routes take the same Newton path (the warm start is tested apart)
    res = yield_analysis(circuit, vary, 3, seed=11, workers=1, warm_start=False)
    assert res.samples == 3
    for i in range(3):
        # an independent route to the same sample: a copy with the values written in, judged by decide()
        copy = sample_circuit(circuit, res.variations, res.values[i])
        assert copy.models["x1.m_bfr840l3rhesd"].params["bf"] == res.values[i, 1]
        v = decide(copy)
        pole, margin = least_damped(np.concatenate([p.poles.poles for p in v.points]))
        assert ["stable", "unstable", "uncertain"].index(v.verdict) == res.outcomes.codes[i]
        np.testing.assert_allclose(res.outcomes.pole_hz[i], pole / (2 * np.pi), rtol=1e-9)
        # the bias follows the supply: Ic of q1 ≈ (u/2 − Vbe)/R_E
        ic = v.points[0].point.transistors[0]["ic"]
        assert abs(ic - (res.values[i, 0] / 2 - 0.8) / res.values[i, 3]) < 0.25 * ic
        # the flat netlist reads back to the same circuit
        text = flat_netlist(copy)
        back = decide(Circuit.from_netlist(text))
        pole_back, _ = least_damped(np.concatenate([p.poles.poles for p in back.points]))
        np.testing.assert_allclose(pole_back, pole, rtol=1e-9)


# ---------------------------------------------------------------------------------------------- uncertain samples
TANK = """lossless tank: a natural frequency on the jω axis whatever rd is (marginal, so uncertain)
.param rd=1
L1 a 0 1u
C1 a 0 1n
R1 b 0 {rd}
.end
"""


def test_uncertain_samples_are_counted_apart_and_widen_the_interval(tmp_path):
    res = yield_analysis(Circuit.from_netlist(TANK), {"rd": "uniform:1:2"}, 20, seed=5, workers=1)
    assert (res.stable, res.unstable, res.uncertain) == (0, 0, 20)
    assert res.stable_fraction == 0.0
    assert res.ci95 == (0.0, 1.0)  # nothing is known about the stable probability
    (reason, count), = res.uncertain_reasons()
    assert count == 20 and "jω axis" in reason
    path = tmp_path / "tank.cir"
    path.write_text(TANK)
    proc = _cli("yield", path, "--vary", "rd=uniform:1:2", "--samples", 20, "--seed", 5, "--workers", 1,
                "--require", "50%", "--json")
    assert proc.returncode == 3
    out = json.loads(proc.stdout)
    assert (out["stable"], out["uncertain"], out["ci95"]) == (0, 20, [0.0, 1.0])
    assert "20 of 20 samples are uncertain" in proc.stderr


def test_a_failed_analysis_is_an_uncertain_sample_with_its_reason():
    from stabkit.analysis.tolerance import _prepare, evaluate_samples

    circuit = Circuit.from_netlist(NTYPE_NETLIST)
    variations = bind_variations(circuit, [parse_vary("ls=uniform:1n:2n")])  # an element: a private parameter
    job = _prepare(circuit, variations, "auto", None, None)
    out = evaluate_samples(job, np.array([[0.0], [2e-9]]))
    assert list(out.codes) == [2, 0]
    assert "LS evaluates to 0" in out.reasons[0] and np.isnan(out.margin[0])
    # the second sample is the closed form's: stable since 2 nH < R·C/g = 10 nH
    np.testing.assert_allclose(out.pole_hz[1], max(ntype_poles_hz(2e-9), key=lambda z: z.imag), rtol=1e-9)


def test_warm_start_from_the_nominal_point_finds_the_cold_start_bias():
    if not (MODELS / "BFR840L3RHESD.lib").is_file():
        pytest.skip(f"vendor model {MODELS / 'BFR840L3RHESD.lib'} is absent (../shared/models)")
    from stabkit.nonlinear.dc import dc_points

    circuit = Circuit.from_netlist(str(LINVILL))
    nominal = dc_points(circuit)[0]
    for values in ({"u": 5.5, "r": 860.0}, {"u": 12.0}, {"r": 700.0}):
        c = circuit.with_values(values)
        cold, warm = dc_points(c)[0], dc_points(c, start=nominal)[0]
        assert warm.method == "newton from the given start" and warm.iterations < cold.iterations / 2
        for name, t in cold.transistors.items():  # the bias of every transistor, to 1e-9 relative
            np.testing.assert_allclose([warm.transistors[name].ic, warm.transistors[name].vce], [t.ic, t.vce],
                                       rtol=1e-9)
    res_warm = yield_analysis(circuit, {"u": "tol:10%", "lext": "uniform:2n:6n"}, 4, seed=3, workers=1)
    res_cold = yield_analysis(circuit, {"u": "tol:10%", "lext": "uniform:2n:6n"}, 4, seed=3, workers=1,
                              warm_start=False)
    np.testing.assert_array_equal(res_warm.outcomes.codes, res_cold.outcomes.codes)
    np.testing.assert_allclose(res_warm.outcomes.pole_hz, res_cold.outcomes.pole_hz, rtol=1e-7)


def test_yield_samples_judged_as_fresh_netlists_are(monkeypatch):
    """The per-sample route of ``stabkit yield`` (varied values as private parameters, DC Newton warm-started from
    the nominal point, the NDF's static-pivot LU) against an independent route for each of 16 Linvill samples:
    the sample written out as a flat netlist, read back as a fresh circuit and judged by ``decide`` with a cold DC
    start and the NDF on LAPACK's pivoted LU at every frequency. L_ext spans the stable window (7.7–16.9 nH at
    nominal values), so both verdicts occur."""
    if not (MODELS / "BFR840L3RHESD.lib").is_file():
        pytest.skip(f"vendor model {MODELS / 'BFR840L3RHESD.lib'} is absent (../shared/models)")
    import stabkit.analysis.ndf as ndf_module

    circuit = Circuit.from_netlist(str(LINVILL))
    vary = {"u": "tol:5%", "rk1": "tol:5%", "re2": "tol:5%", "cblk": "tol:10%", "x1.m_bfr840l3rhesd.bf": "tol:30%",
            "x2.m_bfr840l3rhesd.is": "tol:20%", "lext": "uniform:4n:20n"}
    res = yield_analysis(circuit, vary, 16, seed=4, workers=1)
    assert res.stable >= 3 and res.unstable >= 3, (res.stable, res.unstable)
    monkeypatch.setitem(ndf_module.defaults, "ndf.static_lu_min_n", 10 ** 9)  # LAPACK at every frequency
    for i in range(res.samples):
        fresh = Circuit.from_netlist(flat_netlist(sample_circuit(circuit, res.variations, res.values[i])))
        v = decide(fresh)
        assert ["stable", "unstable", "uncertain"].index(v.verdict) == res.outcomes.codes[i], i
        pole, margin = least_damped(np.concatenate([p.poles.poles for p in v.points]))
        # the two DC solutions agree to Newton's tolerance (1e-9 relative), so the poles to about that; the margin
        # Re s/|s| then to 1e-7 absolute (it is a difference over |s|: ~1e-4 for these lightly damped pairs)
        np.testing.assert_allclose(res.outcomes.pole_hz[i], pole / (2 * np.pi), rtol=1e-7)
        np.testing.assert_allclose(res.outcomes.margin[i], margin, rtol=0, atol=1e-7)
