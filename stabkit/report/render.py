"""Self-contained stability reports (HTML or Markdown) for a netlist or a ``*.stab.yaml`` case.

:func:`build_report` runs the one verdict (:func:`stabkit.analysis.verdict.decide`) and the analyses a case
asks for, and collects what they return as a list of blocks (headings, paragraphs, tables, figures,
warnings). :func:`render_html` and :func:`render_markdown` turn the blocks into text; :func:`write_report`
picks the format from the file suffix. The report presents; it never re-derives a verdict.

What a designer reads, in order: the verdict with its evidence; the transistors' operating region (a
saturated or cut-off device is flagged) or every operating point of a negative-resistance circuit; for each
operating point the NDF with its per-source return differences and the natural frequencies (zoomed to the
modes that matter, the far ones listed); two-port factors of S-parameter blocks; a case's expectations,
admissible ranges, tables and maps; the element list.

Output is deterministic: the same input gives the same file apart from the one ``Generated:`` line
(figures are drawn with the Agg renderer, fixed size/DPI/fonts, and PNG metadata without a software or
date stamp). ``SOURCE_DATE_EPOCH`` (seconds) fixes that line too. On a terminal a progress bar follows the
sections (:mod:`stabkit.report.progress`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stabkit.errors import StabkitError
from stabkit.units import format_eng

__all__ = ["Report", "Block", "build_report", "render_html", "render_markdown", "write_report", "make_report",
           "figure_png", "draw_figure", "strip_generated", "generated_line", "report_for_circuit", "report_for_runner",
           "pole_zoom_window", "pole_groups", "param_unit", "unstable_bands", "display_title", "element_rows"]

#: matplotlib settings applied while drawing report figures
RC = {"svg.hashsalt": "stabkit", "font.family": "DejaVu Sans", "font.size": 9.0, "figure.dpi": 100,
      "savefig.dpi": 100, "path.simplify": True, "axes.grid": True, "grid.alpha": 0.3}
FIG_SIZE = (7.2, 4.6)
#: the NDF figure holds the polar locus and, below it, the running count
NDF_FIG_SIZE = (7.2, 6.4)
#: at most this many rows in a pole table (conjugate pairs are one row)
MAX_POLE_ROWS = 40
UNITS = {"R": "Ω", "L": "H", "C": "F", "G": "S", "E": "V/V", "F": "A/A", "H": "Ω"}
VALUE_UNITS = {"z0": "Ω", "td": "s", "f": "Hz", "dc": "", "ac": ""}
GENERATED_PREFIX = "Generated: "
#: a pole with damping ratio below this is a resonance worth seeing on the pole map
LIGHT_DAMPING = 0.5
#: the pole map zooms when the poles outside the window would stretch an axis more than this many times
ZOOM_RATIO = 20.0
#: below this many stability evaluations a sweep runs in this process (a process pool costs more than it saves)
SERIAL_BELOW = 600
#: points per axis of the map drawn automatically from the first two admissible sweeps
AUTO_MAP_POINTS = 15


# ----------------------------------------------------------------------------- the document model
@dataclass
class Block:
    kind: str  # h2 h3 p note warning pre table figure verdict
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

    def h3(self, text):
        self.blocks.append(Block("h3", text))

    def heading(self, text: str, sub: bool = False):
        """A section heading, or a sub-section one (under an operating point's heading)."""
        self.blocks.append(Block("h3" if sub else "h2", text))

    def p(self, text):
        self.blocks.append(Block("p", text))

    def note(self, text):
        self.blocks.append(Block("note", text))

    def warning(self, text):
        """A warning the reader must not miss (a saturated transistor, a vacuous count)."""
        self.blocks.append(Block("warning", text))

    def pre(self, text):
        self.blocks.append(Block("pre", text))

    def table(self, header, rows):
        self.blocks.append(Block("table", header=list(header), rows=[[str(c) for c in r] for r in rows]))

    def figure(self, png: bytes, caption: str, slug: str):
        self.blocks.append(Block("figure", caption, png=png, slug=slug))

    def draw(self, draw, caption: str, slug: str, size=None) -> None:
        """Add the figure ``draw(ax)`` makes on a fresh axes."""
        self.figure(figure_png(draw, size or FIG_SIZE), caption, slug)

    def verdict(self, word: str, text: str):
        """A verdict line; ``word`` is ``stable``, ``unstable`` or ``uncertain``."""
        self.blocks.append(Block("verdict", text, ok=word == "stable", word=word))

    @property
    def figures(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "figure"]

    def tables(self, first_header: str) -> list[Block]:
        """The tables whose first column is headed ``first_header``."""
        return [b for b in self.blocks if b.kind == "table" and b.header and b.header[0] == first_header]


# ----------------------------------------------------------------------------- figures
def draw_figure(draw, size=FIG_SIZE):
    """The figure ``draw(ax)`` makes on a fresh axes: a matplotlib ``Figure`` (no pyplot, constrained layout,
    the report's fonts and colours)."""
    import matplotlib
    from matplotlib.figure import Figure

    from stabkit.report.plots import SERIES

    with matplotlib.rc_context({**RC, "axes.prop_cycle": matplotlib.cycler(color=SERIES)}):
        fig = Figure(figsize=size, dpi=RC["figure.dpi"], layout="constrained")
        draw(fig.add_subplot())
    return fig


def figure_png(draw, size=FIG_SIZE) -> bytes:
    """Deterministic PNG bytes of the figure ``draw(ax)`` makes (see :func:`draw_figure`): Agg, fixed size and
    DPI, no software or date stamp."""
    import matplotlib

    fig = draw_figure(draw, size)
    with matplotlib.rc_context(RC):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=RC["savefig.dpi"], metadata={"Software": None})
    return buf.getvalue()


# ----------------------------------------------------------------------------- helpers
def generated_line(now: _dt.datetime | None = None) -> str:
    from stabkit import __version__

    if now is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        now = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
               else _dt.datetime.now(_dt.timezone.utc))
    return f"{GENERATED_PREFIX}{now.strftime('%Y-%m-%d %H:%M:%S')} UTC by stabkit {__version__}"


def _eng(x: float, unit: str = "", digits: int = 4) -> str:
    """Engineering notation as far as prefixes go (T); beyond, ``3.62e+19 Hz``."""
    if x is not None and np.isfinite(x) and x != 0 and not 1e-18 <= abs(x) < 1e15:
        return f"{x:.{digits - 1}e} {unit}".strip()
    return format_eng(x, unit, digits)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _fmt_value(kind: str, key: str, raw, resolved: float | None) -> str:
    unit = _value_unit(kind, key)
    text = format_eng(resolved, unit) if resolved is not None else str(raw)
    if isinstance(raw, str):
        text = f"{{{raw}}} = {text}"
    return text if key == "value" else f"{key}={text}"


def element_rows(circuit, params: dict[str, float]) -> list[list[str]]:
    """One row per element: name, kind, nodes, values (resolved, with units), references."""
    from stabkit.circuit.elements import KIND_NAMES

    rows = []
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


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def param_unit(circuit, name: str) -> str:
    """The SI unit of parameter ``name`` as the circuit uses it: the unit of the element it names, or of the
    element values whose expressions refer to it when those all agree (``lext`` in ``LEXT a b {lext}``: H);
    ``""`` when unknown or ambiguous."""
    name = name.lower()
    if name in circuit:
        return _value_unit(circuit.element(name).kind, "value")
    units = set()
    for e in circuit:
        for key, raw in e.values.items():
            if isinstance(raw, str) and name in {t.lower() for t in _IDENT.findall(raw)}:
                units.add(_value_unit(e.kind, key))
    return units.pop() if len(units) == 1 else ""


def _value_unit(kind: str, key: str) -> str:
    """The unit of an element's value ``key`` (``value``, ``dc``, ``z0`` …)."""
    if key == "value":
        return UNITS.get(kind, "")
    if key in ("dc", "ac"):
        return {"V": "V", "I": "A"}.get(kind, "")
    return VALUE_UNITS.get(key, "")


def display_title(title: str) -> str:
    """A netlist title line as shown in reports (a leading SPICE comment star removed)."""
    return title.strip().lstrip("*").strip()


# ----------------------------------------------------------------------------- natural frequencies: views
def pole_groups(poles_hz, unstable=None, marginal=None) -> list[tuple[complex, int, bool, bool]]:
    """Poles as ``(pole, multiplicity, unstable, marginal)`` rows: a conjugate pair is one row (its pole with
    ``Im > 0``, multiplicity 2), least damped first (growing ones, then by damping ratio ζ, then by |s|). ``unstable``/``marginal`` are boolean
    masks (default ``Re > 0`` / none)."""
    p = np.asarray(poles_hz, dtype=complex).ravel()
    bad = p.real > 0 if unstable is None else np.asarray(unstable, dtype=bool).ravel()
    marg = np.zeros(p.size, bool) if marginal is None else np.asarray(marginal, dtype=bool).ravel()
    tol = 1e-9 * np.maximum(np.abs(p), 1e-300)
    upper, lower = np.flatnonzero(p.imag > tol), np.flatnonzero(p.imag < -tol)
    rows = []
    paired = False
    if upper.size == lower.size:
        up = upper[np.lexsort((p.imag[upper], p.real[upper]))]
        lo = lower[np.lexsort((-p.imag[lower], p.real[lower]))]
        if np.allclose(p[up], np.conj(p[lo]), rtol=1e-6, atol=0.0):
            rows += [(complex(p[i]), 2, bool(bad[i] or bad[j]), bool(marg[i] or marg[j])) for i, j in zip(up, lo)]
            paired = True
    single = np.flatnonzero(np.abs(p.imag) <= tol) if paired else np.arange(p.size)
    rows += [(complex(p[i].real, 0.0) if paired else complex(p[i]), 1, bool(bad[i]), bool(marg[i])) for i in single]
    return sorted(rows, key=lambda r: (_damping(r[0]), abs(r[0])))


def _damping(z: complex) -> float:
    """Damping ratio ζ = −Re s/|s| (negative in the right half-plane; 0 at s = 0)."""
    return -z.real / abs(z) if abs(z) > 0 else 0.0


def pole_zoom_window(poles_hz, *, keep: int = 1, damping: float = LIGHT_DAMPING,
                     ratio: float = ZOOM_RATIO) -> tuple[float, float, float] | None:
    """``(re_min, re_max, im_max)`` (Hz) of a pole-map view that shows the modes that matter, or ``None`` when
    the full map already shows them well.

    The modes that matter: every pole in the right half-plane or on the axis, every lightly damped one
    (damping ratio ``ζ = −Re s/|s| < damping``: a resonance), and the ``keep`` slowest-decaying ones (the
    dominant ones of a circuit with only real poles). The view
    is the box around every pole no larger in magnitude than the largest of those (a little margin added);
    it is used only when the poles outside it would stretch the real or imaginary axis more than ``ratio``
    times (a −500 THz parasitic beside GHz resonances)."""
    p = np.asarray(poles_hz, dtype=complex).ravel()
    if p.size == 0:
        return None
    mag = np.abs(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        zeta = np.where(mag > 0, -p.real / np.where(mag > 0, mag, 1.0), 0.0)
    matter = (p.real >= 0) | (zeta < damping)
    matter[np.argsort(np.abs(p.real), kind="stable")[:keep]] = True
    reach = float(mag[matter].max())
    inside = mag <= reach * (1 + 1e-9)
    # (the left half-plane keeps a quarter of the reach in view even when only growing modes matter)
    re_lo, re_hi = min(float(p.real[inside].min()), -0.25 * reach), max(float(p.real[inside].max()), 0.0)
    im = float(np.abs(p.imag[inside]).max())
    span = max(re_hi - re_lo, im, reach, 1e-30)
    re_pad = 0.08 * max(re_hi - re_lo, 0.05 * span)
    window = (re_lo - re_pad, re_hi + re_pad, 1.12 * im if im > 0 else 0.5 * max(re_hi - re_lo, 1e-30))
    full_re = max(float(p.real.max()), 0.0) - min(float(p.real.min()), 0.0)
    full_im = float(np.abs(p.imag).max())
    win_re = window[1] - window[0]
    if full_re <= ratio * win_re and full_im <= ratio * window[2]:
        return None
    return window


def _in_window(p: complex, window) -> bool:
    return window is None or (window[0] <= p.real <= window[1] and abs(p.imag) <= window[2])


def _pole_table_rows(groups) -> list[list[str]]:
    rows = []
    for z, mult, bad, marg in groups[:MAX_POLE_ROWS]:
        mag, zeta = abs(z), _damping(z)
        state = "RHP (unstable)" if bad else "jω axis (marginal)" if marg else ""
        rows.append([_eng(z.real, "Hz"), ("± " + _eng(z.imag, "Hz")) if mult == 2 else "0", _eng(mag, "Hz"),
                     f"{zeta:.3g}", "pair" if mult == 2 else "real", state])
    return rows


POLE_HEADER = ["Re s/2π", "Im s/2π", "|s|/2π", "damping ζ", "kind", "stability"]


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


# ----------------------------------------------------------------------------- build
def build_report(source: str | os.PathLike, *, params: dict[str, float] | None = None, title: str | None = None,
                 now: _dt.datetime | None = None) -> Report:
    """Compute and collect everything for the report of a netlist or a ``*.stab.yaml`` case.

    Parameters
    ----------
    source : path
        A SPICE netlist or a ``*.stab.yaml`` case file.
    params : dict, optional
        Parameter overrides (on top of a case's ``set``), SI values.
    title : str, optional
        Replaces the title taken from the case or the netlist's first line.
    now : datetime, optional
        The time on the ``Generated:`` line (default: now, or ``SOURCE_DATE_EPOCH``).

    Returns
    -------
    Report
        Its ``outcome`` is the circuit's verdict. Bad input raises :class:`StabkitError` (a netlist syntax
        error names its file and line).
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


@contextmanager
def _step(bar, name: str):
    bar.update(0, status=name)
    yield
    bar.update(1)


def _assemble_report(circuit, name: str, runner, source: Path | None, now) -> Report:
    from stabkit.analysis.verdict import decide
    from stabkit.report.progress import Progress

    case = runner.case if runner is not None else None
    rep = Report(title=f"Stability report: {name}", generated=generated_line(now))
    with Progress(None, "report") as bar:
        _section_source(rep, source, case, circuit)
        with _step(bar, "operating points and verdict"):
            verdict = runner.verdict if runner is not None else decide(circuit)
        sweeps = case is not None and (case.table is not None or case.map is not None
                                       or sum(e.kind == "admissible" for e in case.expectations) >= 2)
        unstable_points = sum(1 for pv in verdict.points if pv.poles is not None and pv.poles.rhp_count)
        bar.total = (2 + 2 * len(verdict.points) + unstable_points
                     + (len(case.expectations) + sweeps if case is not None else 0))
        resolved = circuit.resolve_params()
        rep.outcome = verdict.verdict
        _section_verdict(rep, verdict)
        if verdict.points[0].point.kind != "linear":
            _section_oppoints(rep, circuit, verdict)
        _section_parameters(rep, circuit, resolved)
        many = len(verdict.points) > 1
        for pv in verdict.points:
            suffix = f"-op{pv.point.index}" if many else ""
            if many:
                rep.h2(f"Operating point {pv.point.index} of {pv.point.count}: {pv.verdict.upper()}")
                for line in pv.evidence():
                    rep.p(line)
            with _step(bar, f"NDF{' at point %d' % pv.point.index if many else ''}"):
                _section_ndf(rep, pv, suffix, sub=many)
            with _step(bar, f"poles{' at point %d' % pv.point.index if many else ''}"):
                _section_poles(rep, pv, suffix, sub=many)
            if pv.poles is not None and pv.poles.rhp_count:  # which element damps the unstable modes
                from stabkit.analysis.sensitivity import sensitivities

                with _step(bar, f"sensitivities{' at point %d' % pv.point.index if many else ''}"):
                    _section_sensitivities(rep, sensitivities(circuit, which="rhp",
                                                              point=pv.point.index if many else None),
                                           suffix, sub=many)
        _section_twoport(rep, circuit, verdict)
        if case is not None:
            _section_case(rep, runner, bar)
            with _step(bar, "tables and maps"):
                _section_sweeps(rep, runner)
        _section_elements(rep, circuit, resolved)
    return rep


def _section_source(rep: Report, source: Path | None, case, circuit) -> None:
    rep.h2("Input")
    rows = [["file", source.name if source is not None else "(built in Python)"]]
    if case is not None:
        rows.append(["netlist", case.netlist.name])
        if case.description:
            rows.append(["description", case.description])
        if case.params:
            rows.append(["set", ", ".join(f"{k} = {format_eng(v, param_unit(circuit, k))}"
                                          for k, v in case.params.items())])
    rows.append(["title line", display_title(circuit.title) or "—"])
    rep.table(["", ""], rows)
    rep.p(f"{display_title(circuit.summary())}.")


def _section_verdict(rep: Report, verdict) -> None:
    rep.h2("Verdict")
    how = {"auto": "exact natural frequencies cross-checked with the NDF (normalized determinant function)",
           "poles": "exact natural frequencies", "ndf": "NDF (normalized determinant function)"}[verdict.method]
    if verdict.points[0].poles is None and verdict.method == "auto":
        how = "NDF (normalized determinant function): the circuit has distributed elements"
    rep.verdict(verdict.verdict, f"{verdict.summary()} — decided by the {how}.")
    for reason in verdict.reasons:
        rep.warning(f"uncertain: {reason}")
    if len(verdict.points) == 1:
        for line in verdict.points[0].evidence():
            rep.p(line)
    else:
        rep.p(f"{len(verdict.points)} DC operating points, each judged on its own (a section each below): "
              + ", ".join(f"point {p.point.index} {p.verdict}" for p in verdict.points) + ".")
    for w in verdict.warnings:
        if w not in verdict.reasons:
            rep.warning(w)


def _section_oppoints(rep: Report, circuit, verdict) -> None:
    """DC operating points of a nonlinear circuit: each transistor's bias and region (saturated or cut-off
    devices flagged), or every intersection of an NDR device's curve with the load line."""
    from stabkit.report.plots import fit_title

    points = [pv.point for pv in verdict.points]
    kind = points[0].kind
    if kind == "ndr":
        rep.h2("DC operating points")
        rep.p("Each operating point is an intersection of the load line with the device curve; it is stable iff "
              "the circuit linearized there has no natural frequency in the right half-plane.")
        rows = []
        for pv in verdict.points:
            for d in pv.point.devices:
                r = d.get("r")
                rows.append([pv.point.index, d["name"], format_eng(d["v"], "V"), format_eng(d["i"], "A"),
                             format_eng(r, "Ω") if r is not None else "∞",
                             "negative (NDR)" if d["ndr"] else "positive", _rightmost_text(pv), pv.verdict])
        rep.table(["#", "device", "v", "i", "r = dv/di", "slope", "rightmost pole s/2π", "verdict"], rows)
        if len({d["name"] for p in points for d in p.devices}) == 1:
            from stabkit.analysis.negres import operating_points

            ops = operating_points(circuit)
            def draw_curve(ax):
                ops.plot(ax=ax)
                fit_title(ax, "device curve, DC load line and operating points")

            rep.draw(draw_curve, "device curve, DC load line and the operating points (numbered as "
                     "in the table; blue dot stable, vermillion cross unstable)", "oppoints")
    else:
        pt = points[0]
        rep.h2("DC operating point: transistor regions")
        if pt.transistors:
            active = sum(d["region"] == "forward active" for d in pt.transistors)
            rows = [[d["name"], d["region"] if d["region"] == "forward active" else f"{d['region'].upper()} (!)",
                     format_eng(d["ic"], "A"), format_eng(d["vce"], "V"), format_eng(d["vbe"], "V"),
                     f"{d['beta']:.4g}", format_eng(d["gm"], "S"), _eng(d["ft"], "Hz")] for d in pt.transistors]
            rep.table(["transistor", "region", "Ic", "Vce", "Vbe (internal)", "Ic/Ib", "gm", "fT (intrinsic)"], rows)
            if active == len(pt.transistors):
                n = len(pt.transistors)
                who = "The transistor is" if n == 1 else "Both transistors are" if n == 2 else f"All {n} transistors are"
                rep.p(f"{who} forward active, as an amplifier or NIC design assumes.")
        if pt.fets:
            rep.table(["FET", "model", "region", "Id", "Vgs", "Vds", "gm", "gds", "evaluated by"],
                      [[d["name"], d.get("family", f"level {d.get('level', '?')}"), d.get("region", d.get("mode", "")),
                        format_eng(d.get("id", 0.0), "A"), format_eng(d.get("vgs", 0.0), "V"),
                        format_eng(d.get("vds", 0.0), "V"), format_eng(d.get("gm", 0.0), "S"),
                        format_eng(d.get("gds", 0.0), "S"), d.get("path", "")] for d in pt.fets])
        for w in pt.warnings:
            rep.warning(w)
        if pt.diodes:
            rep.p(f"Junction diodes ({len(pt.diodes)}, e.g. the ESD and package diodes of vendor models):")
            rep.table(["junction diode", "Vd", "I", "gd", "Cd"],
                      [[d["name"], format_eng(d["vd"], "V"), format_eng(d["i"], "A"), format_eng(d["gd"], "S"),
                        format_eng(d["cd"], "F")] for d in pt.diodes])
    for note in dict.fromkeys(n for p in points for n in p.notes):
        rep.note(note)


def _rightmost_text(pv) -> str:
    if pv.poles is None or not pv.poles.poles.size:
        return "—"
    z = max(pv.poles.poles_hz, key=lambda p: p.real)
    return f"{_eng(z.real, 'Hz')} ± j{_eng(abs(z.imag), 'Hz')}" if z.imag else f"{_eng(z.real, 'Hz')} (real)"


def _section_parameters(rep: Report, circuit, resolved) -> None:
    if resolved:
        rep.h2("Parameters")
        rep.table(["parameter", "value"], [[k, format_eng(v, param_unit(circuit, k))] for k, v in resolved.items()])


def _active_elements(rep: Report, circuit) -> None:
    from stabkit.analysis.mna import assemble

    system = assemble(circuit)
    blocks = [e.name for e in circuit if e.kind == "N"]
    if system.active:
        rows = [[a.name, a.kind,
                 (format_eng(a.a0) if a.a0 else "") + (f" + s·{format_eng(a.a1)}" if a.a1 else "") or "0"]
                for a in system.active]
        rep.p(f"Active elements — switched off in the passive reference Δ0 of the NDF, in netlist order "
              f"({len(system.active)}):")
        rep.table(["element", "kind", "gain a0 + a1·s (SI)"], rows)
    elif not blocks:
        rep.p("No active elements: the circuit is passive (and cannot be unstable unless it is marginal).")
    if blocks:
        rep.p(f"S-parameter block(s) {', '.join(blocks)}: replaced by their reference terminations (Z0 on every port) "
              "in Δ0, each enters the NDF as the return difference det(I − S·Γ) with the reflection Γ the rest of the "
              "circuit presents to its ports — valid for blocks stable in their reference impedances (every "
              "measurable block is); see the NDF guide for the extrapolation outside the measured band.")


def _section_elements(rep: Report, circuit, resolved) -> None:
    rep.h2("Appendix: nodes and elements")
    nodes = [n for n in circuit.nodes if n != "0"]
    rep.p(f"Nodes ({len(nodes)} + ground): {', '.join(nodes) if nodes else 'none'}.")
    rep.table(["element", "kind", "nodes", "value", "refers to"], element_rows(circuit, resolved))


def _section_ndf(rep: Report, pv, suffix: str = "", sub: bool = False) -> None:
    from stabkit.report.plots import fit_title

    res = pv.ndf
    rep.heading("NDF and return differences", sub)
    _active_elements(rep, pv.circuit)
    if res is None:
        rep.note("The NDF was not computed for this verdict (method 'poles').")
        return
    n = res.encirclements
    if not res.sources and pv.poles is None:
        rep.warning("Nothing is switched off in Δ0, so NDF ≡ 1: it cannot encircle the origin. With no pole map "
                    "either (distributed circuit), the verdict rests on the S-parameter blocks and lines being "
                    "stable on their own — the NDF does not check them.")
    elif not res.sources:
        rep.note("Nothing is switched off in Δ0, so NDF ≡ 1: it cannot encircle the origin and says nothing here; "
                 "the natural frequencies below decide.")
    else:
        rep.p(f"The NDF encircles the origin {_plural(n, 'time')} clockwise for ω from −∞ to +∞ → "
              f"{_plural(n, 'natural frequency', 'natural frequencies')} in the right half-plane.")
        rep.p(f"Contour from {_eng(res.fmin, 'Hz')} to {_eng(res.fmax, 'Hz')} (derived from the circuit unless "
              f"given), {res.freq_hz.size} points.")
        def draw_ndf(ax):
            res.plot(ax=ax)
            fit_title(ax, f"NDF(jω): {_plural(n, 'clockwise encirclement')} of the origin")

        rep.draw(draw_ndf, f"NDF(jω) in the compressed polar plane (radius log(1+|NDF|)), and its running count "
                           f"of clockwise encirclements versus frequency — {n} in all", f"ndf{suffix}", NDF_FIG_SIZE)
        rep.p("Return difference F_k = 1 + T_k of each active element (det(I − S·Γ) of each S-parameter block), "
              "with the earlier ones switched on and the later ones off; NDF = Π F_k, so the encirclements add up:")
        rep.table(["source", "encirclements of F_k"],
                  [[src.name, src.encirclements] for src in res.sources] + [["total", n]])

        def draw_sources(ax):
            res.plot_sources(ax=ax)
            fit_title(ax, "return differences F_k(jω) (encirclements in brackets)")

        rep.draw(draw_sources, "return differences F_k(jω) of the active elements, same compression", f"rd{suffix}")
    for w in res.doubts:
        rep.warning(f"NDF doubt: {w}")


def _section_poles(rep: Report, pv, suffix: str = "", sub: bool = False) -> None:
    from stabkit.report.plots import fit_title

    rep.heading("Natural frequencies (pole map)", sub)
    pr = pv.poles
    if pr is None:
        rep.note("The circuit has distributed elements (transmission lines or N-port blocks): it has infinitely "
                 "many natural frequencies and no finite pole map; the NDF count above is the verdict.")
        return
    rep.p(f"{pr.poles.size} finite natural frequencies s/2π (exact generalized eigenvalues of (G, −C)); "
          f"{pr.rhp_count} in the right half-plane, {pr.marginal.size} on the jω axis"
          + (f"; {pr.zero_modes} structural zero mode(s) at s = 0 (conserved charge or flux, not counted)."
             if pr.zero_modes else "."))
    for w in pr.doubts:
        rep.warning(f"pole doubt: {w}")
    if not pr.poles.size:
        return
    poles_hz = pr.poles_hz
    window = pole_zoom_window(poles_hz)
    marginal = np.isin(pr.poles, pr.marginal)

    def draw(ax):
        pr.plot(ax=ax, window=window, unstable=pr.rhp_mask)
        fit_title(ax, "natural frequencies s/2π" + (" — zoomed to the modes that matter" if window else ""))

    groups = pole_groups(poles_hz, pr.rhp_mask, marginal)
    inside = [g for g in groups if _in_window(g[0], window)]
    outside = [g for g in groups if not _in_window(g[0], window)]
    if window is not None:
        rep.p(f"The map shows the box Re s/2π from {_eng(window[0], 'Hz', 3)} to {_eng(window[1], 'Hz', 3)}, "
              f"|Im s/2π| up to {_eng(window[2], 'Hz', 3)}: every pole in the right half-plane, every lightly damped "
              f"one (ζ < {LIGHT_DAMPING:g}) and the slowest one, with everything no larger. "
              f"{_plural(sum(g[1] for g in outside), 'pole')} lie outside it (listed after the table).")
    rep.draw(draw, "natural frequencies s/2π: blue crosses decay, vermillion dots grow (right half-plane, shaded)",
             f"poles{suffix}")
    rep.p("Conjugate pairs are one row; least damped (smallest damping ratio ζ = −Re s/|s|) first:")
    rep.table(POLE_HEADER, _pole_table_rows(inside))
    if len(inside) > MAX_POLE_ROWS:
        rep.note(f"{len(inside) - MAX_POLE_ROWS} more rows (further left) not listed.")
    if outside:
        rep.p(f"Outside the view ({_plural(sum(g[1] for g in outside), 'pole')}, each larger in magnitude than every "
              "mode shown; all decaying unless marked):")
        rep.table(POLE_HEADER, _pole_table_rows(outside))
        if len(outside) > MAX_POLE_ROWS:
            rep.note(f"{len(outside) - MAX_POLE_ROWS} more rows (better damped) not listed.")


def _section_sensitivities(rep: Report, result, suffix: str = "", sub: bool = False, top: int = 10) -> None:
    """Which element damps each unstable mode: the one-sentence diagnosis, the ranked table and the bar chart
    of a :class:`~stabkit.analysis.sensitivity.SensitivityResult`."""
    if not result.modes:
        return
    rep.heading("Which element damps the mode (pole sensitivities)", sub)
    rep.p("First-order sensitivity of each unstable natural frequency to every element of the small-signal "
          "circuit and every .param of the netlist, from the left and right null vectors of G + sC: the shift of "
          "Re s/2π for +100 % of the value, linearized. Negative: increasing the value damps the mode.")
    for k, mode in enumerate(result.modes):
        rep.p(mode.describe())
        rep.table(["element or .param", "value", "ΔRe s/2π per +100 %", "ΔIm s/2π per +100 %"],
                  [[x.name + (" (.param)" if x.kind == "param" else ""), format_eng(x.value),
                    format_eng(x.re_hz_relative, "Hz"), format_eng(x.im_hz_relative, "Hz")] for x in mode.ranked(top)])
        rep.draw(lambda ax, m=mode: m.plot(ax=ax, top=top),
                 "pole sensitivities: blue bars damp the mode, vermillion hatched ones push it right",
                 f"sensitivity{suffix}-{k}")
    for w in result.warnings:
        rep.note(w)


def _section_twoport(rep: Report, circuit, verdict=None) -> None:
    """K, |Δ|, μ, μ′ of every 2-port S-parameter block in the circuit beside the NDF verdict, and the classic
    trap said out loud: a block unconditionally stable by K/μ inside a circuit that is unstable."""
    from stabkit.analysis import twoport
    from stabkit.report.plots import plot_stability_factors

    blocks = [(e.name, circuit.networks[e.model or e.key]) for e in circuit
              if e.kind == "N" and (e.model or e.key) in circuit.networks
              and circuit.networks[e.model or e.key].nports == 2]
    if not blocks:
        return
    rep.h2("Two-port stability factors (K, μ)")
    rep.p("For each 2-port S-parameter block on its own: μ > 1 (K ≥ 1 with |Δ| < 1) means unconditionally stable "
          "for *independent passive terminations* of its two ports, if the block itself is stable. Feedback around "
          "the block (a common reference impedance such as emitter inductance, a network across it) and active "
          "elements elsewhere are not such terminations: the NDF above judges the whole circuit.")
    rows = []
    unstable = verdict is not None and verdict.verdict == "unstable"
    for name, net in blocks:
        f, s = np.asarray(net.f, dtype=float), np.asarray(net.s, dtype=complex)
        k, d = twoport.rollett_k(s), np.abs(twoport.determinant_s(s))
        mu, mu2 = twoport.mu_factor(s), twoport.mu_prime_factor(s)
        bands = unstable_bands(f, mu > 1)
        rows.append([name, f"{format_eng(f[0], 'Hz')} … {format_eng(f[-1], 'Hz')}", f"{np.min(k):.3g}",
                     f"{np.max(d):.3g}", f"{np.min(mu):.3g}",
                     "; ".join(f"{format_eng(a, 'Hz')} … {format_eng(b, 'Hz')}" for a, b in bands) or "none",
                     f"{np.min(mu2):.3g}"])
        rep.draw(lambda ax, f=f, k=k, d=d, mu=mu, mu2=mu2, name=name: plot_stability_factors(
            f, k, d, mu, ax=ax, title=f"two-port factors of {name}", mu_prime=mu2),
            f"K, |Δ|, μ and μ′ of {name} (above the line at 1: unconditionally stable)", f"twoport-{name}")
        if unstable and np.all(mu > 1):
            rep.warning(f"The classic trap: {name} is unconditionally stable by its two-port factors at every measured "
                        f"frequency (K ≥ {np.min(k):.3g}, |Δ| ≤ {np.max(d):.3g}, μ ≥ {np.min(mu):.3g}), yet the circuit "
                        "is UNSTABLE — its embedding is not a pair of independent passive terminations (feedback "
                        "around the block, or active elements elsewhere). Trust the NDF, not K.")
        elif unstable and np.any(mu > 1):
            stable_bands = unstable_bands(f, ~(mu > 1))
            rep.p(f"{name} is unconditionally stable by K/μ only at "
                  + "; ".join(f"{format_eng(a, 'Hz')} … {format_eng(b, 'Hz')}" for a, b in stable_bands)
                  + " — and the circuit is unstable: K ≥ 1 there would not have saved it.")
    rep.table(["block", "frequencies", "min K", "max |Δ|", "min μ", "μ ≤ 1 (potentially unstable) at", "min μ′"],
              rows)


def _section_case(rep: Report, runner, bar) -> None:
    case = runner.case
    circuit = runner.circuit
    rep.h2("Expectations")
    rows = []
    outcomes = []
    for exp in case.expectations:
        with _step(bar, f"expectation {exp.name}"):
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

    def span(a: float, b: float, unit: str) -> str:
        return f"{format_eng(a, unit)} … {format_eng(b, unit)}"

    trows = []
    strip = []
    for o in admissible:
        e = o.expectation
        unit = param_unit(circuit, e.param)
        found = o.data["intervals"]
        trows.append([e.param, span(e.lo, e.hi, unit), "; ".join(span(a, b, unit) for a, b in found) or "none",
                      span(*e.contains, unit), "holds" if o.passed else "FAILS"])
        strip.append((e.param, e.lo, e.hi, found, e.contains, unit))
    rep.table(["parameter", "swept", "stable intervals", "expected to contain", "result"], trows)
    from stabkit.report.plots import plot_intervals

    def draw_strips(ax):
        fig = ax.figure
        fig.delaxes(ax)
        plot_intervals(strip, fig.subplots(len(strip), 1, squeeze=False)[:, 0])

    rep.draw(draw_strips, "stability along each swept parameter (blue: stable, hatched vermillion: unstable, dashed "
                          "box: the interval expected to be stable)", "admissible", (FIG_SIZE[0], 0.9 + 1.0 * len(strip)))
    for o in admissible:
        e = o.expectation
        result = runner.range_results.get((e.param, e.lo, e.hi))
        if result is None:
            continue
        unit = param_unit(circuit, e.param)
        if result.edges:
            rep.p(f"Edges of the stable set of {e.param} (where natural frequencies cross the jω axis):")
            rep.table(["edge", "side", "what crosses", "at frequency"],
                      [[format_eng(ed.value, unit, 5), "stable above" if ed.side == "lower" else "stable below",
                        ed.crossing or "(NDF: not resolved)",
                        _eng(ed.freq_hz, "Hz") if ed.freq_hz is not None else "—"] for ed in result.edges])
        rep.draw(lambda ax, r=result, unit=unit: r.plot(ax=ax, unit=unit),
                 f"unstable natural frequencies versus {e.param} (shaded: stable; dashed: located edges)",
                 f"sweep-{e.param}")
        for w in result.warnings:
            rep.warning(f"{e.param} sweep: {w}")


def _grid(lo: float, hi: float, points: int) -> np.ndarray:
    return np.geomspace(lo, hi, points) if lo > 0 and hi / lo >= 10 else np.linspace(lo, hi, points)


def _workers(evaluations: int) -> int | None:
    """One process for small sweeps (a process pool costs more than it saves), else every core."""
    return 1 if evaluations < SERIAL_BELOW else None


def _section_sweeps(rep: Report, runner) -> None:
    """``report.table`` and ``report.map`` of a case (or an automatic map over its first two swept parameters)."""
    from stabkit.analysis.loads import stability_map, stability_table
    from stabkit.analysis.points import sweep_circuit

    case = runner.case
    circuit = runner.circuit
    spec = case.map
    if spec is None:
        sweeps = []
        for e in case.expectations:
            if e.kind == "admissible" and e.param not in [x[0] for x in sweeps]:
                sweeps.append((e.param, e.lo, e.hi, AUTO_MAP_POINTS))
        if len(sweeps) >= 2 and circuit.is_lumped:
            spec = {"x": sweeps[0], "y": sweeps[1]}
    if case.table is not None:
        t = case.table
        unit, by_unit = param_unit(circuit, t["param"]), param_unit(circuit, t["by"])
        rep.h2(f"Admissible {t['param']} for each {t['by']}")
        lin = runner._recording(sweep_circuit, circuit, {t["param"]: [t["lo"], t["hi"]], t["by"]: t["values"]})
        table = runner._recording(lambda: stability_table(lin, t["param"], t["lo"], t["hi"], t["by"], t["values"],
                                                          progress=True, workers=_workers(len(t["values"]) * 40)))
        header = [f"{t['param']} \\ {t['by']}"] + [format_eng(v, by_unit) for v in table.by_values]
        rows = []
        for x, srow, nrow in zip(table.probes, table.probe_stable, table.probe_rhp):
            rows.append([format_eng(x, unit)] + ["stable" if st else (f"unstable ({n} RHP)" if n else "marginal")
                                                 for st, n in zip(srow, nrow)])
        rows.append(["admissible"] + ["; ".join(f"{format_eng(a, unit)} … {format_eng(b, unit)}"
                                                for a, b in col.intervals) or "none" for col in table.columns])
        rep.table(header, rows)
        rep.draw(lambda ax: table.plot(ax=ax, unit=unit, by_unit=by_unit),
                 f"stable {t['param']} intervals for each {t['by']} (bars), probed values marked", "table")
    if spec is not None:
        (xp, xlo, xhi, xn), (yp, ylo, yhi, yn) = spec["x"], spec["y"]
        x_unit, y_unit = param_unit(circuit, xp), param_unit(circuit, yp)
        rep.h2(f"Stability map: {xp} × {yp}")
        lin = runner._recording(sweep_circuit, circuit, {xp: [xlo, xhi], yp: [ylo, yhi]})
        smap = runner._recording(lambda: stability_map(lin, xp, _grid(xlo, xhi, xn), yp, _grid(ylo, yhi, yn),
                                                       progress=True, workers=_workers(xn * yn)))
        stable = int(smap.stable.sum())
        rep.p(f"{xn} × {yn} grid, every point decided ({stable} stable, {smap.stable.size - stable} "
              f"not; {stable / smap.stable.size:.0%} stable).")
        rep.draw(lambda ax: smap.plot(ax=ax, x_unit=x_unit, y_unit=y_unit),
                 f"number of unstable natural frequencies over {xp} and {yp} (pale blue: stable)", "map")


# ----------------------------------------------------------------------------- render
CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:62em;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.5em;border-bottom:2px solid #444}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #bbb}
h3{font-size:1.05em;margin-top:1.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#f0f0f0}.verdict{font-size:1.2em;font-weight:bold;padding:.4em .8em;display:inline-block}
.ok{background:#dbe9f6;color:#0b3c66}.bad{background:#fbe3d6;color:#8a3200}.unsure{background:#fdf1cf;color:#6b4e00}
.warning{background:#fdf1cf;border-left:4px solid #e69f00;padding:.3em .6em}.note{color:#555;font-style:italic}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.85em;color:#444}
.generated{color:#888;font-size:.8em}
"""
_NUMBER = re.compile(r"^[−+-]?(± )?\d")


def _td(cell: str) -> str:
    css = ' class="num"' if _NUMBER.match(cell) else ""
    return f"<td{css}>{html.escape(cell)}</td>"


def render_html(rep: Report) -> str:
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{esc(rep.title)}</title>", f"<style>{CSS.strip()}</style>", "</head>", "<body>",
           f"<h1>{esc(rep.title)}</h1>", f'<p class="generated">{esc(rep.generated)}</p>']
    for b in rep.blocks:
        if b.kind in ("h2", "h3"):
            out.append(f"<{b.kind}>{esc(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{esc(b.text)}</p>")
        elif b.kind == "note":
            out.append(f'<p class="note">{esc(b.text)}</p>')
        elif b.kind == "warning":
            out.append(f'<p class="warning"><strong>warning:</strong> {esc(b.text)}</p>')
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
                out.append("<tr>" + "".join(_td(c) for c in r) + "</tr>")
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
        if b.kind in ("h2", "h3"):
            out += [f"{'##' if b.kind == 'h2' else '###'} {b.text}", ""]
        elif b.kind == "p":
            out += [b.text, ""]
        elif b.kind == "note":
            out += [f"> {b.text}", ""]
        elif b.kind == "warning":
            out += [f"> **warning:** {b.text}", ""]
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
