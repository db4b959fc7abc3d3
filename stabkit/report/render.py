"""Self-contained stability reports (HTML or Markdown) for a netlist or a ``*.stab.yaml`` case.

:func:`build_report` computes what the installed analyses can compute and collects it as a list of blocks
(headings, paragraphs, tables, figures). :func:`render_html` and :func:`render_markdown` turn the blocks
into text; :func:`write_report` picks the format from the file suffix. Sections whose analysis is not part
of this stabkit say so instead of showing anything.

Output is deterministic: the same input gives the same file apart from the one ``Generated:`` line
(figures are drawn with the Agg renderer, fixed size/DPI/fonts, and PNG metadata without a software or
date stamp). ``SOURCE_DATE_EPOCH`` (seconds) fixes that line too.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stabkit.errors import StabkitError
from stabkit.units import format_eng

#: matplotlib settings applied while drawing report figures
RC = {"svg.hashsalt": "stabkit", "font.family": "DejaVu Sans", "font.size": 9.0, "figure.dpi": 100,
      "savefig.dpi": 100, "path.simplify": True, "axes.grid": True, "grid.alpha": 0.3}
FIG_SIZE = (6.4, 4.8)
#: figure titles longer than this are shortened
MAX_TITLE = 60
#: at most this many poles are listed in the table (all are drawn)
MAX_POLE_ROWS = 40
UNITS = {"R": "Ω", "L": "H", "C": "F", "G": "S", "E": "V/V", "F": "A/A", "H": "Ω"}
VALUE_UNITS = {"z0": "Ω", "td": "s", "f": "Hz", "dc": "", "ac": ""}
GENERATED_PREFIX = "Generated: "


# ----------------------------------------------------------------------------- the document model
@dataclass
class Block:
    kind: str  # h1 h2 p pre table figure verdict note
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    png: bytes = b""
    slug: str = ""
    ok: bool | None = None
    word: str = ""  # verdict blocks: "stable" | "unstable" | "uncertain"


@dataclass
class Report:
    """A report as blocks; ``title`` and ``generated`` head it."""

    title: str
    generated: str
    blocks: list[Block] = field(default_factory=list)
    #: the overall verdict of the circuit ("stable" | "unstable" | "uncertain"): the report's exit code
    outcome: str | None = None

    def h2(self, text):
        self.blocks.append(Block("h2", text))

    def p(self, text):
        self.blocks.append(Block("p", text))

    def note(self, text):
        self.blocks.append(Block("note", text))

    def pre(self, text):
        self.blocks.append(Block("pre", text))

    def table(self, header, rows):
        self.blocks.append(Block("table", header=list(header), rows=[[str(c) for c in r] for r in rows]))

    def figure(self, png: bytes, caption: str, slug: str):
        self.blocks.append(Block("figure", caption, png=png, slug=slug))

    def draw(self, draw, caption: str, slug: str, size=None) -> None:
        """Add the figure ``draw(ax)`` makes; if drawing fails (a plotting helper of an analysis module is
        missing or broken) the report says so in a note instead of failing as a whole."""
        try:
            png = figure_png(draw, size or FIG_SIZE)
        except Exception as exc:  # noqa: BLE001 - a figure must not sink the whole report
            self.note(f"Figure '{caption}' could not be drawn: {type(exc).__name__}: {exc}")
            return
        self.figure(png, caption, slug)

    def verdict(self, word: str, text: str):
        """A verdict line; ``word`` is ``stable``, ``unstable`` or ``uncertain``."""
        self.blocks.append(Block("verdict", text, ok=word == "stable", word=word))

    @property
    def figures(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "figure"]


# ----------------------------------------------------------------------------- figures
def _new_axes(size=FIG_SIZE, polar: bool = False):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=RC["figure.dpi"])
    ax = fig.add_subplot(projection="polar" if polar else None)
    return fig, ax


def figure_png(draw, size=FIG_SIZE) -> bytes:
    """Call ``draw(ax)`` on a fresh Agg figure and return deterministic PNG bytes.

    ``draw`` may return a different matplotlib Figure/Axes (a ``.plot()`` that made its own); that one is saved.
    """
    import matplotlib

    with matplotlib.rc_context(RC):
        fig, ax = _new_axes(size)
        made = draw(ax)
        target = fig
        if made is not None:
            other = made if hasattr(made, "savefig") else getattr(made, "figure", None)
            if other is not None and other is not fig:
                target = other
        for axes in target.axes:  # long circuit titles would run off the figure; the caption says it all
            title = display_title(axes.get_title())
            axes.set_title(title)
            if len(title) > MAX_TITLE:
                axes.set_title(title[: MAX_TITLE - 1].rstrip() + "…")
        target.tight_layout()
        buf = io.BytesIO()
        target.savefig(buf, format="png", dpi=RC["savefig.dpi"], metadata={"Software": None})
        if target is not fig:  # close a pyplot-managed figure
            import matplotlib.pyplot as plt

            plt.close(target)
        return buf.getvalue()


def _eng_axes(ax, xunit: str | None, yunit: str | None):
    """Tick labels with engineering prefixes (``200 MHz`` rather than ``2e8``)."""
    from matplotlib.ticker import EngFormatter

    if xunit is not None:
        ax.xaxis.set_major_formatter(EngFormatter(unit=xunit))
    if yunit is not None:
        ax.yaxis.set_major_formatter(EngFormatter(unit=yunit))
    return ax


def _plot_with_ax(result, ax):
    """``result.plot(ax=ax)``, or ``result.plot()`` when it does not take an axes."""
    import inspect

    try:
        takes_ax = "ax" in inspect.signature(result.plot).parameters
    except (TypeError, ValueError):
        takes_ax = False
    return result.plot(ax=ax) if takes_ax else result.plot()


# ----------------------------------------------------------------------------- helpers
def generated_line(now: _dt.datetime | None = None) -> str:
    from stabkit import __version__

    if now is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        now = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
               else _dt.datetime.now(_dt.timezone.utc))
    return f"{GENERATED_PREFIX}{now.strftime('%Y-%m-%d %H:%M:%S')} UTC by stabkit {__version__}"


def _fmt_value(kind: str, key: str, raw, resolved: float | None) -> str:
    unit = UNITS.get(kind, "") if key == "value" else VALUE_UNITS.get(key, "")
    text = format_eng(resolved, unit) if resolved is not None else str(raw)
    if isinstance(raw, str):
        text = f"{{{raw}}} = {text}"
    return text if key == "value" else f"{key}={text}"


def element_rows(circuit, params: dict[str, float]) -> list[list[str]]:
    rows = []
    from stabkit.circuit.elements import KIND_NAMES

    for e in circuit:
        try:
            vals = circuit.values(e, params)
        except StabkitError:
            vals = {}
        values = ", ".join(_fmt_value(e.kind, k, raw, vals.get(k)) for k, raw in e.values.items()
                           if not (k in ("dc", "ac") and vals.get(k, 0.0) == 0.0))
        extra = []
        if e.refs:
            extra.append("ref " + " ".join(e.refs))
        if e.model:
            extra.append("model " + e.model)
        rows.append([e.name, KIND_NAMES.get(e.kind, e.kind), " ".join(e.nodes), values or "—", "; ".join(extra)])
    return rows


def _pole_rows(pole_result) -> list[list[str]]:
    rows = []
    mask = pole_result.rhp_mask
    for p, rhp in list(zip(pole_result.poles_hz, mask))[:MAX_POLE_ROWS]:
        zeta = -p.real / abs(p) if abs(p) > 0 else float("nan")
        rows.append([format_eng(p.real, "Hz"), format_eng(p.imag, "Hz"), format_eng(abs(p), "Hz"),
                     f"{zeta:.3g}", "RHP (unstable)" if rhp else ""])
    return rows


# ----------------------------------------------------------------------------- build
def build_report(source: str | os.PathLike, *, params: dict[str, float] | None = None, title: str | None = None,
                 now: _dt.datetime | None = None) -> Report:
    """Compute and collect everything for the report of a netlist or a ``*.stab.yaml`` case.

    ``params`` are overrides (on top of a case's ``set``). Bad input raises :class:`StabkitError`
    (a netlist syntax error names its file and line).
    """
    from stabkit.cases import CASE_SUFFIX, CaseRunner, load_case

    source = Path(source)
    if not source.exists():
        raise StabkitError(f"no such file: {source}")
    case = None
    if source.name.endswith(CASE_SUFFIX):
        case = load_case(source)
        reason = case.skip_reason()
        if reason is not None:
            raise StabkitError(f"cannot report {source}: {reason}")
        if params:
            case.params = {**case.params, **{k.lower(): float(v) for k, v in params.items()}}
        runner = CaseRunner(case)
        circuit = runner.circuit
    else:
        from stabkit.circuit.graph import Circuit

        circuit = Circuit.from_netlist(str(source))
        if params:
            circuit = circuit.with_values(params)
        runner = None
    name = title or (case.title if case and case.title else "") or display_title(circuit.title) or source.name
    return _assemble_report(circuit, name, runner, source, now)


def report_for_runner(runner, *, now: _dt.datetime | None = None) -> Report:
    """The report of a case being checked (reuses the :class:`~stabkit.cases.CaseRunner`'s results)."""
    case = runner.case
    name = case.title or display_title(runner.circuit.title) or case.path.name
    return _assemble_report(runner.circuit, name, runner, case.path, now)


def report_for_circuit(circuit, *, title: str | None = None, now: _dt.datetime | None = None) -> Report:
    """The report of a circuit built in Python (no file behind it)."""
    return _assemble_report(circuit, title or display_title(circuit.title) or "circuit", None, None, now)


def _assemble_report(circuit, name: str, runner, source: Path | None, now) -> Report:
    from stabkit.analysis.verdict import decide

    case = runner.case if runner is not None else None
    rep = Report(title=f"Stability report: {name}", generated=generated_line(now))
    _section_source(rep, source, case, circuit)
    resolved = circuit.resolve_params()
    verdict = runner.verdict if runner is not None else decide(circuit)
    rep.outcome = verdict.verdict
    _section_verdict(rep, verdict)
    nonlinear = verdict.points[0].point.kind != "linear"
    if nonlinear:
        _section_oppoints(rep, circuit, verdict)
    many = len(verdict.points) > 1
    for pv in verdict.points:
        if many:
            rep.h2(f"Operating point {pv.point.index} of {pv.point.count}: {pv.verdict.upper()}")
            for line in pv.evidence():
                rep.p(line)
        else:
            _section_circuit(rep, pv.circuit, resolved)
        _section_ndf(rep, pv, suffix=f"-op{pv.point.index}" if many else "")
        _section_poles(rep, pv, suffix=f"-op{pv.point.index}" if many else "")
    _section_twoport(rep, circuit)
    if case is not None:
        _section_case(rep, runner)
        _section_sweeps(rep, runner)
    _section_elements(rep, circuit, resolved)
    return rep


def display_title(title: str) -> str:
    """A netlist title line as shown in reports (a leading SPICE comment star removed)."""
    return title.strip().lstrip("*").strip()


def _section_source(rep: Report, source: Path | None, case, circuit) -> None:
    rep.h2("Input")
    rows = [["file", source.name if source is not None else "(built in Python)"]]
    if case is not None:
        rows.append(["netlist", case.netlist.name])
        if case.description:
            rows.append(["description", case.description])
        if case.params:
            rows.append(["set", ", ".join(f"{k} = {format_eng(v)}" for k, v in case.params.items())])
    rows.append(["title line", display_title(circuit.title) or "—"])
    rep.table(["", ""], rows)
    rep.p(f"{display_title(circuit.summary())}.")


def _section_circuit(rep: Report, circuit, resolved) -> None:
    rep.h2("Circuit")
    if resolved:
        rep.table(["parameter", "value"], [[k, format_eng(v)] for k, v in resolved.items()])
    try:
        from stabkit.analysis.mna import assemble

        system = assemble(circuit)
    except StabkitError as exc:
        rep.note(f"The circuit cannot be assembled: {exc}")
        return
    if system.active:
        rows = [[a.name, a.kind,
                 (format_eng(a.a0) if a.a0 else "") + (f" + s·{format_eng(a.a1)}" if a.a1 else "") or "0"]
                for a in system.active]
        rep.p(f"Active elements — switched off in the passive reference Δ0 of the NDF, in netlist order "
              f"({len(system.active)}):")
        rep.table(["element", "kind", "gain a0 + a1·s (SI)"], rows)
    else:
        rep.p("No active elements: the circuit is passive (and cannot be unstable unless it is marginal).")


def _section_oppoints(rep: Report, circuit, verdict) -> None:
    """DC operating points of a circuit with nonlinear devices: bias, region, and the verdict at each."""
    points = [pv.point for pv in verdict.points]
    rep.h2("DC operating points")
    kind = points[0].kind
    if kind == "ndr":
        rep.p("Each operating point is an intersection of the load line with the device curve; it is stable iff "
              "the circuit linearized there has no natural frequency in the right half-plane.")
        rows = []
        for pv in verdict.points:
            for d in pv.point.devices:
                r = d.get("r")
                rows.append([pv.point.index, d["name"], format_eng(d["v"], "V"), format_eng(d["i"], "A"),
                             format_eng(r, "Ω") if r is not None else "∞", "NDR" if d["ndr"] else "",
                             _rightmost_text(pv), pv.verdict])
        rep.table(["#", "device", "v", "i", "r = dv/di", "", "rightmost pole s/2π", "verdict"], rows)
        if len({d["name"] for p in points for d in p.devices}) == 1:
            from stabkit.nonlinear.dc import operating_points

            try:
                ops = operating_points(circuit)
            except StabkitError as exc:
                rep.note(f"device-curve plot not drawn: {exc}")
            else:
                rep.draw(lambda ax: _plot_with_ax(ops, ax), "device curve, DC load line and operating points",
                         "oppoints")
    else:
        pt = points[0]
        rows = [[d["name"], d["region"], format_eng(d["ic"], "A"), format_eng(d["vce"], "V"), format_eng(d["vbe"], "V"),
                 f"{d['beta']:.4g}", format_eng(d["gm"], "S"), format_eng(d["ft"], "Hz")]
                for d in pt.transistors]
        if rows:
            rep.table(["transistor", "region", "Ic", "Vce", "Vbe (internal)", "Ic/Ib", "gm", "fT (intrinsic)"], rows)
        fets = [[d["name"], d.get("family", f"level {d.get('level', '?')}"), d.get("region", d.get("mode", "")),
                 format_eng(d.get("id", 0.0), "A"), format_eng(d.get("vgs", 0.0), "V"), format_eng(d.get("vds", 0.0), "V"),
                 format_eng(d.get("gm", 0.0), "S"), format_eng(d.get("gds", 0.0), "S"), d.get("path", "")]
                for d in pt.fets]
        if fets:
            rep.table(["FET", "model", "region", "Id", "Vgs", "Vds", "gm", "gds", "evaluated by"], fets)
        diodes = [[d["name"], format_eng(d["vd"], "V"), format_eng(d["i"], "A"), format_eng(d["gd"], "S"),
                   format_eng(d["cd"], "F")] for d in pt.diodes]
        if diodes:
            rep.table(["junction diode", "Vd", "I", "gd", "Cd"], diodes)
    for note in dict.fromkeys(n for p in points for n in p.notes):
        rep.note(note)
    for w in dict.fromkeys(w for p in points for w in p.warnings):
        rep.note(f"warning: {w}")


def _rightmost_text(pv) -> str:
    if pv.poles is None or not pv.poles.poles.size:
        return "—"
    z = max(pv.poles.poles_hz, key=lambda p: p.real)
    return f"{format_eng(z.real, 'Hz')} ± j{format_eng(abs(z.imag), 'Hz')}" if z.imag else f"{format_eng(z.real, 'Hz')} (real)"


def _section_elements(rep: Report, circuit, resolved) -> None:
    rep.h2("Appendix: nodes and elements")
    nodes = [n for n in circuit.nodes if n != "0"]
    rep.p(f"Nodes ({len(nodes)} + ground): {', '.join(nodes) if nodes else 'none'}.")
    rep.table(["element", "kind", "nodes", "value", "refers to"], element_rows(circuit, resolved))


def _section_verdict(rep: Report, verdict) -> None:
    rep.h2("Verdict")
    how = {"auto": "exact natural frequencies cross-checked with the NDF (normalized determinant function)",
           "poles": "exact natural frequencies", "ndf": "NDF (normalized determinant function)"}[verdict.method]
    if verdict.points[0].poles is None and verdict.method == "auto":
        how = "NDF (normalized determinant function): the circuit has distributed elements"
    rep.verdict(verdict.verdict, f"{verdict.summary()} — decided by the {how}.")
    for reason in verdict.reasons:
        rep.note(f"uncertain: {reason}")
    if len(verdict.points) == 1:
        for line in verdict.points[0].evidence():
            rep.p(line)
    for w in verdict.warnings:
        if w not in verdict.reasons:
            rep.note(f"warning: {w}")


def _section_ndf(rep: Report, pv, suffix: str = "") -> None:
    res = pv.ndf
    if res is None:
        return
    rep.h2("NDF and return differences")
    n = res.encirclements
    rep.p(f"The NDF encircles the origin {n} time(s) clockwise for ω from −∞ to +∞ "
          f"→ {n} natural frequenc{'y' if n == 1 else 'ies'} in the right half-plane.")
    rep.p(f"Dense sweep from {format_eng(res.fmin, 'Hz')} to {format_eng(res.fmax, 'Hz')} (derived from the circuit unless "
          f"given), {res.freq_hz.size} points on the contour in all.")
    rep.draw(lambda ax: _plot_with_ax(res, ax),
             f"NDF(jω) polar plot — {n} clockwise encirclement(s) of the origin", f"ndf{suffix}")
    if res.sources:
        rep.p("Return difference F_k = 1 + T_k of each active element, with the earlier ones switched off; "
              "NDF = Π F_k, so the encirclements add up:")
        rep.table(["source", "encirclements of F_k"],
                  [[src.name, src.encirclements] for src in res.sources] + [["total", n]])
        rep.draw(lambda ax: res.plot_sources(ax=ax),
                 "return differences F_k(jω) of the active elements (encirclements in brackets)", f"rd{suffix}")
    for w in res.doubts:
        rep.note(f"NDF doubt: {w}")


def pole_zoom_window(poles_hz: np.ndarray, keep: int = 8) -> tuple[float, float, float] | None:
    """``(re_min, re_max, im_max)`` around the ``keep`` least-damped poles, or ``None`` when the full map already
    shows them well (their spread is more than 1/100 of the full real-axis spread)."""
    p = np.asarray(poles_hz, dtype=complex)
    if p.size <= keep:
        return None
    near = p[np.argsort(-p.real)[:keep]]
    full = float(np.ptp(np.append(p.real, 0.0)))
    re_lo = float(min(near.real.min(), 0.0))
    re_hi = float(max(near.real.max(), 0.0))
    span = max(re_hi - re_lo, 1e-30)
    if full <= 100 * span:
        return None
    im_max = float(np.max(np.abs(near.imag))) if np.any(near.imag) else span
    return re_lo - 0.1 * span, re_hi + 0.1 * span, 1.1 * im_max


def _draw_poles(pole_result, ax):
    window = pole_zoom_window(pole_result.poles_hz)
    if window is None:
        ax = _eng_axes(pole_result.plot(ax=ax), "Hz", "Hz")
        ax.set_title("natural frequencies s/2π")
        return ax
    fig = ax.figure
    fig.delaxes(ax)
    fig.set_size_inches(FIG_SIZE[0] * 1.7, FIG_SIZE[1])
    left, right = fig.subplots(1, 2)
    _eng_axes(pole_result.plot(ax=left), "Hz", "Hz").set_title("all natural frequencies s/2π")
    _eng_axes(pole_result.plot(ax=right), "Hz", "Hz").set_title("zoom: the least damped ones")
    right.set_xlim(window[0], window[1])
    right.set_ylim(-window[2], window[2])
    for axis in (left, right):
        axis.tick_params(axis="x", labelrotation=30)
    return left


def _section_poles(rep: Report, pv, suffix: str = "") -> None:
    rep.h2("Natural frequencies (pole map)")
    pr = pv.poles
    if pr is None:
        rep.note("The circuit has distributed elements (transmission lines or N-port blocks): it has infinitely "
                 "many natural frequencies and no finite pole map; the NDF count above is the verdict.")
        return
    rep.p(f"{pr.poles.size} finite natural frequencies s/2π (exact generalized eigenvalues of (G, −C)); "
          f"{pr.rhp_count} in the right half-plane, {pr.marginal.size} on the jω axis"
          + (f"; {pr.zero_modes} structural zero mode(s) at s = 0 (conserved charge or flux, not counted)."
             if pr.zero_modes else "."))
    if pr.poles.size:
        rep.draw(lambda ax: _draw_poles(pr, ax), "natural frequencies s/2π; right-half-plane poles in red",
                 f"poles{suffix}")
        rows = _pole_rows(pr)
        rep.table(["Re s/2π", "Im s/2π", "|s|/2π", "damping ζ", ""], rows)
        if pr.poles.size > MAX_POLE_ROWS:
            rep.note(f"{pr.poles.size - MAX_POLE_ROWS} more poles (lower real parts) not listed.")
    for w in pr.doubts:
        rep.note(f"pole doubt: {w}")


def unstable_bands(freq_hz: np.ndarray, ok: np.ndarray) -> list[tuple[float, float]]:
    """Sampled frequency spans (first, last sample) where ``ok`` is False."""
    out: list[tuple[float, float]] = []
    start = prev = None
    for f, good in zip(np.asarray(freq_hz, dtype=float), np.asarray(ok, dtype=bool)):
        if not good and start is None:
            start = f
        if good and start is not None:
            out.append((float(start), float(prev)))
            start = None
        prev = f
    if start is not None:
        out.append((float(start), float(prev)))
    return out


def _section_twoport(rep: Report, circuit) -> None:
    """K, |Δ|, μ of every 2-port S-parameter block in the circuit (where the factors apply at all)."""
    from stabkit.analysis import twoport

    rep.h2("Two-port stability factors (K, μ)")
    networks = getattr(circuit, "networks", {}) or {}
    blocks = [(e.name, networks[e.model or e.key]) for e in circuit
              if e.kind == "N" and (e.model or e.key) in networks and networks[e.model or e.key].nports == 2]
    if not blocks:
        rep.note("Not applicable: the circuit has no 2-port S-parameter block. K and μ describe a two-port "
                 "between passive terminations; the NDF and the natural frequencies above decide this circuit.")
        return
    k_fn, det_fn, mu_fn, mu2_fn = (twoport.rollett_k, twoport.determinant_s, twoport.mu_factor,
                                   twoport.mu_prime_factor)
    rep.p("For each 2-port S-parameter block on its own (reference terminations): μ > 1 means unconditionally "
          "stable for passive terminations *if the block itself is stable* — the NDF above treats the block as a "
          "black box under that same assumption, and judges the whole circuit.")
    rows = []
    from stabkit.report.figures import plot_twoport_factors

    for name, net in blocks:
        f, s = np.asarray(net.f, dtype=float), np.asarray(net.s, dtype=complex)
        k, d, mu, mu2 = k_fn(s), np.abs(det_fn(s)), mu_fn(s), mu2_fn(s)
        bands = unstable_bands(f, mu > 1)
        rows.append([name, f"{format_eng(f[0], 'Hz')} … {format_eng(f[-1], 'Hz')}", f"{np.min(k):.3g}",
                     f"{np.max(d):.3g}", f"{np.min(mu):.3g}",
                     "; ".join(f"{format_eng(a, 'Hz')} … {format_eng(b, 'Hz')}" for a, b in bands) or "none"])
        rep.draw(lambda ax, f=f, k=k, d=d, mu=mu, mu2=mu2, name=name: plot_twoport_factors(
            f, k, d, mu, mu2, ax=ax, title=f"two-port factors of {name}"), f"K, |Δ|, μ and μ' of {name}",
            f"twoport-{name}")
    rep.table(["block", "frequencies", "min K", "max |Δ|", "min μ", "μ ≤ 1 (potentially unstable) at"], rows)


def _section_case(rep: Report, runner) -> None:
    from stabkit.cases import spice_number

    case = runner.case
    rep.h2("Expectations")
    rows = []
    outcomes = []
    for exp in case.expectations:
        try:
            o = runner.evaluate(exp)
        except StabkitError as exc:
            rows.append([exp.describe(), "not checked", str(exc)])
            continue
        outcomes.append(o)
        rows.append([exp.describe(), "skipped" if o.skipped else "holds" if o.passed else
                     "UNCERTAIN" if o.uncertain else "FAILS", o.reason])
    rep.table(["expectation", "result", "detail"], rows)
    admissible = [o for o in outcomes if o.expectation.kind == "admissible"]
    if not admissible:
        return
    rep.h2("Admissible ranges")
    trows = []
    strip = []
    for o in admissible:
        e = o.expectation
        found = o.data["intervals"]
        trows.append([e.param, f"{spice_number(e.lo)} … {spice_number(e.hi)}",
                      "; ".join(f"{spice_number(a)} … {spice_number(b)}" for a, b in found) or "none",
                      f"{spice_number(e.contains[0])} … {spice_number(e.contains[1])}",
                      "holds" if o.passed else "FAILS"])
        strip.append((e.param, e.lo, e.hi, found, e.contains))
    rep.table(["parameter", "swept", "stable intervals", "expected to contain", "result"], trows)
    from stabkit.report.figures import plot_intervals

    def draw_strips(ax):
        fig = ax.figure
        fig.delaxes(ax)
        axes = fig.subplots(len(strip), 1, squeeze=False)[:, 0]
        plot_intervals(strip, axes)

    rep.draw(draw_strips, "stability along each swept parameter (green stable, red unstable, dashed: expected interval)",
             "admissible", (6.4, 0.6 + 0.9 * len(strip)))
    for o in admissible:
        e = o.expectation
        result = runner.range_results.get((e.param, e.lo, e.hi))
        if result is None:
            continue
        edges = list(getattr(result, "edges", None) or [])
        if edges:
            rep.p(f"Edges of the stable set of {e.param} (where natural frequencies cross the jω axis):")
            rep.table(["edge", "side", "what crosses", "at frequency"],
                      [[spice_number(ed.value), "stable above" if ed.side == "lower" else "stable below",
                        ed.crossing or "(NDF: not resolved)",
                        format_eng(ed.freq_hz, "Hz") if ed.freq_hz is not None else "—"] for ed in edges])
        if hasattr(result, "plot"):
            rep.draw(lambda ax, r=result: _plot_with_ax(r, ax),
                     f"right-half-plane natural frequencies versus {e.param}", f"sweep-{e.param}")
        for w in getattr(result, "warnings", None) or []:
            rep.note(f"{e.param} sweep: {w}")


def _grid(lo: float, hi: float, points: int) -> np.ndarray:
    return np.geomspace(lo, hi, points) if lo > 0 and hi / lo >= 10 else np.linspace(lo, hi, points)


#: points per axis of the map drawn automatically from the first two admissible sweeps
AUTO_MAP_POINTS = 15


#: below this many stability evaluations a sweep runs in this process (a process pool costs more than it saves)
SERIAL_BELOW = 600


def _serial_if_small(fn, evaluations: int) -> dict:
    import inspect

    try:
        takes = "workers" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes = False
    return {"workers": 1} if takes and evaluations < SERIAL_BELOW else {}


def _section_sweeps(rep: Report, runner) -> None:
    """``report.table`` and ``report.map`` of a case (or an automatic map over its first two swept parameters)."""
    from stabkit.analysis.loads import stability_map as map_fn
    from stabkit.analysis.loads import stability_table as table_fn
    from stabkit.analysis.points import sweep_circuit
    from stabkit.cases import spice_number
    from stabkit.report.progress import is_quiet

    case = runner.case
    spec = case.map
    if spec is None:
        sweeps = []
        for e in case.expectations:
            if e.kind == "admissible" and e.param not in [x[0] for x in sweeps]:
                sweeps.append((e.param, e.lo, e.hi, AUTO_MAP_POINTS))
        if len(sweeps) >= 2 and runner.circuit.is_lumped:
            spec = {"x": sweeps[0], "y": sweeps[1]}
    if case.table is None and spec is None:
        return
    if case.table is not None:
        t = case.table
        rep.h2(f"Admissible {t['param']} for each {t['by']}")
        extra = _serial_if_small(table_fn, len(t["values"]) * 40)
        lin = runner._recording(sweep_circuit, runner.circuit, {t["param"]: [t["lo"], t["hi"]], t["by"]: t["values"]})
        table = runner._recording(lambda: table_fn(lin, t["param"], t["lo"], t["hi"], t["by"], t["values"],
                                                   progress=not is_quiet(), **extra))
        header = [f"{t['param']} \\ {t['by']}"] + [spice_number(v) for v in table.by_values]
        rows = []
        for x, srow, nrow in zip(table.probes, table.probe_stable, table.probe_rhp):
            rows.append([spice_number(x)] + ["stable" if st else (f"unstable ({n} RHP)" if n else "marginal")
                                             for st, n in zip(srow, nrow)])
        rows.append(["admissible"] + ["; ".join(f"{spice_number(a)} … {spice_number(b)}" for a, b in col.intervals)
                                     or "none" for col in table.columns])
        rep.table(header, rows)
        if hasattr(table, "plot"):
            rep.draw(lambda ax: _plot_with_ax(table, ax), f"stable {t['param']} intervals for each {t['by']}", "table")
    if spec is not None:
        (xp, xlo, xhi, xn), (yp, ylo, yhi, yn) = spec["x"], spec["y"]
        rep.h2(f"Stability map: {xp} × {yp}")
        extra = _serial_if_small(map_fn, xn * yn)
        lin = runner._recording(sweep_circuit, runner.circuit, {xp: [xlo, xhi], yp: [ylo, yhi]})
        smap = runner._recording(lambda: map_fn(lin, xp, _grid(xlo, xhi, xn), yp, _grid(ylo, yhi, yn),
                                                progress=not is_quiet(), **extra))
        stable_frac = float(np.mean(smap.stable))
        rep.p(f"{xn} × {yn} grid, every point decided ({smap.stable.sum()} stable, {smap.stable.size - smap.stable.sum()} "
              f"not; {stable_frac:.0%} stable).")
        if hasattr(smap, "plot"):
            draw = (lambda ax: _plot_with_ax(smap, ax))
        else:
            from stabkit.report.figures import plot_map

            draw = (lambda ax: plot_map(smap.x_values, smap.y_values, smap.stable, ax, xp, yp))
        rep.draw(draw, f"stability map over {xp} and {yp}", "map")


# ----------------------------------------------------------------------------- render
CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:60em;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.5em;border-bottom:2px solid #444}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #bbb}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
th{background:#f0f0f0}.verdict{font-size:1.2em;font-weight:bold;padding:.4em .8em;display:inline-block}
.ok{background:#dff0d8;color:#2b542c}.bad{background:#f2dede;color:#a94442}.unsure{background:#fcf8e3;color:#8a6d3b}
.note{color:#555;font-style:italic}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.85em;color:#444}
.generated{color:#888;font-size:.8em}
"""


def render_html(rep: Report) -> str:
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{esc(rep.title)}</title>", f"<style>{CSS.strip()}</style>", "</head>", "<body>",
           f"<h1>{esc(rep.title)}</h1>", f'<p class="generated">{esc(rep.generated)}</p>']
    for b in rep.blocks:
        if b.kind == "h2":
            out.append(f"<h2>{esc(b.text)}</h2>")
        elif b.kind == "p":
            out.append(f"<p>{esc(b.text)}</p>")
        elif b.kind == "note":
            out.append(f'<p class="note">{esc(b.text)}</p>')
        elif b.kind == "pre":
            out.append(f"<pre>{esc(b.text)}</pre>")
        elif b.kind == "verdict":
            css = {"stable": "ok", "unstable": "bad"}.get(b.word, "unsure")
            out.append(f'<p class="verdict {css}">{esc(b.text)}</p>')
        elif b.kind == "table":
            out.append("<table>")
            if any(h for h in b.header):
                out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in b.header) + "</tr>")
            for r in b.rows:
                out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
            out.append("</table>")
        elif b.kind == "figure":
            data = base64.b64encode(b.png).decode("ascii")
            out.append(f'<figure><img alt="{esc(b.text)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{esc(b.text)}</figcaption></figure>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(rep: Report, image_names: dict[int, str] | None = None) -> str:
    """Markdown text. ``image_names`` maps a figure's index to a relative file name; figures without one are
    embedded as ``data:`` URIs."""
    image_names = image_names or {}
    out = [f"# {rep.title}", "", f"*{rep.generated}*", ""]
    fig_index = 0
    for b in rep.blocks:
        if b.kind == "h2":
            out += [f"## {b.text}", ""]
        elif b.kind == "p":
            out += [b.text, ""]
        elif b.kind == "note":
            out += [f"> {b.text}", ""]
        elif b.kind == "pre":
            out += ["```", b.text, "```", ""]
        elif b.kind == "verdict":
            out += [f"**{b.text}**", ""]
        elif b.kind == "table":
            header = b.header if any(b.header) else [" "] * (len(b.rows[0]) if b.rows else 1)
            out.append("| " + " | ".join(_md_cell(h) or " " for h in header) + " |")
            out.append("|" + "|".join("---" for _ in header) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
            out.append("")
        elif b.kind == "figure":
            target = image_names.get(fig_index)
            if target is None:
                target = "data:image/png;base64," + base64.b64encode(b.png).decode("ascii")
            out += [f"![{b.text}]({target})", "", f"*{b.text}*", ""]
            fig_index += 1
    return "\n".join(out)


def write_report(rep: Report, path: str | os.PathLike, *, embed_images: bool = False) -> list[Path]:
    """Write ``rep`` to ``path`` (``.html``/``.htm`` or ``.md``). For Markdown, figures go beside the file as
    ``<stem>_files/NN-<slug>.png`` unless ``embed_images``. Returns the files written."""
    path = Path(path)
    suffix = path.suffix.lower()
    written = [path]
    if suffix in (".html", ".htm"):
        text = render_html(rep)
    elif suffix in (".md", ".markdown"):
        names: dict[int, str] = {}
        if not embed_images and rep.figures:
            folder = path.with_name(f"{path.stem}_files")
            folder.mkdir(parents=True, exist_ok=True)
            for i, fig in enumerate(rep.figures):
                slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in fig.slug.lower()) or "figure"
                fname = f"{i + 1:02d}-{slug}.png"
                (folder / fname).write_bytes(fig.png)
                written.append(folder / fname)
                names[i] = f"{folder.name}/{fname}"
        text = render_markdown(rep, names)
    else:
        raise StabkitError(f"report file {str(path)!r}: expected a .html or .md suffix")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return written


def make_report(source: str | os.PathLike, output: str | os.PathLike, *, params: dict[str, float] | None = None,
                embed_images: bool = False) -> list[Path]:
    """Build the report of ``source`` (netlist or case file) and write it to ``output``."""
    out = Path(output)
    if out.suffix.lower() not in (".html", ".htm", ".md", ".markdown"):
        raise StabkitError(f"report file {str(out)!r}: expected a .html or .md suffix")
    return write_report(build_report(source, params=params), out, embed_images=embed_images)


def strip_generated(text: str) -> str:
    """The report text without its ``Generated:`` line (for comparing two runs)."""
    return "\n".join(line for line in text.splitlines() if GENERATED_PREFIX not in line)


__all__ = ["Report", "Block", "build_report", "render_html", "render_markdown", "write_report", "make_report",
           "figure_png", "strip_generated", "generated_line", "report_for_circuit", "report_for_runner"]
_ = Any
