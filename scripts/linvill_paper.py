"""The negative-inductor paper, reproduced with stabkit (docs/paper.md).

Run from the repository root (needs ``../shared/models``; ``all`` takes about 4½ minutes of CPU time, Table 4
about 3 of them, spread over the cores)::

    python scripts/linvill_paper.py evidence      # the emitter port against the collector port
    python scripts/linvill_paper.py investigate   # what damps the 3-5 GHz pair (variants, sensitivities)
    python scripts/linvill_paper.py bias          # BFP620/BFP840 bias resistors for Fig. 2
    python scripts/linvill_paper.py tables        # Tables 2, 3 and 4, one `stabkit equiv` command each
    python scripts/linvill_paper.py figures       # Figs. 2-7 -> docs/img/paper/*.png
    python scripts/linvill_paper.py all
    python scripts/linvill_paper.py load table4 FILE   # keep the JSON of a table's command run separately

Every number docs/paper.md quotes is printed here and saved in ``scripts/linvill_paper.json``. Stability answers
come from stabkit's one verdict (``loads.admissible_range`` / ``verdict.decide_linear``); the σ scans of the
investigation are exact poles of the linearized circuit (a growth rate, not a verdict).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models"
CASE = ROOT / "cases" / "linvill_bfr840.cir"
COLLECTOR = ROOT / "cases" / "linvill_bfr840_collector.cir"
OUT_JSON = ROOT / "scripts" / "linvill_paper.json"
IMG = ROOT / "docs" / "img" / "paper"
BAND = (0.5e9, 2.0e9)
TARGET = -5e-9
EXTERNAL = ["LEXT", "RSRC"]
#: the text's values on the shipped netlist: no shunt across the load, Ln for -5 nH at 1 GHz, Rn = 10 ohm
AS_SPECIFIED = {"rp": 1e12, "lload": 5.3e-9, "rload": 10.0}
TWO_PI = 2 * np.pi

TABLE2 = ["--tune", "lload", "--mode", "widest", "--by", "u=5,6,7,8,9", "--loads", "lext=1n:100n"]
TABLE3 = ["--tune", "lload", "--mode", "widest", "--by", "rc=0,2,4,6,8", "--loads", "lext=1n:100n"]
TABLE4 = ["--target", "-1n,-2n,-3n,-4n,-5n,-6n,-7n,-8n,-9n,-10n", "--tol", "1%,2%,5%", "--tune", "lload",
          "--compensate", "rload", "--mode", "widest", "--line", "LN=90", "--line-above", "5.5n",
          "--loads", "lext=0.3n:100n", "--fmax", "1t"]


def equiv_command(extra: list[str], target: str = "-5n") -> list[str]:
    base = ["stabkit", "equiv", "cases/linvill_bfr840.cir", "--port", "in", "--band", "0.5g:2g", "--external",
            "LEXT,RSRC"]
    return base + (["--target", target] if "--target" not in extra else []) + extra


def netlist_text(path: Path, replace: list[tuple[str, str]] = (), add: str = "") -> str:
    text = path.read_text().replace("../../shared/models", str(SHARED))
    for a, b in replace:
        if a not in text:
            raise ValueError(f"{path.name}: {a!r} not found")
        text = text.replace(a, b)
    return text.replace("\n.end", "\n" + add + "\n.end") if add else text


def load(text_or_path):
    from stabkit.circuit.graph import Circuit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Circuit.from_netlist(str(text_or_path))


def linear(circuit, params=None):
    from stabkit.analysis.points import linear_point_near

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return linear_point_near(circuit, params)


def port(circuit, params=None, external=EXTERNAL):
    from stabkit.analysis.equiv import PortModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PortModel(circuit, "in", params, external)


def rightmost(lin_circuit, params) -> complex:
    """The pole (Hz) with the largest real part among those faster than 10 MHz."""
    from stabkit.analysis.poles import poles

    p = poles(lin_circuit, params).poles_hz
    p = p[np.abs(p) > 1e7]
    return complex(p[np.argmax(p.real)])


def best_growth(lin_circuit, params, lexts=np.geomspace(4e-9, 40e-9, 15)) -> tuple[float, float, float]:
    """min over L_ext of the rightmost pole's real part: (σ/2π Hz, L_ext there, |Im|/2π there)."""
    rows = [(rightmost(lin_circuit, {**params, "lext": x}), x) for x in lexts]
    p, x = min(rows, key=lambda r: r[0].real)
    return p.real, x, abs(p.imag)


# --------------------------------------------------------------------------------------------- evidence
def evidence() -> dict:
    """The emitter port against the collector port, with the text's values."""
    from stabkit.analysis.equiv import equivalent, tune_center
    from stabkit.analysis.poles import poles

    out: dict = {}
    f = np.geomspace(*BAND, 61)
    em = load(CASE)
    co = load(COLLECTOR)
    co_spec = {"rload": 10.0, "cload": 1.0, "ln0": 4.8e-9, "dln": 0.0, "rc": 0.0}
    for name, circuit, spec, rn_key in (("emitter", em, AS_SPECIFIED, "rload"), ("collector", co, co_spec, "rload")):
        model = port(circuit, spec, ["LEXT", "RSRC"])
        re0 = model.z(f, {rn_key: 1e-3}).real
        re10 = model.z(f, {rn_key: 10.0}).real
        tune_key = "lload" if name == "emitter" else "ln0"
        ln = tune_center(model, tune_key, BAND, TARGET)
        lin = linear(circuit, spec).circuit
        p = poles(lin, {**spec, "lext": 10e-9}).poles_hz
        slow = p[(p.real > 0) & (np.abs(p) < 10e6)]
        out[name] = {"re_zin_rn0_ohm": [float(re0[0]), float(re0[-1])], "re_zin_rn10_ohm": [float(re10[0]), float(re10[-1])],
                     "ln_for_minus5n_h": ln, "slow_rhp_poles_hz": [[float(z.real), float(z.imag)] for z in slow],
                     "leq_at_ln_h": [float(v) for v in equivalent(model.z(f, {tune_key: ln}), f)[[0, 30, 60]]]}
        print(f"{name:9s} port: Re Zin (Rn = 0) {re0[0]:+.1f} … {re0[-1]:+.1f} Ω, (Rn = 10 Ω) {re10[0]:+.1f} … "
              f"{re10[-1]:+.1f} Ω over 0.5–2 GHz; Ln for −5 nH (centred) {ln * 1e9:.3f} nH; slow RHP poles at "
              f"L_ext = 10 nH: {[f'{z.real:.4g} Hz' for z in slow] or 'none'}")
    lin = linear(em, AS_SPECIFIED).circuit
    lexts = [5e-9, 6e-9, 7e-9, 8e-9, 9e-9, 10e-9, 11e-9, 12e-9, 14e-9, 17e-9, 20e-9, 30e-9]
    growth = [rightmost(lin, {**AS_SPECIFIED, "lext": x}) for x in lexts]
    out["bathtub"] = [[x, g.real, abs(g.imag)] for x, g in zip(lexts, growth)]
    print("emitter port, text values: rightmost pair vs L_ext:")
    print("| L_ext, nH | " + " | ".join(f"{x * 1e9:g}" for x in lexts) + " |")
    print("|---" * (len(lexts) + 1) + "|")
    print("| σ/2π, GHz | " + " | ".join(f"{g.real / 1e9:+.2f}" for g in growth) + " |")
    print("| f, GHz | " + " | ".join(f"{abs(g.imag) / 1e9:.2f}" for g in growth) + " |")
    # the ideal-NIC forms (VCCS transistors): Zin = ±2/gm − Z_L
    for name, sign in (("emitter", +1), ("collector", -1)):
        vc = load(ROOT / "cases" / f"linvill_vccs_{name}.cir")
        z = port(vc, {"cl": 1e-21}).z([1e9])[0]
        zl = 10.0 + 1j * TWO_PI * 1e9 * 5e-9
        out[f"vccs_{name}_zin_1ghz"] = [z.real, z.imag]
        print(f"VCCS {name} port at 1 GHz: Zin = {z:.4f} Ω (closed form {sign * 2 / 0.1 - zl:.4f})")
    return out


# --------------------------------------------------------------------------------------------- investigation
def variants() -> list[tuple[str, str, dict]]:
    """(label, netlist text, params) of every candidate explanation or cure, on the text's values."""
    def cap_parasitics(text):
        for cap in ("CX1 k1 b2", "CX2 k2 b1", "CIN e1 in", "CGND e2 0"):
            name, a, b = cap.split()
            text = text.replace(f"{cap} {{cblk}}", f"{name} {a} {name}_m {{cblk}}\nL{name} {name}_m {name}_n 0.4n\n"
                                                   f"R{name} {name}_n {b} 0.3")
        return text

    base = netlist_text(CASE)
    spec = dict(AS_SPECIFIED)
    chokes = lambda pairs: netlist_text(CASE, pairs)  # noqa: E731
    out = [
        ("text values (Rc = 0)", base, spec),
        ("Rc = 8 Ω in the collector leads (DC)", base, {**spec, "rc": 8.0}),
        ("Rc = 60 Ω in the collector leads", base, {**spec, "rc": 60.0}),
        ("Rc = 100 Ω in the collector leads", base, {**spec, "rc": 100.0}),
        ("8 Ω in each feedback path (base side of CX)", netlist_text(CASE, [
            ("CX1 k1 b2 {cblk}", "CX1 k1 bx2 {cblk}\nRBS2 bx2 b2 8"), ("CX2 k2 b1 {cblk}", "CX2 k2 bx1 {cblk}\nRBS1 bx1 b1 8")]),
         spec),
        ("10 Ω per side in series with the load", base, {**spec, "rload": 30.0}),
        ("collector feeds through 1 µH chokes", chokes([("RK1 vdd k1 {r}", "RK1 vdd kk1 {r}\nLK1 kk1 k1 1u"),
                                                       ("RK2 vdd k2 {r}", "RK2 vdd kk2 {r}\nLK2 kk2 k2 1u")]), spec),
        ("base dividers through 1 µH chokes", chokes([("RBU1 vdd b1 {r}", "RBU1 vdd bb1 {r}\nLB1 bb1 b1 1u"),
                                                     ("RBG1 b1 0 {r}", "RBG1 bb1 0 {r}"),
                                                     ("RBU2 vdd b2 {r}", "RBU2 vdd bb2 {r}\nLB2 bb2 b2 1u"),
                                                     ("RBG2 b2 0 {r}", "RBG2 bb2 0 {r}")]), spec),
        ("emitter resistors through 1 µH chokes", chokes([("RE1 e1 0 {r}", "RE1 e1 ee1 {r}\nLE1 ee1 0 1u"),
                                                         ("RE2 e2 0 {r}", "RE2 e2 ee2 {r}\nLE2 ee2 0 1u")]), spec),
        ("DC blocks with 0.4 nH ESL, 0.3 Ω ESR", cap_parasitics(base), spec),
        ("junctions at 60 °C (self-heating bound)", base.replace(".temp 25", ".temp 60"), spec),
        ("BFP840ESD instead", netlist_text(ROOT / "cases" / "linvill_bfp840.cir"), spec),
        ("BFP620 instead", netlist_text(ROOT / "cases" / "linvill_bfp620.cir"), spec),
        ("shunt 1 kΩ across the load", base, {**spec, "rp": 1000.0}),
        ("shunt 700 Ω across the load (shipped)", base, {**spec, "rp": 700.0}),
        ("shunt 500 Ω across the load", base, {**spec, "rp": 500.0}),
    ]
    return out


def investigate() -> dict:
    from stabkit.analysis.sensitivity import sensitivities

    out: dict = {"variants": []}
    print("| variant | least σ/2π over L_ext 4–40 nH, GHz | at L_ext, nH | f, GHz |")
    print("|---|---|---|---|")
    for label, text, params in variants():
        circuit = load(text)
        lin = linear(circuit, params).circuit
        sigma, x, freq = best_growth(lin, params)
        out["variants"].append({"label": label, "sigma_hz": sigma, "lext": x, "freq_hz": freq})
        print(f"| {label} | {sigma / 1e9:+.3f} | {x * 1e9:.1f} | {freq / 1e9:.2f} |", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sensitivities(load(CASE), {**AS_SPECIFIED, "lext": 10e-9}, which="rhp")
    mode = res.modes[0]
    print(mode.describe())
    print("| element or parameter | value | ΔRe s/2π per +100 %, MHz | ΔIm s/2π per +100 %, MHz |")
    print("|---|---|---|---|")
    items = sorted([s for s in [*mode.elements, *mode.parameters] if s.value], key=lambda s: -abs(s.re_hz_relative))
    for s in items[:14]:
        print(f"| {s.name}{' (.param)' if s.kind == 'param' else ''} | {s.value:.4g} | {s.re_hz_relative / 1e6:+.0f} | "
              f"{s.im_hz_relative / 1e6:+.0f} |")
    out["sensitivity"] = mode.to_dict()
    return out


# --------------------------------------------------------------------------------------------- bias (Fig. 2)
def bias() -> dict:
    """Emitter and lower base resistors that put the BFP620 and BFP840 at the paper's points (U = 7 V)."""
    from scipy.optimize import fsolve

    from stabkit.nonlinear.dc import dc_point as bias_point

    out = {}
    for name, ic, vce in (("bfp620", 1.7e-3, 1.5), ("bfp840", 2.2e-3, 1.6)):
        c = load(netlist_text(ROOT / "cases" / f"linvill_{name}.cir"))

        def err(x, c=c, ic=ic, vce=vce):
            q = bias_point(c, {"re": x[0] * 1e3, "rbg": x[1] * 1e3}).transistors["X1.Q1"]
            return [q.ic / ic - 1, q.vce - vce]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = fsolve(err, [2.0, 2.0], xtol=1e-12) * 1e3
        out[name] = {"re": float(x[0]), "rbg": float(x[1])}
        print(f"{name}: re = {x[0]:.1f} Ω, rbg = {x[1]:.1f} Ω for Ic = {ic * 1e3:g} mA at Vce = {vce:g} V")
    for u in (5.0, 7.0, 12.0):
        q = bias_point(load(CASE), {"u": u}).transistors["X1.Q1"]
        out[f"bfr840_u{u:g}"] = {"ic": q.ic, "vce": q.vce}
        print(f"BFR840 at U = {u:g} V: Ic = {q.ic * 1e3:.3f} mA, Vce = {q.vce:.3f} V")
    return out


# --------------------------------------------------------------------------------------------- tables
def run_equiv(extra: list[str], name: str) -> dict:
    cmd = equiv_command(extra)
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run([sys.executable, "-m", *cmd, "--json"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{name}: exit {proc.returncode}: {proc.stderr}")
    return json.loads(proc.stdout)


def _window(d) -> str:
    iv = d.get("intervals") or []
    return "; ".join(f"[{a * 1e9:.2f}; {b * 1e9:.2f}]" for a, b in iv) or "none"


def _band(d) -> tuple[str, str, str]:
    if not d.get("tol_band_hz"):
        return "–", "–", "–"
    lo, hi = d["tol_band_hz"]
    return f"{lo / 1e9:.3f}", f"{hi / 1e9:.3f}", f"{(hi - lo) / 1e9 * 100:.0f}"


def print_columns(data: dict, by: str, label: str) -> None:
    cols = data["columns"]
    print(f"| {label} | " + " | ".join(f"{c[by]:g}" for c in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    print("| bias Ic, mA / Vce, V | " + " | ".join(f"{c['bias']['X1.Q1']['ic'] * 1e3:.2f} / {c['bias']['X1.Q1']['vce']:.3f}"
                                                    for c in cols) + " |")
    print("| Lн, nH | " + " | ".join(f"{c['tuned']['lload'] * 1e9:.3f}" for c in cols) + " |")
    bands = [_band(c) for c in cols]
    print("| f−5%, GHz | " + " | ".join(b[0] for b in bands) + " |")
    print("| f+5%, GHz | " + " | ".join(b[1] for b in bands) + " |")
    print("| Δf/f0, % (f0 = 1 GHz) | " + " | ".join(b[2] for b in bands) + " |")
    print("| admissible L_ext, nH | " + " | ".join(_window(c) for c in cols) + " |")
    print("| edge frequencies, GHz | " + " | ".join(
        " / ".join(f"{e['freq_hz'] / 1e9:.2f}" for e in c["loads"]["edges"] if e.get("freq_hz")) or "–" for c in cols)
        + " |")


def tables(which: str = "234") -> dict:
    out = {}
    if "2" in which:
        out["table2"] = run_equiv(TABLE2, "table2")
        print_columns(out["table2"], "u", "U, V")
    if "3" in which:
        out["table3"] = run_equiv(TABLE3, "table3")
        print_columns(out["table3"], "rc", "Rc, Ω")
    if "4" in which:
        out["table4"] = run_equiv(TABLE4, "table4")
        print_rows(out["table4"])
    return out


def print_rows(data: dict) -> None:
    print("| L0, nH | tol, % | f−, GHz | f+, GHz | f0, GHz | Δf/f0, % | Lн, nH | Rn, Ω | line θ, ° | admissible L_ext, nH |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in data["rows"]:
        lo, hi, _ = _band(r)
        f0 = f"{r['f0_hz'] / 1e9:.2f}" if r.get("f0_hz") else "–"
        bw = f"{r['bandwidth_pct']:.0f}" if r.get("bandwidth_pct") else "–"
        line = f"{r['line']['theta_deg']:.1f}" if r.get("line") else "–"
        print(f"| {r['target'] * 1e9:.0f} | ±{r['tol_pct']:g} | {lo} | {hi} | {f0} | {bw} | {r['tuned']['lload'] * 1e9:.2f} | "
              f"{r['tuned'].get('rload', float('nan')):.1f} | {line} | {_window(r)} |")


# --------------------------------------------------------------------------------------------- figures
def _fig_grid(rows=1, cols=3, size=(12, 3.4)):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return fig, axes


def _curves(ax_im, ax_re, ax_l, f, z, label, **kw):
    ax_im.plot(f / 1e9, z.imag, label=label, **kw)
    ax_re.plot(f / 1e9, z.real, label=label, **kw)
    ax_l.plot(f / 1e9, z.imag / (TWO_PI * f) * 1e9, label=label, **kw)


def _finish(fig, axes, name, titles=None):
    for row in axes:
        row[0].set_ylabel("Im Zin, Ω")
        row[1].set_ylabel("Re Zin, Ω")
        row[2].set_ylabel("L_eq, nH")
        for ax in row:
            ax.set_xlabel("f, GHz")
            ax.grid(True, alpha=0.3)
            ax.axvspan(BAND[0] / 1e9, BAND[1] / 1e9, color="grey", alpha=0.08)
        row[2].legend(fontsize=7)
    if titles:
        for row, t in zip(axes, titles):
            row[0].set_title(t, fontsize=9, loc="left")
    fig.tight_layout()
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / name, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"wrote {(IMG / name).relative_to(ROOT)}")


def figures() -> dict:
    from stabkit.analysis.equiv import band_statistics, equivalent, tune_center

    out: dict = {}
    f = np.linspace(0.05e9, 2.5e9, 120)
    fb = np.geomspace(*BAND, 61)
    plain = {"rp": 1e12, "rload": 1e-3, "rc": 0.0}
    # Fig. 2: three transistors, Lн = 1, 5, 10 nH (no Rn, no stabilizer)
    nets = {"BFP620 (1.7 mA, 1.5 V)": ROOT / "cases" / "linvill_bfp620.cir",
            "BFR840 (3.3 mA, 1.6 V)": CASE, "BFP840 (2.2 mA, 1.6 V)": ROOT / "cases" / "linvill_bfp840.cir"}
    fig, axes = _fig_grid(3, 3, (12, 9))
    out["fig2"] = {}
    for name, path in nets.items():
        c = load(netlist_text(path))
        for row, ln in zip(axes, (1e-9, 5e-9, 10e-9)):
            model = port(c, {**plain, "lload": ln})
            _curves(*row, f, model.z(f), name)
            stats = band_statistics(equivalent(model.z(fb), fb), -ln)
            out["fig2"][f"{name} {ln * 1e9:g} nH"] = stats
            print(f"Fig. 2 {name}, Lн = {ln * 1e9:g} nH: L_eq {stats['min'] * 1e9:.3f} … {stats['max'] * 1e9:.3f} nH "
                  f"({stats['deviation_pct'][0]:+.1f} / {stats['deviation_pct'][1]:+.1f} %)")
    _finish(fig, axes, "fig2_transistors.png", ["Lн = 1 nH", "Lн = 5 nH", "Lн = 10 nH"])
    # Fig. 3: BFR840 at U = 5, 7, 12 V
    fig, axes = _fig_grid(3, 3, (12, 9))
    out["fig3"] = {}
    c = load(CASE)
    for u in (5.0, 7.0, 12.0):
        for row, ln in zip(axes, (1e-9, 5e-9, 10e-9)):
            model = port(c, {**plain, "lload": ln, "u": u})
            _curves(*row, f, model.z(f), f"U = {u:g} V")
            stats = band_statistics(equivalent(model.z(fb), fb), -ln)
            out["fig3"][f"U={u:g} {ln * 1e9:g} nH"] = {**stats, "re_zin_ohm": [float(v) for v in model.z(fb).real[[0, 60]]]}
            print(f"Fig. 3 U = {u:g} V, Lн = {ln * 1e9:g} nH: L_eq {stats['min'] * 1e9:.3f} … {stats['max'] * 1e9:.3f} nH "
                  f"({stats['deviation_pct'][0]:+.1f} / {stats['deviation_pct'][1]:+.1f} %)")
    _finish(fig, axes, "fig3_bias.png", ["Lн = 1 nH", "Lн = 5 nH", "Lн = 10 nH"])
    # Fig. 4: lumped against line loads (Z0 = 90 ohm, θ from Eq. 3 at 1 GHz)
    from stabkit.analysis.equiv import PortModel, line_section, with_line_load

    fig, axes = _fig_grid(1, 3, (12, 3.4))
    out["fig4"] = {}
    lined = with_line_load(c, "LN", 90.0, 1e9)
    for ax, ln in zip(axes[0], (1e-9, 5e-9, 10e-9)):
        for label, circuit in (("lumped", c), ("line, Z0 = 90 Ω", lined)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = PortModel(circuit, "in", {**plain, "lload": ln}, EXTERNAL)
            z = model.z(f)
            ax.plot(f / 1e9, z.imag / (TWO_PI * f) * 1e9, label=label)
            out["fig4"][f"{label} {ln * 1e9:g} nH"] = band_statistics(equivalent(model.z(fb), fb), -ln)
        ax.set_title(f"Lн = {ln * 1e9:g} nH (θ = {line_section(ln, 90, 1e9)['theta_deg']:.1f}°)", fontsize=9)
        ax.set_xlabel("f, GHz")
        ax.set_ylabel("L_eq, nH")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(IMG / "fig4_line.png", dpi=90)
    print(f"wrote docs/img/paper/fig4_line.png; {out['fig4']}")
    # Fig. 5: load correction (step 4), no Rn, no stabilizer
    model = port(c, plain)
    ln_c = tune_center(model, "lload", BAND, TARGET, fixed={"lload": 5e-9})
    fig, axes = _fig_grid(1, 1, (5, 3.4))
    ax = axes[0][0]
    out["fig5"] = {}
    for label, ln, ls in (("Lн = 5 nH", 5e-9, "--"), (f"Lн = {ln_c * 1e9:.3f} nH (corrected)", ln_c, "-")):
        z = model.z(f, {"lload": ln})
        ax.plot(f / 1e9, z.imag / (TWO_PI * f) * 1e9, ls, label=label)
        out["fig5"][label] = band_statistics(equivalent(model.z(fb, {"lload": ln}), fb), TARGET)
    ax.axhline(-5, color="k", lw=0.6)
    ax.set(xlabel="f, GHz", ylabel="L_eq, nH", ylim=(-6, -4))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(IMG / "fig5_correction.png", dpi=90)
    print(f"Fig. 5: {out['fig5']}")
    # Fig. 6: Rn compensation (step 5) and re-correction of Lн
    from stabkit.analysis.equiv import design

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = design(c, "in", BAND, TARGET, tune="lload", compensate="rload", params={"rp": 1e12, "rc": 0.0},
                      external=EXTERNAL)
    fig, axes = _fig_grid(1, 3, (12, 3.4))
    out["fig6"] = {"compensated": {"rload": comp.tuned["rload"], "lload": comp.tuned["lload"],
                                   "re_zin_ohm": [float(comp.z.real.min()), float(comp.z.real.max())]}}
    for label, over, ls in (("before Rн", {"lload": ln_c}, "--"), (f"Rн = {comp.tuned['rload']:.2f} Ω, Lн re-corrected",
                                                                 comp.tuned, "-")):
        _curves(*axes[0], f, model.z(f, over), label, ls=ls)
    _finish(fig, axes, "fig6_rn.png")
    print(f"Fig. 6: {out['fig6']}")
    # Fig. 7: the paper's Rc (0..8 ohm) on the shipped design, Lн re-tuned per Rc as in Table 3
    t3 = OUT_JSON.exists() and json.loads(OUT_JSON.read_text()).get("table3")
    fig, axes = _fig_grid(1, 3, (12, 3.4))
    for rc in (0.0, 2.0, 4.0, 6.0, 8.0):
        ln = next((col["tuned"]["lload"] for col in (t3 or {}).get("columns", []) if col["rc"] == rc), None)
        m = port(c, {"rc": rc})
        _curves(*axes[0], f, m.z(f, {"lload": ln} if ln else {}), f"Rc = {rc:g} Ω")
    _finish(fig, axes, "fig7_rc.png")
    return out


# --------------------------------------------------------------------------------------------- main
def main(argv: list[str]) -> int:
    if not (SHARED / "BFR840L3RHESD.lib").is_file():
        print(f"needs {SHARED} (the Infineon models beside the repository)", file=sys.stderr)
        return 2
    what = argv[0] if argv else "all"
    results = json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else {}
    if what == "load":  # the JSON printed by `stabkit equiv ... --json` for that table (the command is above)
        results[argv[1]] = json.loads(Path(argv[2]).read_text())
        {"table2": lambda d: print_columns(d, "u", "U, V"), "table3": lambda d: print_columns(d, "rc", "Rc, Ω"),
         "table4": print_rows}[argv[1]](results[argv[1]])
        OUT_JSON.write_text(json.dumps(results, indent=1, default=float))
        return 0
    steps = {"evidence": evidence, "investigate": investigate, "bias": bias, "figures": figures}
    for name, fn in steps.items():
        if what in (name, "all"):
            results[name] = fn()
    if what in ("tables", "all"):
        results.update(tables())
    for t in ("table2", "table3", "table4"):
        if what == t:
            results.update(tables(t[-1]))
    OUT_JSON.write_text(json.dumps(results, indent=1, default=float))
    print(f"saved {OUT_JSON.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
