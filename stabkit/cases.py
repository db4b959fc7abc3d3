"""Case files (``*.stab.yaml``): loading, validation and checking the expectations they state.

A case file names a netlist (relative to the case file), optional parameter overrides and what must hold::

    netlist: tunnel_amp.cir          # relative to this file
    title: tunnel-diode amplifier    # optional, shown in reports
    set: {rl: 20, lext: 8n}          # optional: numbers or SPICE-suffixed strings
    expect:
      stable: true                   # the stability verdict at these parameters
      encirclements: 0               # optional: the NDF's clockwise encirclement count
      admissible:                    # optional: each sweep's stable set must contain an interval
        - {param: lext, from: 0.1n, to: 100n, contains: [7.6n, 9.5n]}

The same code serves ``stabkit check``, ``stabkit report`` and the pytest plugin: a case is loaded once
(:func:`load_case`), each expectation is one :class:`Expectation`, and :func:`evaluate` returns an
:class:`Outcome` whose ``reason`` is one line and whose ``details`` give the numbers and how to update
the expectation.

Which analysis decides "stable": :func:`stabkit.analysis.verdict.decide`, the same path every command takes
(operating points, linearization, exact poles cross-checked with the NDF). An ``uncertain`` verdict fails a
``stable`` or ``encirclements`` expectation with its reason.

A case whose netlist needs files that are not shipped (vendor models in ``../shared/models``) says so::

    requires: [../../shared/models/BFR840L3RHESD.lib]   # relative to the case file

and is skipped, with the missing file named, where they are absent.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stabkit.errors import NetlistError
from stabkit.units import format_eng, parse_value

CASE_SUFFIX = ".stab.yaml"
TOP_KEYS = {"netlist": "netlist file, relative to the case file",
            "title": "a title for reports",
            "description": "free text for reports",
            "set": "parameter overrides {name: value}",
            "expect": "what must hold: stable, encirclements, admissible",
            "report": "extra analyses for `stabkit report` (not checked): table, map",
            "requires": "files the netlist needs that stabkit does not ship (relative to the case file)"}
REPORT_KEYS = {"table": "{param, from, to, by, values: [...]}: admissible ranges of param per value of by",
               "map": "{x: {param, from, to, points}, y: {param, from, to, points}}: 2-D stability map"}
EXPECT_KEYS = {"stable": "true or false", "encirclements": "an integer (NDF clockwise encirclements)",
               "admissible": "a list of {param, from, to, contains: [lo, hi]}"}
ADMISSIBLE_KEYS = ("param", "from", "to", "contains")


class CaseFileError(NetlistError):
    """A case file could not be read (bad YAML, unknown key, bad value). Names file and line."""


# ----------------------------------------------------------------------------- YAML with line numbers
class _Mapping(dict):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Sequence(list):
    line: int = 0
    item_lines: list


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node):
        loader.flatten_mapping(node)
        out = _Mapping()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise CaseFileError(f"key {key!r} appears twice (first on line {out.key_lines[key]})",
                                    line=key_node.start_mark.line + 1)
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out

    def construct_sequence(loader, node):
        out = _Sequence(loader.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out

    Loader.add_constructor("tag:yaml.org,2002:map", construct_mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", construct_sequence)
    return Loader


def read_yaml(path: str | os.PathLike) -> Any:
    """Parse a YAML file; errors become :class:`CaseFileError` with the file and (where known) the line."""
    import yaml

    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseFileError(f"cannot read case file: {exc.strerror or exc}", file=path) from None
    except UnicodeDecodeError as exc:
        line = Path(path).read_bytes()[: exc.start].count(b"\n") + 1
        raise CaseFileError(f"not UTF-8 text (byte {exc.object[exc.start]:#04x}): a case file is YAML text",
                            file=path, line=line) from None
    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except CaseFileError as exc:
        raise CaseFileError(exc.reason, file=path, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            what += f" (the construct began on line {exc.context_mark.line + 1})"
        raise CaseFileError(f"invalid YAML: {what}", file=path, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise CaseFileError(f"invalid YAML: {exc}", file=path) from None


# ----------------------------------------------------------------------------- the case model
@dataclass
class Expectation:
    """One thing a case file asks to hold (one pytest item)."""

    kind: str  # "stable" | "encirclements" | "admissible"
    name: str  # short id: "stable", "admissible[lext]"
    line: int
    stable: bool | None = None
    encirclements: int | None = None
    param: str | None = None
    lo: float | None = None  # sweep range
    hi: float | None = None
    contains: tuple[float, float] | None = None

    def describe(self) -> str:
        if self.kind == "stable":
            return f"stable: {str(self.stable).lower()}"
        if self.kind == "encirclements":
            return f"encirclements: {self.encirclements}"
        return (f"admissible {self.param} in [{spice_number(self.lo)}, {spice_number(self.hi)}] contains "
                f"[{spice_number(self.contains[0])}, {spice_number(self.contains[1])}]")


@dataclass
class Case:
    """A loaded ``*.stab.yaml`` file."""

    path: Path
    netlist: Path
    params: dict[str, float] = field(default_factory=dict)
    expectations: list[Expectation] = field(default_factory=list)
    title: str = ""
    description: str = ""
    netlist_line: int = 1
    #: ``report.table``: dict(param, lo, hi, by, values) or None
    table: dict | None = None
    #: ``report.map``: dict(x=(param, lo, hi, points), y=(param, lo, hi, points)) or None
    map: dict | None = None
    #: files the netlist needs (``requires:``), resolved against the case file's folder
    requires: list[Path] = field(default_factory=list)

    @property
    def missing(self) -> list[Path]:
        """Required files that are absent: the case cannot be checked here (it is skipped, not failed)."""
        return [p for p in self.requires if not p.exists()]

    def skip_reason(self) -> str | None:
        """Why the case is skipped, or None."""
        missing = self.missing
        if not missing:
            return None
        return (f"{self.name}: needs {', '.join(str(p) for p in missing)}, which is absent (vendor files are not "
                "shipped with stabkit; see the case file's `requires:`)")

    @property
    def name(self) -> str:
        n = self.path.name
        return n[: -len(CASE_SUFFIX)] if n.endswith(CASE_SUFFIX) else self.path.stem

    def where(self, line: int | None = None) -> str:
        return f"{self.path}:{line}" if line else str(self.path)

    def load_circuit(self):
        """The netlist as a :class:`~stabkit.circuit.graph.Circuit` with ``set`` applied.

        A netlist syntax error raises :class:`NetlistError` naming the netlist file and line.
        """
        if not self.netlist.exists():
            raise CaseFileError(f"netlist {str(self.netlist)!r} does not exist (paths are relative to the case file)",
                                file=str(self.path), line=self.netlist_line)
        from stabkit.circuit.graph import Circuit

        circuit = Circuit.from_netlist(str(self.netlist))
        return circuit.with_values(self.params) if self.params else circuit


def _number(value: Any, what: str, file: str, line: int) -> float:
    if isinstance(value, bool) or value is None:
        raise CaseFileError(f"{what}: expected a number such as 20, 1e-9 or 20n, got {value!r}", file=file, line=line)
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = parse_value(value)
        except ValueError:
            raise CaseFileError(f"{what}: expected a number such as 20, 1e-9 or 20n, got {value!r}",
                                file=file, line=line) from None
    else:
        raise CaseFileError(f"{what}: expected a number, got a {type(value).__name__}", file=file, line=line)
    if not math.isfinite(x):
        raise CaseFileError(f"{what}: expected a finite number, got {value!r}", file=file, line=line)
    return x


def _unknown_keys(mapping: _Mapping, allowed, where: str, file: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise CaseFileError(f"unknown key {key!r} in {where}; expected one of: {', '.join(allowed)}",
                                file=file, line=mapping.line_of(key))


def load_case(path: str | os.PathLike) -> Case:
    """Read and validate a case file. Errors raise :class:`CaseFileError` (file, line, what was expected)."""
    path = Path(path)
    file = str(path)
    data = read_yaml(path)
    if not isinstance(data, _Mapping):
        raise CaseFileError("a case file is a mapping with keys netlist, set, expect", file=file,
                            line=getattr(data, "line", 1) or 1)
    _unknown_keys(data, TOP_KEYS, "the case file", file)
    if "netlist" not in data:
        raise CaseFileError("missing key 'netlist' (the netlist file, relative to the case file)", file=file, line=1)
    if not isinstance(data["netlist"], str) or not data["netlist"].strip():
        raise CaseFileError("netlist: expected a file name", file=file, line=data.line_of("netlist"))
    netlist = (path.parent / data["netlist"].strip())
    params: dict[str, float] = {}
    sets = data.get("set")
    if sets is None:
        sets = _Mapping()
        sets.key_lines = {}
    if not isinstance(sets, _Mapping):
        raise CaseFileError("set: expected a mapping {param: value}", file=file, line=data.line_of("set"))
    for name, value in sets.items():
        params[str(name).lower()] = _number(value, f"set {name}", file, sets.line_of(name))
    if "expect" not in data:
        raise CaseFileError("missing key 'expect' (what must hold, e.g. expect: {stable: true})", file=file, line=1)
    expect = data["expect"]
    if not isinstance(expect, _Mapping) or not expect:
        raise CaseFileError("expect: expected a mapping with stable, encirclements and/or admissible",
                            file=file, line=data.line_of("expect"))
    _unknown_keys(expect, EXPECT_KEYS, "expect", file)
    expectations: list[Expectation] = []
    if "stable" in expect:
        if not isinstance(expect["stable"], bool):
            raise CaseFileError(f"expect.stable: expected true or false, got {expect['stable']!r}",
                                file=file, line=expect.line_of("stable"))
        expectations.append(Expectation("stable", "stable", expect.line_of("stable"), stable=expect["stable"]))
    if "encirclements" in expect:
        n = expect["encirclements"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise CaseFileError(f"expect.encirclements: expected a non-negative integer, got {n!r}",
                                file=file, line=expect.line_of("encirclements"))
        expectations.append(Expectation("encirclements", "encirclements", expect.line_of("encirclements"),
                                        encirclements=n))
    if "admissible" in expect:
        items = expect["admissible"]
        if not isinstance(items, _Sequence) or not items:
            raise CaseFileError("expect.admissible: expected a list of {param, from, to, contains: [lo, hi]}",
                                file=file, line=expect.line_of("admissible"))
        seen: dict[str, int] = {}
        for item, line in zip(items, items.item_lines):
            if not isinstance(item, _Mapping):
                raise CaseFileError("expect.admissible entry: expected {param, from, to, contains: [lo, hi]}",
                                    file=file, line=line)
            _unknown_keys(item, ADMISSIBLE_KEYS, "an admissible entry", file)
            for key in ADMISSIBLE_KEYS:
                if key not in item:
                    raise CaseFileError(f"admissible entry needs {key!r} (keys: {', '.join(ADMISSIBLE_KEYS)})",
                                        file=file, line=item.line)
            param = str(item["param"]).lower()
            lo = _number(item["from"], f"admissible {param} from", file, item.line_of("from"))
            hi = _number(item["to"], f"admissible {param} to", file, item.line_of("to"))
            if not hi > lo:
                raise CaseFileError(f"admissible {param}: 'to' ({item['to']}) must exceed 'from' ({item['from']})",
                                    file=file, line=item.line_of("to"))
            contains = item["contains"]
            if not isinstance(contains, list) or len(contains) != 2:
                raise CaseFileError(f"admissible {param} contains: expected [lo, hi], got {contains!r}",
                                    file=file, line=item.line_of("contains"))
            c_lo = _number(contains[0], f"admissible {param} contains", file, item.line_of("contains"))
            c_hi = _number(contains[1], f"admissible {param} contains", file, item.line_of("contains"))
            if not (lo <= c_lo <= c_hi <= hi):
                raise CaseFileError(f"admissible {param}: contains [{contains[0]}, {contains[1]}] must lie inside "
                                    f"from..to [{item['from']}, {item['to']}] with lo <= hi",
                                    file=file, line=item.line_of("contains"))
            seen[param] = seen.get(param, 0) + 1
            name = f"admissible[{param}]" if seen[param] == 1 else f"admissible[{param}#{seen[param]}]"
            expectations.append(Expectation("admissible", name, item.line, param=param, lo=lo, hi=hi,
                                            contains=(c_lo, c_hi)))
    if not expectations:
        raise CaseFileError("expect: nothing to check (give stable, encirclements or admissible)",
                            file=file, line=data.line_of("expect"))
    title = data.get("title") or ""
    description = data.get("description") or ""
    table, smap = _parse_report(data, file)
    requires = data.get("requires") or []
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(isinstance(r, str) and r.strip() for r in requires):
        raise CaseFileError("requires: expected a list of file names (relative to the case file)", file=file,
                            line=data.line_of("requires"))
    return Case(path=path, netlist=netlist, params=params, expectations=expectations, title=str(title),
                description=str(description), netlist_line=data.line_of("netlist"), table=table, map=smap,
                requires=[path.parent / r.strip() for r in requires])


def _parse_report(data: _Mapping, file: str):
    rep = data.get("report")
    if rep is None:
        return None, None
    if not isinstance(rep, _Mapping):
        raise CaseFileError("report: expected a mapping with table and/or map", file=file, line=data.line_of("report"))
    _unknown_keys(rep, REPORT_KEYS, "report", file)
    table = smap = None
    if "table" in rep:
        t = rep["table"]
        keys = ("param", "from", "to", "by", "values")
        if not isinstance(t, _Mapping):
            raise CaseFileError(f"report.table: expected {{{', '.join(keys)}}}", file=file, line=rep.line_of("table"))
        _unknown_keys(t, keys, "report.table", file)
        for k in keys:
            if k not in t:
                raise CaseFileError(f"report.table needs {k!r} (keys: {', '.join(keys)})", file=file, line=t.line)
        if not isinstance(t["values"], list) or not t["values"]:
            raise CaseFileError("report.table values: expected a list of numbers", file=file, line=t.line_of("values"))
        lo = _number(t["from"], "report.table from", file, t.line_of("from"))
        hi = _number(t["to"], "report.table to", file, t.line_of("to"))
        if not hi > lo:
            raise CaseFileError("report.table: 'to' must exceed 'from'", file=file, line=t.line_of("to"))
        table = {"param": str(t["param"]).lower(), "lo": lo, "hi": hi, "by": str(t["by"]).lower(),
                 "values": [_number(v, "report.table values", file, t.line_of("values")) for v in t["values"]]}
    if "map" in rep:
        m = rep["map"]
        if not isinstance(m, _Mapping):
            raise CaseFileError("report.map: expected {x: {param, from, to, points}, y: {...}}", file=file,
                                line=rep.line_of("map"))
        _unknown_keys(m, ("x", "y"), "report.map", file)
        smap = {}
        for axis in ("x", "y"):
            a = m.get(axis)
            keys = ("param", "from", "to", "points")
            if not isinstance(a, _Mapping):
                raise CaseFileError(f"report.map.{axis}: expected {{param, from, to, points}}", file=file,
                                    line=m.line_of(axis))
            _unknown_keys(a, keys, f"report.map.{axis}", file)
            for k in keys[:3]:
                if k not in a:
                    raise CaseFileError(f"report.map.{axis} needs {k!r}", file=file, line=a.line)
            points = a.get("points", 21)
            if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 200:
                raise CaseFileError(f"report.map.{axis}.points: expected an integer from 2 to 200, got {points!r}",
                                    file=file, line=a.line_of("points"))
            lo = _number(a["from"], f"report.map.{axis} from", file, a.line_of("from"))
            hi = _number(a["to"], f"report.map.{axis} to", file, a.line_of("to"))
            if not hi > lo:
                raise CaseFileError(f"report.map.{axis}: 'to' must exceed 'from'", file=file, line=a.line_of("to"))
            smap[axis] = (str(a["param"]).lower(), lo, hi, points)
    return table, smap


def interval_list(result) -> list[tuple[float, float]]:
    """Intervals of an admissible-range result (an object with ``.intervals`` or a plain list)."""
    items = getattr(result, "intervals", result)
    return [(float(a), float(b)) for a, b in items]


# ----------------------------------------------------------------------------- verdict
def stability_verdict(circuit, params: Mapping[str, float] | None = None, *, point: int | None = None):
    """The verdict of ``circuit`` (:func:`stabkit.analysis.verdict.decide`: every command's path)."""
    from stabkit.analysis.verdict import decide

    return decide(circuit, params, point=point)


# ----------------------------------------------------------------------------- evaluation
@dataclass
class Outcome:
    """The result of checking one expectation."""

    case: Case
    expectation: Expectation
    passed: bool
    reason: str  # one line
    details: list[str] = field(default_factory=list)  # the numbers and how to update the expectation
    data: dict = field(default_factory=dict)
    #: the verdict behind it was ``uncertain`` (the expectation fails with the reason)
    uncertain: bool = False
    #: the case could not be checked here (a required file is absent): neither passed nor failed
    skipped: bool = False

    def message(self) -> str:
        return "\n".join([self.reason, *("  " + d for d in self.details)])


def spice_number(x: float) -> str:
    """A value with a SPICE suffix, as one would write it in a case file: ``7.52n``, ``1.5meg``, ``20``."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    for scale, suffix in ((1e12, "t"), (1e9, "g"), (1e6, "meg"), (1e3, "k"), (1.0, ""), (1e-3, "m"),
                          (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")):
        if abs(x) >= scale * 0.9995:
            return f"{x / scale:.4g}{suffix}"
    return f"{x:.4g}"


class CaseRunner:
    """Evaluates the expectations of one case, loading the circuit and computing the verdict once."""

    def __init__(self, case: Case, circuit=None):
        """``circuit`` replaces reading ``case.netlist`` (for circuits built in Python); ``set`` is applied to it."""
        self.case = case
        self._circuit = None if circuit is None else (circuit.with_values(case.params) if case.params else circuit)
        self._verdict = None
        self._ranges: dict[tuple[str, float, float], list[tuple[float, float]]] = {}
        #: the full admissible-range results (with edges) by (param, lo, hi)
        self.range_results: dict[tuple[str, float, float], Any] = {}

        #: StabkitWarnings raised while reading or analysing (a negative resistor ...), as text
        self.warnings: list[str] = []

    def _recording(self, fn, *args):
        """Call ``fn`` and keep its StabkitWarnings in :attr:`warnings` (others are re-issued)."""
        import warnings

        from stabkit.errors import StabkitWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args)
        for w in caught:
            if issubclass(w.category, StabkitWarning):
                text = str(w.message)
                if text not in self.warnings:
                    self.warnings.append(text)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return result

    @property
    def circuit(self):
        if self._circuit is None:
            self._circuit = self._recording(self.case.load_circuit)
        return self._circuit

    @property
    def verdict(self):
        """The :class:`~stabkit.analysis.verdict.Verdict` of the case's circuit (computed once)."""
        if self._verdict is None:
            self._verdict = self._recording(stability_verdict, self.circuit)
        return self._verdict

    def admissible(self, param: str, lo: float, hi: float) -> list[tuple[float, float]]:
        key = (param, lo, hi)
        if key not in self._ranges:
            from stabkit.analysis.loads import admissible_range as fn
            from stabkit.analysis.points import sweep_circuit

            # nonlinear devices are linearized once, after checking that the sweep leaves their bias alone
            small_signal = self._recording(sweep_circuit, self.circuit, {param: [lo, hi]})
            result = self._recording(lambda: fn(small_signal, param, lo, hi, progress=True))  # a bar on a terminal
            self.range_results[key] = result
            self._ranges[key] = interval_list(result)
        return self._ranges[key]

    def evaluate(self, exp: Expectation) -> Outcome:
        """Check one expectation. Bad input (netlist syntax, unknown parameter) raises StabkitError."""
        case = self.case
        where = case.where(exp.line)
        reason = case.skip_reason()
        if reason is not None:
            return Outcome(case, exp, False, reason, [], {}, skipped=True)
        if exp.kind in ("stable", "encirclements"):
            v = self.verdict
            if v.verdict == "uncertain":
                why = "; ".join(v.reasons) or "numerical doubt"
                return Outcome(case, exp, False, f"{case.name}: the verdict is uncertain: {why}",
                               [*v.evidence(), f"expected {exp.describe()}; stabkit cannot decide this circuit "
                                               "reliably (see the reason): fix the circuit or the analysis band"],
                               {"verdict": v.verdict, "reasons": v.reasons}, uncertain=True)
        if exp.kind == "stable":
            v = self.verdict
            ok = v.stable == exp.stable
            got = v.verdict
            rhp = [] if v.poles is None else [[float(p.real), float(p.imag)] for p in v.poles.poles_hz[v.poles.rhp_mask]]
            data = {"stable": v.stable, "verdict": v.verdict, "method": v.method, "encirclements": v.encirclements,
                    "rhp_poles_hz": rhp}
            if ok:
                return Outcome(case, exp, True, f"{case.name}: {got} as expected", v.evidence(), data)
            reason = f"{case.name}: expected {'stable' if exp.stable else 'unstable'}, found {got}"
            how = (f"if the circuit is meant to be {got}, change {where} to `stable: {str(v.stable).lower()}`")
            return Outcome(case, exp, False, reason, [*v.evidence(), how], data)
        if exp.kind == "encirclements":
            v = self.verdict
            n = v.encirclements if v.encirclements is not None else v.rhp_count
            sources = [] if v.ndf is None else [{"name": s.name, "encirclements": s.encirclements} for s in v.ndf.sources]
            data = {"encirclements": n, "sources": sources}
            if n == exp.encirclements:
                return Outcome(case, exp, True, f"{case.name}: {n} encirclement(s) as expected", v.evidence(), data)
            return Outcome(case, exp, False,
                           f"{case.name}: expected {exp.encirclements} NDF encirclement(s), found {n}",
                           [*v.evidence(), f"if {n} is right, change {where} to `encirclements: {n}`"], data)
        # admissible
        found = self.admissible(exp.param, exp.lo, exp.hi)
        c_lo, c_hi = exp.contains
        ok = any(a <= c_lo and b >= c_hi for a, b in found)
        found_text = (", ".join(f"[{format_eng(a)}, {format_eng(b)}]" for a, b in found)
                      or "no stable value")
        want = f"[{format_eng(c_lo)}, {format_eng(c_hi)}]"
        data = {"param": exp.param, "from": exp.lo, "to": exp.hi, "intervals": [list(x) for x in found],
                "contains": [c_lo, c_hi]}
        head = f"{case.name}: admissible {exp.param} over [{format_eng(exp.lo)}, {format_eng(exp.hi)}]"
        if ok:
            return Outcome(case, exp, True, f"{head}: found {found_text} ⊇ {want}", [], data)
        details = [f"stable {exp.param} intervals found: {found_text}", f"expected an interval containing {want}"]
        doubt = self.range_results[(exp.param, exp.lo, exp.hi)].uncertain
        if doubt:
            details.insert(0, f"{len(doubt)} value(s) could not be decided (counted as not stable), e.g. "
                              f"{exp.param}={format_eng(doubt[0][0])}: {doubt[0][1]}")
        if found:
            best = max(found, key=lambda ab: (min(ab[1], c_hi) - max(ab[0], c_lo), ab[1] - ab[0]))
            details.append(f"if the new range is right, change {where} to "
                           f"`contains: [{spice_number(best[0])}, {spice_number(best[1])}]`")
        else:
            details.append(f"no value of {exp.param} in the sweep is stable; if that is right, remove the entry at "
                           f"{where} and expect `stable: false`")
        return Outcome(case, exp, False, f"{head}: found {found_text}, expected it to contain {want}", details, data,
                       uncertain=bool(doubt))

    def run(self) -> list[Outcome]:
        return [self.evaluate(e) for e in self.case.expectations]


def check_case(path: str | os.PathLike) -> list[Outcome]:
    """Load a case file and check every expectation."""
    return CaseRunner(load_case(path)).run()


def find_cases(paths) -> list[Path]:
    """Expand directories into the ``*.stab.yaml`` files under them (sorted); files are kept as given."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(x for x in p.rglob(f"*{CASE_SUFFIX}") if x.is_file()))
        else:
            out.append(p)
    return out
