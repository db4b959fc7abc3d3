"""The Linvill NIC with real BFR840L3RHESD models (``cases/linvill_bfr840_collector.cir``, the collector-port alternative): L_eq(f), the ±5 % band,
the load correction of Lн and the admissible L_ext table (docs/cases/linvill_bfr840_collector.md).

Run from the repository root: ``python scripts/linvill_bfr840_collector.py`` (needs ``../shared/models``). It prints
the figures quoted in the docs and writes ``docs/cases/img/linvill_bfr840_collector_leq.png``. The functions are
imported by ``tests/test_linvill_bfr840.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "linvill_bfr840_collector.cir"
VENDOR_LIB = ROOT.parent / "shared" / "models" / "BFR840L3RHESD.lib"
TARGET_H = -5e-9
BAND_HZ = (0.5e9, 2.0e9)
F0_HZ = 1.0e9  # geometric centre of the design band; the paper's Δf/f0 uses 1 GHz (241 % = 2.41 GHz / 1 GHz)
OPEN_PORT = {"rsrc": 1e12}  # removes the external load: 1 TΩ in series with lext


def load_case(path: Path = CASE):
    from stabkit.circuit.graph import Circuit

    return Circuit.from_netlist(str(path))


def linearized(circuit, params: dict | None = None):
    """Small-signal circuit at the DC point (the bias does not depend on lload, rload, rc, lext, rsrc)."""
    from stabkit.nonlinear.linearize import small_signal_circuit as small_signal

    return small_signal(circuit, params)


def leq(linear, freqs_hz, params: dict) -> np.ndarray:
    """L_eq = Im Zin / ω (H) at the NIC input ``in`` with the external load removed."""
    from stabkit.analysis.ports import zin

    return zin(linear, "in", freqs_hz, {**params, **OPEN_PORT}).inductance


def zin_open(linear, freqs_hz, params: dict) -> np.ndarray:
    from stabkit.analysis.ports import zin

    return zin(linear, "in", freqs_hz, {**params, **OPEN_PORT}).z


def band_grid(n: int = 61) -> np.ndarray:
    return np.geomspace(BAND_HZ[0], BAND_HZ[1], n)


def deviation_midpoint(linear, lload: float, params: dict) -> float:
    """(max + min)/2 of L_eq over the design band minus the target (H)."""
    l = leq(linear, band_grid(), {**params, "ln0": lload, "dln": 0.0})
    return 0.5 * (l.max() + l.min()) - TARGET_H


def tune_lload(linear, params: dict, lo: float = 0.2e-9, hi: float = 8e-9) -> float:
    """The paper's step 4: the Lн that makes the L_eq deviation over 0.5–2 GHz symmetric about −5 nH."""
    return brentq(lambda x: deviation_midpoint(linear, x, params), lo, hi, xtol=1e-14)


def tolerance_band(linear, params: dict, tol: float = 0.05, fmin: float = 0.05e9, fmax: float = 5e9,
                   n: int = 801) -> tuple[float, float]:
    """(f−, f+): the widest contiguous frequency range in [fmin, fmax] where |L_eq/target − 1| ≤ tol, its
    edges refined by root finding (``(nan, nan)`` when L_eq is nowhere within tol)."""
    f = np.geomspace(fmin, fmax, n)
    e = np.abs(leq(linear, f, params) / TARGET_H - 1.0) - tol
    inside = e <= 0
    if not inside.any():
        return (float("nan"), float("nan"))
    best, start = (0, -1), None
    for i, ok in enumerate(list(inside) + [False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            if i - start > best[1] - best[0] + 1:
                best = (start, i - 1)
            start = None
    lo, hi = best

    def err(ff):
        return abs(leq(linear, np.atleast_1d(ff), params)[0] / TARGET_H - 1.0) - tol

    f_lo = brentq(err, f[lo - 1], f[lo], xtol=1e3) if lo > 0 else f[0]
    f_hi = brentq(err, f[hi], f[hi + 1], xtol=1e3) if hi < n - 1 else f[-1]
    return float(f_lo), float(f_hi)


RC_VALUES = (0.0, 2.0, 4.0, 6.0, 8.0)
U_VALUES = (5.0, 6.0, 7.0, 8.0, 9.0)


def retuned_lloads(linear, params: dict, rc_values=RC_VALUES) -> np.ndarray:
    """Lн re-tuned (step 4) for each collector resistance, as the paper's Table 3 did."""
    return np.array([tune_lload(linear, {**params, "rc": rc}) for rc in rc_values])


def plot_leq(linear, params: dict, rc_values, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = np.geomspace(0.1e9, 5e9, 300)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for rc in rc_values:
        p = {**params, "rc": rc}
        z = zin_open(linear, f, p)
        ax1.semilogx(f / 1e9, z.imag / (2 * np.pi * f) * 1e9, label=f"Rc = {rc:g} Ω")
        ax2.semilogx(f / 1e9, z.real, label=f"Rc = {rc:g} Ω")
    for k in (0.95, 1.05):
        ax1.axhline(TARGET_H * k * 1e9, color="grey", lw=0.8, ls="--")
    for fb in BAND_HZ:
        ax1.axvline(fb / 1e9, color="grey", lw=0.8, ls=":")
        ax2.axvline(fb / 1e9, color="grey", lw=0.8, ls=":")
    ax1.set(xlabel="f (GHz)", ylabel="L_eq = Im Zin/ω (nH)", ylim=(-8, -2), title="BFR840 Linvill NIC: L_eq")
    ax2.set(xlabel="f (GHz)", ylabel="Re Zin (Ω)", title="Re Zin (external load removed)")
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    if not VENDOR_LIB.exists():
        print(f"needs {VENDOR_LIB} (the Infineon model beside the repository)", file=sys.stderr)
        return 2
    from stabkit.nonlinear.dc import dc_point as bias_point
    from stabkit.analysis.loads import admissible_range

    warnings.simplefilter("ignore")
    c = load_case()
    for u in (5.0, 7.0, 12.0):
        q = bias_point(c, {"u": u}).transistors["X1.Q1"]
        print(f"U = {u:g} V: Ic = {q.ic * 1e3:.3f} mA, Vce = {q.vce:.3f} V, gm = {q.gm * 1e3:.1f} mS, "
              f"Ic/Ib = {q.beta:.0f}")
    lin = linearized(c)
    defaults = c.resolve_params()
    fixed = {"rload": defaults["rload"], "cload": defaults["cload"]}
    print(f"Rn = {fixed['rload']:g} Ω, CLD = {fixed['cload'] * 1e9:g} nF")
    lns = retuned_lloads(lin, fixed)
    slope, intercept = np.polyfit(RC_VALUES, lns, 1)
    print(f"retuned Ln: {np.round(lns * 1e9, 4)} nH; linear fit Ln = {intercept * 1e9:.4f} nH + "
          f"{slope * 1e9:.5f} nH/Ω · Rc (max misfit {np.max(abs(np.polyval([slope, intercept], RC_VALUES) - lns)) * 1e12:.2f} pH)")
    print(f"netlist defaults: ln0 = {defaults['ln0'] * 1e9:.4f} nH, dln = {defaults['dln'] * 1e9:.5f} nH/Ω")
    print("| Rc, Ω | Lн, nH | L_eq over 0.5–2 GHz, nH | f−5%, GHz | f+5%, GHz | Δf/f0, % | Re Zin 0.5/1/2 GHz, Ω | admissible L_ext, nH |")
    print("|---|---|---|---|---|---|---|---|")
    for rc in RC_VALUES:
        p = {**fixed, "rc": rc, "ln0": defaults["ln0"], "dln": defaults["dln"]}
        ln = defaults["ln0"] + defaults["dln"] * rc
        l = leq(lin, band_grid(), p)
        f_lo, f_hi = tolerance_band(lin, p)
        z = zin_open(lin, np.array([0.5e9, 1e9, 2e9]), p)
        r = admissible_range(lin, "lext", 1e-9, 100e-9, params=p)
        iv = ", ".join(f"[{a * 1e9:.3f}; {b * 1e9:.3f}]" for a, b in r.intervals) or "none"
        print(f"| {rc:g} | {ln * 1e9:.3f} | {l.min() * 1e9:.3f} … {l.max() * 1e9:.3f} | {f_lo / 1e9:.3f} | "
              f"{f_hi / 1e9:.3f} | {(f_hi - f_lo) / F0_HZ * 100:.0f} | "
              f"{z.real[0]:.1f} / {z.real[1]:.1f} / {z.real[2]:.1f} | {iv} |")
        for e in r.edges:
            print(f"    {e.side} edge {e.value * 1e9:.4f} nH: {e.crossing} "
                  f"{'' if e.freq_hz is None else f'{e.freq_hz / 1e9:.3f} GHz'}")
    print("Table 2 form (bias voltage U; one linearization per U, Lн re-tuned, Rc = 0):")
    print("| U, V | Ic, mA | Lн, nH | L_eq over 0.5–2 GHz, nH | f−5%, GHz | f+5%, GHz | Δf/f0, % | admissible L_ext, nH |")
    print("|---|---|---|---|---|---|---|---|")
    for u in U_VALUES:
        lin_u = linearized(c, {"u": u})
        ic = bias_point(c, {"u": u}).transistors["X1.Q1"].ic
        p = {**fixed, "u": u, "rc": 0.0}
        ln = tune_lload(lin_u, p)
        p = {**p, "ln0": ln, "dln": 0.0}
        l = leq(lin_u, band_grid(), p)
        f_lo, f_hi = tolerance_band(lin_u, p)
        r = admissible_range(lin_u, "lext", 1e-9, 100e-9, params=p)
        iv = ", ".join(f"[{a * 1e9:.3f}; {b * 1e9:.3f}]" for a, b in r.intervals) or "none"
        print(f"| {u:g} | {ic * 1e3:.2f} | {ln * 1e9:.3f} | {l.min() * 1e9:.3f} … {l.max() * 1e9:.3f} | "
              f"{f_lo / 1e9:.3f} | {f_hi / 1e9:.3f} | {(f_hi - f_lo) / F0_HZ * 100:.0f} | {iv} |")
    out = ROOT / "docs" / "cases" / "img" / "linvill_bfr840_collector_leq.png"
    plot_leq(lin, {**fixed, "ln0": defaults["ln0"], "dln": defaults["dln"]}, RC_VALUES, out)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
