"""SPICE netlist reader: :func:`read_netlist` turns a netlist file (or its text) into a :class:`Circuit`.

The accepted dialect is described in ``docs/netlist.md``. In short: the first line is the title, ``*``
starts a comment line, ``;`` and ``$ `` start inline comments, ``+`` continues the previous statement,
names are case-insensitive and numbers take SPICE suffixes (``10k``, ``2.2n``, ``1meg``, ``5mil``; unit
letters after them are ignored: ``10pF``). Elements R L C K G E F H V I T O D Q M J B X N, cards ``.param``,
``.subckt``/``.ends``, ``.model``, ``.include``, ``.lib`` (files and ``.lib name``/``.endl`` sections),
``.title`` and ``.end``; analysis cards (``.op .ac .tran .pz .options`` ... and ``.control``/``.endc``
blocks) are skipped because they belong to simulators.

Reading happens in three steps:

1. *files*: physical lines become statements (comments dropped, continuations joined, includes and
   library sections spliced in); every statement remembers the file and line where it starts;
2. *scopes*: ``.subckt``/``.ends`` split the statements into the top level and subcircuit definitions;
   every statement is parsed (so syntax errors are reported even in subcircuits nobody uses);
3. *build*: the top level is added to a :class:`Circuit`; an ``X`` instance builds the body of its
   subcircuit the first time it is needed (definitions may come after their use) and flattens it with
   :meth:`Circuit.add_instance`. Parameters and element expressions are then checked and evaluated once.

Every problem is raised as :class:`~stabkit.errors.NetlistError` naming the file, the line where the
statement starts and the expected form.
"""

from __future__ import annotations

import keyword
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stabkit.circuit import expr
from stabkit.circuit.elements import Element
from stabkit.circuit.graph import GROUND, Circuit, Model, Subcircuit, node_name
from stabkit.errors import CircuitError, NetlistError, ParameterError, StabkitWarning
from stabkit.units import parse_value

__all__ = ["read_netlist", "NETLIST_TEXT_NAME", "USAGE"]

#: file name used in messages when the netlist was given as text
NETLIST_TEXT_NAME = "<netlist>"

#: the expected form of each element line, quoted in error messages
USAGE: dict[str, str] = {
    "R": "R1 in out 50",
    "L": "L1 a b 10n",
    "C": "C1 a 0 1p",
    "K": "K1 L1 L2 0.9",
    "G": "G1 out 0 in 0 20m",
    "E": "E1 out 0 in 0 10",
    "F": "F1 out 0 Vsense 5",
    "H": "H1 out 0 Vsense 100",
    "V": "V1 a 0 DC 1 AC 1",
    "I": "I1 a 0 DC 1m AC 1",
    "T": "T1 a 0 b 0 Z0=50 TD=1n' or 'T1 a 0 b 0 Z0=50 F=1g NL=0.25",
    "O": "O1 a 0 b 0 LINE' with '.model LINE ltra(r=12 l=9n g=0 c=0.47p len=16)",
    "D": "D1 anode cathode DMOD [area]",
    "Q": "Q1 c b e [substrate] QMOD [area]",
    "X": "X1 in out AMP [params: gain=2 r={rl*2}]",
    "N": "N1 p1 p2 file=amp.s2p",
    "M": "M1 drain gate source bulk NMOD W=10u L=1u",
    "J": "J1 drain gate source JMOD [area]",
    "B": "B1 a k I={ip*(v(a,k)/vp)*exp(1-v(a,k)/vp)}' or 'B2 out 0 V={2*v(in)}",
    ".param": ".param a=1 b={a*2}",
    ".subckt": ".subckt NAME port1 port2 [params: a=1 b={a*2}]",
    ".ends": ".ends [NAME]",
    ".model": ".model NAME TYPE(p1=v1 p2=v2)",
    ".include": ".include file.cir",
    ".lib": ".lib file.lib [section]",
}

#: cards for simulators, not for stability analysis: skipped silently
IGNORED_CARDS = frozenset({
    ".options", ".option", ".opt", ".op", ".ac", ".dc", ".tran", ".pz", ".noise", ".tf", ".sens",
    ".disto", ".four", ".print", ".plot", ".probe", ".save", ".meas", ".measure", ".temp", ".ic",
    ".nodeset", ".width", ".sp", ".step", ".backanno", ".csparam", ".pss", ".hb", ".sens", ".fourier",
    ".save", ".probe", ".noise",
})

#: transient source specifications skipped in V/I lines
TRANSIENT_SPECS = frozenset({"sin", "pulse", "exp", "pwl", "sffm", "am", "trnoise", "trrandom",
                             "distof1", "distof2"})

#: element letters that are SPICE but outside this dialect
UNSUPPORTED_ELEMENTS = {
    "Z": "MESFET", "S": "voltage-controlled switch",
    "W": "current-controlled switch", "U": "uniform RC line",
    "Y": "lossy line / special element", "A": "XSPICE code model", "P": "coupled multiconductor line",
}

#: ``ltra`` card: the line's electrical values (per metre, and its length) ...
LTRA_VALUES = ("r", "l", "g", "c", "len")
#: ... and what only ngspice's transient integration of it reads (accepted and not used: stability is decided
#: from the line's exact frequency-domain model)
LTRA_TRANSIENT = frozenset({"rel", "abs", "compactrel", "compactabs"})
LTRA_FLAGS = frozenset({"nocontrol", "steplimit", "nosteplimit", "lininterp", "quadinterp", "mixedinterp",
                        "truncnr", "truncdontcut"})

_MAX_INCLUDE_DEPTH = 32
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WHERE_PREFIX = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<rest>.*)$", re.DOTALL)
_TOKEN = re.compile(r"""\{[^{}]*\}|'[^']*'|"[^"]*"|=|[^\s={}'"]+""")
_TOKEN_NO_PARENS = re.compile(r"""\{[^{}]*\}|'[^']*'|"[^"]*"|=|[(),]|[^\s={}'"(),]+""")


# ---------------------------------------------------------------------------------------------- data
@dataclass
class _Statement:
    """One logical line (continuations joined) and where it starts."""

    text: str
    file: str
    line: int
    directory: Path

    def error(self, message: str) -> NetlistError:
        return NetlistError(message, self.file, self.line)

    @property
    def origin(self) -> tuple[str, int]:
        return (self.file, self.line)


@dataclass
class _Token:
    text: str
    kind: str  # "word", "brace", "quote", "eq"

    @property
    def lower(self) -> str:
        return self.text.lower()


@dataclass
class _Param:
    name: str
    value: float | str
    stmt: _Statement


@dataclass
class _ModelCard:
    name: str
    type: str
    params: dict[str, float | str]
    stmt: _Statement


@dataclass
class _Instance:
    name: str
    nodes: list[str]
    subckt: str
    params: dict[str, float | str]
    stmt: _Statement


@dataclass
class _Unsupported:
    """An element outside the dialect inside a subcircuit definition: an error only if the subcircuit is used."""

    name: str
    message: str
    stmt: _Statement


@dataclass
class _Scope:
    """The parsed statements of the top level or of one subcircuit definition."""

    params: list[_Param] = field(default_factory=list)
    models: list[_ModelCard] = field(default_factory=list)
    items: list = field(default_factory=list)  # Element | _Instance | _Unsupported, in netlist order


@dataclass
class _Definition:
    name: str
    ports: list[str]
    defaults: dict[str, float | str]
    scope: _Scope
    stmt: _Statement


# ---------------------------------------------------------------------------------------------- entry
def read_netlist(path_or_text: str | os.PathLike, *, encoding: str | None = None) -> Circuit:
    """Read a SPICE netlist into a :class:`Circuit`.

    ``path_or_text`` is a file path (``str`` or :class:`os.PathLike`) or the netlist text itself: a string
    that names an existing file is read from that file (``.include``/``.lib`` are then resolved relative to
    it and errors name it); a string with a line break is netlist text (errors name ``<netlist>``,
    includes are relative to the working directory); a one-line string that is not a file is an error
    (it is almost always a mistyped path). ``encoding`` defaults to UTF-8 with a Latin-1 fallback
    (vendor model libraries are often Latin-1).

    Raises :class:`NetlistError` (``file:line: what was expected``) for every problem in the netlist.

    >>> c = read_netlist("RC low-pass\\nR1 in out 1k\\nC1 out 0 1n\\n.end\\n")
    >>> [e.name for e in c], c.element("C1").values["value"]
    (['R1', 'C1'], 1e-09)
    """
    if encoding is not None:
        try:
            "".encode(encoding)
        except (LookupError, TypeError):
            raise NetlistError(f"unknown text encoding {encoding!r}") from None
    reader = _Reader(encoding)
    if isinstance(path_or_text, os.PathLike):
        path = Path(path_or_text)
        return reader.read_top(reader.load(path, None), path.name, path.resolve().parent, str(path))
    if not isinstance(path_or_text, str):
        raise NetlistError(f"expected a netlist file path or netlist text, got {type(path_or_text).__name__}")
    text = path_or_text
    if "\n" not in text and "\r" not in text:
        path = Path(text.strip())
        if _is_file(path):
            return reader.read_top(reader.load(path, None), path.name, path.resolve().parent, str(path))
        raise NetlistError(f"no netlist file {text.strip()!r} (a one-line string is taken as a file name; "
                           "netlist text needs its title line and at least one more line)")
    return reader.read_top(text, NETLIST_TEXT_NAME, Path.cwd(), None)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # e.g. a NUL character or a name too long
        return False


# ---------------------------------------------------------------------------------------------- tokens
def _strip_comment(line: str) -> str:
    """Drop ``;`` comments and ``$`` comments (``$`` followed by blank or end of line)."""
    cut = line.find(";")
    if cut >= 0:
        line = line[:cut]
    m = re.search(r"\$(\s|$)", line)
    if m:
        line = line[:m.start()]
    return line


def _tokenize(stmt: _Statement, text: str | None = None, *, split_parens: bool = False) -> list[_Token]:
    """Split a statement into words, ``{expressions}``, quoted strings and ``=`` signs.

    With ``split_parens`` (``.model`` and V/I lines), ``(``, ``)`` and ``,`` separate tokens and are dropped.
    """
    text = stmt.text if text is None else text
    pattern = _TOKEN_NO_PARENS if split_parens else _TOKEN
    tokens: list[_Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            break
        m = pattern.match(text, pos)
        if not m:
            ch = text[pos]
            what = {"{": "an unclosed '{'", "}": "a '}' without '{'", "'": "an unclosed quote '",
                    '"': 'an unclosed quote "'}.get(ch, repr(ch))
            raise stmt.error(f"{what} at column {pos + 1}: expressions go in braces {{...}} on one statement")
        tok = m.group(0)
        pos = m.end()
        if split_parens and tok in "(),":
            continue
        if tok == "=":
            tokens.append(_Token(tok, "eq"))
        elif tok.startswith("{"):
            tokens.append(_Token(tok, "brace"))
        elif tok[0] in "'\"":
            tokens.append(_Token(tok, "quote"))
        else:
            tokens.append(_Token(tok, "word"))
    return tokens


def _split_args(stmt: _Statement, tokens: list[_Token], usage: str) -> tuple[list[_Token], list[tuple[str, _Token]]]:
    """Positional tokens and ``key=value`` pairs (``key = value`` with blanks is accepted too).

    ``params:`` markers are dropped. Positional tokens after the first ``key=value`` are an error.
    """
    positional: list[_Token] = []
    pairs: list[tuple[str, _Token]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "word" and tok.lower.startswith("params:"):
            rest = tok.text[len("params:"):]
            if not rest:
                i += 1
                continue
            tok = _Token(rest, "word")
        if tok.kind == "eq":
            raise stmt.error(f"'=' without a name before it; expected name=value, e.g. '{usage}'")
        if i + 1 < len(tokens) and tokens[i + 1].kind == "eq":
            if tok.kind != "word":
                raise stmt.error(f"{tok.text!r} cannot be a parameter name; expected name=value, e.g. '{usage}'")
            if i + 2 >= len(tokens) or tokens[i + 2].kind == "eq":
                raise stmt.error(f"{tok.text}= has no value; expected name=value, e.g. '{usage}'")
            pairs.append((tok.lower, tokens[i + 2]))
            i += 3
            continue
        if pairs:
            raise stmt.error(f"{tok.text!r} after name=value pairs; expected only name=value there, e.g. '{usage}'")
        positional.append(tok)
        i += 1
    return positional, pairs


#: the ``.options`` the device models read (others are simulator settings and are skipped)
MODEL_OPTIONS = ("temp", "tnom", "gmin")


def _simulator_options(text: str, card: str) -> dict[str, float]:
    """``temp``/``tnom``/``gmin`` from a ``.temp T`` or ``.options name=value ...`` card (others skipped)."""
    body = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
    if card == ".temp":
        value = _number(body.split()[0]) if body.split() else None
        return {} if value is None else {"temp": value}
    out = {}
    for name, raw in re.findall(r"([A-Za-z_]\w*)\s*=\s*([^\s,]+)", body):
        value = _number(raw)
        if name.lower() in MODEL_OPTIONS and value is not None:
            out[name.lower()] = value
    return out


def _number(text: str) -> float | None:
    """A SPICE number (``10k``, ``1.5meg``, ``10pF``) or None."""
    try:
        value = parse_value(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _expression(stmt: _Statement, text: str, what: str) -> str:
    """Validate an expression (without braces/quotes) and return it."""
    if not text.strip():
        raise stmt.error(f"{what}: empty expression {{}}; expected e.g. {{2*rl}}")
    try:
        expr.parse_expression(text)
    except ParameterError as exc:
        raise stmt.error(f"{what}: {exc}") from None
    return text.strip()


def _value(stmt: _Statement, tok: _Token, what: str, usage: str, *, bare_expression: bool = False) -> float | str:
    """A number, or an expression string from ``{expr}`` / ``'expr'`` (bare words too with ``bare_expression``)."""
    if tok.kind in ("brace", "quote"):
        return _expression(stmt, tok.text[1:-1], what)
    if tok.kind == "word":
        number = _number(tok.text)
        if number is not None:
            return number
        if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[A-Za-zµ]*", tok.text):
            raise stmt.error(f"{what}: {tok.text!r} is out of range; expected a finite number")
        if bare_expression:
            return _expression(stmt, tok.text, what)
    raise stmt.error(f"{what}: expected a number or {{expression}}, got {tok.text!r}; e.g. '{usage}'")


def _param_name(stmt: _Statement, name: str, usage: str) -> str:
    if not _IDENTIFIER.match(name):
        raise stmt.error(f"parameter name {name!r} must start with a letter and contain only letters, digits and _; "
                         f"e.g. '{usage}'")
    key = name.lower()
    if keyword.iskeyword(key) or key in expr.CONSTANTS or key in expr.FUNCTIONS:
        raise stmt.error(f"parameter name {name!r} is reserved (a keyword, constant or function of expressions)")
    return key


def _file_argument(stmt: _Statement, tok: _Token, card: str) -> Path:
    name = tok.text[1:-1] if tok.kind in ("quote", "brace") else tok.text
    if not name.strip():
        raise stmt.error(f"{card} needs a file name, e.g. '{USAGE.get(card, card + ' file')}'")
    path = Path(os.path.expanduser(name.strip()))
    return path if path.is_absolute() else stmt.directory / path


# ---------------------------------------------------------------------------------------------- reader
class _Reader:
    def __init__(self, encoding: str | None):
        self.encoding = encoding
        self.title = ""
        #: simulator settings the device models use: ``temp``, ``tnom`` (°C) and ``gmin`` (S)
        self.options: dict[str, float] = {}

    # ----------------------------------------------------------------- step 1: files -> statements
    def load(self, path: Path, stmt: _Statement | None) -> str:
        """The text of ``path`` (UTF-8, else Latin-1, unless an encoding was given)."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            reason = f"cannot read {str(path)!r}: {exc.strerror or exc}"
            raise (stmt.error(reason) if stmt else NetlistError(reason, str(path))) from None
        if self.encoding:
            try:
                text = data.decode(self.encoding)
            except UnicodeDecodeError as exc:
                reason = f"cannot decode {str(path)!r} as {self.encoding}: {exc.reason} at byte {exc.start}"
                raise (stmt.error(reason) if stmt else NetlistError(reason, str(path))) from None
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
        return text.lstrip("\ufeff")

    def read_top(self, text: str, file: str, directory: Path, source: str | None) -> Circuit:
        lines = re.split(r"\r\n|\r|\n", text)
        self.title = lines[0].strip() if lines else ""
        statements = self.statements(lines, file, directory, first_line=2, section=None,
                                     stack=[(source and str(Path(source).resolve()), None)], including=None)
        top, definitions = self.scopes(statements)
        circuit = _Builder(definitions).build_top(top, self.title)
        circuit.source = source
        circuit.options = dict(self.options)
        return circuit

    def statements(self, lines: list[str], file: str, directory: Path, *, first_line: int, section: str | None,
                   stack: list, including: _Statement | None) -> list[_Statement]:
        """Logical statements of one file (from ``first_line``), with includes expanded.

        With ``section``, only the statements of ``.lib section`` ... ``.endl`` are kept.
        """
        logical: list[_Statement] = []
        for number, raw in enumerate(lines[first_line - 1:], start=first_line):
            text = _strip_comment(raw).strip()
            if not text or text.startswith("*"):
                continue
            if text.startswith("+"):
                if not logical:
                    raise NetlistError("continuation line '+' has no statement before it to continue", file, number)
                prev = logical[-1]
                prev.text = f"{prev.text} {text[1:].strip()}"
                continue
            logical.append(_Statement(text, file, number, directory))

        endl_after = [False] * len(logical)
        seen_endl = False
        for i in range(len(logical) - 1, -1, -1):
            endl_after[i] = seen_endl
            if _card(logical[i]) == ".endl":
                seen_endl = True

        out: list[_Statement] = []
        current_section: str | None = None  # section we are inside (selected or not)
        found_section = section is None
        in_control: _Statement | None = None
        for i, stmt in enumerate(logical):
            card = _card(stmt)
            if in_control is not None:
                if card == ".endc":
                    in_control = None
                continue
            if card == ".endl":
                if current_section is None:
                    raise stmt.error(".endl without a '.lib NAME' section before it")
                current_section = None
                continue
            if card == ".lib":
                toks = _tokenize(stmt)
                if len(toks) < 2:
                    raise stmt.error(f".lib needs a file name (and optionally a section), e.g. '{USAGE['.lib']}' "
                                     "or a section header '.lib NAME' closed by '.endl'")
                if len(toks) == 2 and current_section is None and endl_after[i] \
                        and not _is_file(_file_argument(stmt, toks[1], ".lib")):
                    current_section = toks[1].text.strip("'\"").lower()
                    if section is not None and current_section == section:
                        found_section = True
                    continue
            selected = (current_section is None) if section is None else (current_section == section)
            if not selected:
                continue
            if card == ".end":
                break
            if card == ".control":
                in_control = stmt
                continue
            if card == ".endc":
                raise stmt.error(".endc without .control before it")
            if card in (".temp", ".options", ".option", ".opt"):
                self.options.update(_simulator_options(stmt.text, card))
            if card in IGNORED_CARDS:
                continue
            if card == ".title":
                self.title = stmt.text[len(".title"):].strip()
                continue
            if card in (".include", ".inc", ".lib"):
                out.extend(self.include(stmt, card, stack))
                continue
            out.append(stmt)
        if in_control is not None:
            raise in_control.error(".control block has no .endc")
        if current_section is not None and section is not None and current_section == section:
            raise NetlistError(f".lib section {section!r} has no .endl", file, len(lines))
        if not found_section:
            assert including is not None
            raise including.error(f"library {file!r} has no section {section!r} ('.lib {section}' ... '.endl')")
        return out

    def include(self, stmt: _Statement, card: str, stack: list) -> list[_Statement]:
        toks = _tokenize(stmt)
        if card == ".lib":
            if len(toks) not in (2, 3):
                raise stmt.error(f".lib takes a file name and optionally a section, e.g. '{USAGE['.lib']}'")
            section = toks[2].text.strip("'\"").lower() if len(toks) == 3 else None
        else:
            if len(toks) != 2:
                raise stmt.error(f"{card} takes one file name, e.g. '{USAGE['.include']}'")
            section = None
        path = _file_argument(stmt, toks[1], card)
        if not _is_file(path):
            raise stmt.error(f"{card}: no such file {str(path)!r}")
        key = (str(path.resolve()), section)
        if key in stack:
            raise stmt.error(f"{card} {toks[1].text} includes itself (directly or through other files)")
        if len(stack) > _MAX_INCLUDE_DEPTH:
            raise stmt.error(f"{card}: includes nested more than {_MAX_INCLUDE_DEPTH} deep")
        text = self.load(path, stmt)
        lines = re.split(r"\r\n|\r|\n", text)
        return self.statements(lines, path.name, path.resolve().parent, first_line=1, section=section,
                               stack=stack + [key], including=stmt)

    # ----------------------------------------------------------------- step 2: scopes
    def scopes(self, statements: list[_Statement]) -> tuple[_Scope, dict[str, _Definition]]:
        top = _Scope()
        definitions: dict[str, _Definition] = {}
        open_defs: list[_Definition] = []
        for stmt in statements:
            card = _card(stmt)
            scope = open_defs[-1].scope if open_defs else top
            if card == ".subckt":
                d = _parse_subckt(stmt)
                if d.name.lower() in definitions:
                    first = definitions[d.name.lower()].stmt
                    raise stmt.error(f"subcircuit {d.name} is defined twice (first at {first.file}:{first.line})")
                definitions[d.name.lower()] = d
                open_defs.append(d)
            elif card == ".ends":
                toks = _tokenize(stmt)
                if not open_defs:
                    raise stmt.error(".ends without a .subckt before it")
                if len(toks) > 2:
                    raise stmt.error(f".ends takes at most the subcircuit name, e.g. '{USAGE['.ends']}'")
                if len(toks) == 2 and toks[1].lower != open_defs[-1].name.lower():
                    raise stmt.error(f".ends {toks[1].text} closes subcircuit {open_defs[-1].name} "
                                     f"(opened at line {open_defs[-1].stmt.line})")
                open_defs.pop()
            elif card in (".param", ".params"):
                scope.params.extend(_parse_params(stmt))
            elif card == ".model":
                scope.models.append(_parse_model(stmt))
            elif card.startswith("."):
                raise stmt.error(f"unknown card {card}; expected one of .param .subckt .ends .model .include .lib "
                                 ".end (analysis cards such as .ac .op .tran are skipped)")
            else:
                scope.items.append(_parse_element(stmt, inside_subckt=bool(open_defs)))
        if open_defs:
            d = open_defs[-1]
            raise d.stmt.error(f".subckt {d.name} has no .ends")
        return top, definitions


def _card(stmt: _Statement) -> str:
    """The lower-case first word of a statement (``.param``, ``r1`` ...)."""
    m = re.match(r"[^\s({=]+", stmt.text)
    return m.group(0).lower() if m else stmt.text[:1]


# ---------------------------------------------------------------------------------------------- cards
def _parse_params(stmt: _Statement) -> list[_Param]:
    usage = USAGE[".param"]
    positional, pairs = _split_args(stmt, _tokenize(stmt)[1:], usage)
    if positional or not pairs:
        raise stmt.error(f".param needs name=value pairs, e.g. '{usage}'")
    out = []
    for key, tok in pairs:
        name = _param_name(stmt, key, usage)
        out.append(_Param(name, _value(stmt, tok, f"parameter {name}", usage, bare_expression=True), stmt))
    return out


def _parse_subckt(stmt: _Statement) -> _Definition:
    usage = USAGE[".subckt"]
    positional, pairs = _split_args(stmt, _tokenize(stmt)[1:], usage)
    if not positional:
        raise stmt.error(f".subckt needs a name and its ports, e.g. '{usage}'")
    for tok in positional:
        if tok.kind != "word":
            raise stmt.error(f".subckt: {tok.text!r} is not a name or node; e.g. '{usage}'")
    name = positional[0].text
    ports = [node_name(t.text) for t in positional[1:]]
    if GROUND in ports:
        raise stmt.error(f".subckt {positional[0].text}: ground (0) cannot be a port; it is global")
    dup = sorted({p for p in ports if ports.count(p) > 1})
    if dup:
        raise stmt.error(f".subckt {positional[0].text}: port {dup[0]} is listed twice")
    defaults: dict[str, float | str] = {}
    for key, tok in pairs:
        pname = _param_name(stmt, key, usage)
        defaults[pname] = _value(stmt, tok, f"parameter {pname}", usage, bare_expression=True)
    return _Definition(name=name, ports=ports, defaults=defaults, scope=_Scope(), stmt=stmt)


def _parse_model(stmt: _Statement) -> _ModelCard:
    usage = USAGE[".model"]
    tokens = _tokenize(stmt, split_parens=True)[1:]
    if len(tokens) < 2 or tokens[0].kind != "word" or tokens[1].kind != "word":
        raise stmt.error(f".model needs a name and a type, e.g. '{usage}'")
    name, mtype = tokens[0].text, tokens[1].lower
    rest = tokens[2:]
    flags = []
    if mtype == "ltra":  # the transient-only switches of a lossy line card stand alone (steplimit, truncnr ...)
        flags = [t.lower for t in rest if t.kind == "word" and t.lower in LTRA_FLAGS]
        rest = [t for t in rest if not (t.kind == "word" and t.lower in LTRA_FLAGS)]
    positional, pairs = _split_args(stmt, rest, usage)
    if positional:
        raise stmt.error(f".model {name}: {positional[0].text!r} is not name=value; e.g. '{usage}'")
    params: dict[str, float | str] = {}
    for key, tok in pairs:
        if key == "file":  # a data file (ivtable/vitable ...): relative to the file that holds the card
            params[key] = str(_file_argument(stmt, tok, ".model"))
        elif tok.kind in ("brace", "quote"):
            params[key] = _expression(stmt, tok.text[1:-1], f"model {name} parameter {key}")
        else:
            number = _number(tok.text)
            params[key] = number if number is not None else tok.text
    for flag in flags:
        params[flag] = 1.0
    return _ModelCard(name=name, type=mtype, params=params, stmt=stmt)


def _nodes(stmt: _Statement, tokens: list[_Token], what: str, usage: str) -> list[str]:
    for tok in tokens:
        if tok.kind != "word":
            raise stmt.error(f"{what}: {tok.text!r} is not a node name; e.g. '{usage}'")
    return [node_name(t.text) for t in tokens]


def _parse_element(stmt: _Statement, *, inside_subckt: bool):
    tokens = _tokenize(stmt)
    name = tokens[0].text
    letter = name[0].upper()
    if letter in ("V", "I"):
        return _parse_source(stmt, name, letter)
    if letter == "X":
        return _parse_instance(stmt, name, tokens[1:])
    if letter == "B":
        return _parse_behavioural(stmt, name)
    if letter in UNSUPPORTED_ELEMENTS:
        message = (f"{name}: {UNSUPPORTED_ELEMENTS[letter]} ({letter} element) is outside the stabkit dialect "
                   "(R L C K G E F H V I T O D Q M J B X N)")
        if inside_subckt:
            return _Unsupported(name=name, message=message, stmt=stmt)
        raise stmt.error(message)
    if letter not in USAGE:
        raise stmt.error(f"{name}: unknown element type {letter!r}; expected a line starting with one of "
                         "R L C K G E F H V I T O D Q M J B X N, or a card such as .param")
    usage = USAGE[letter]
    if letter in "MJ":  # the 'off' flag (an initial-guess hint for simulators) may stand anywhere
        tokens = [t for t in tokens if not (t.kind == "word" and t.lower == "off")]
    positional, pairs = _split_args(stmt, tokens[1:], usage)
    keys = dict(pairs)
    origin = stmt.origin

    def need(n_nodes: int, extra: str, n_extra: int = 1) -> None:
        if len(positional) != n_nodes + n_extra:
            raise stmt.error(f"{name} needs {n_nodes} nodes{' and ' + extra if extra else ''}, e.g. '{usage}'")

    def no_keys(allowed: set[str]) -> None:
        unknown = sorted(set(keys) - allowed)
        if unknown:
            allowed_text = ", ".join(sorted(allowed)) or "none"
            raise stmt.error(f"{name}: unknown setting {unknown[0]}=; allowed: {allowed_text}; e.g. '{usage}'")

    if letter in "RLC":
        alias = letter.lower()
        no_keys({alias, "ic", "m"} if letter != "R" else {alias, "m"})
        if alias in keys:
            if len(positional) != 2:
                raise stmt.error(f"{name}: give the value once, either as the third field or as {alias}=; "
                                 f"e.g. '{usage}'")
            positional.append(keys[alias])
        need(2, "a value")
        value = _value(stmt, positional[2], f"{name} value", usage)
        if "m" in keys:  # m parallel copies
            m = _value(stmt, keys["m"], f"{name} m", usage)
            value = _scale(value, m, divide=letter != "C")
        return Element(name, letter, tuple(_nodes(stmt, positional[:2], name, usage)), {"value": value}, origin=origin)
    if letter == "K":
        no_keys(set())
        if len(positional) != 3:
            raise stmt.error(f"{name} needs two inductor names and a coupling factor, e.g. '{usage}'")
        refs = _nodes(stmt, positional[:2], name, usage)
        for ref in refs:
            if not ref.startswith("l") and "." not in ref:
                raise stmt.error(f"{name}: {ref!r} is not an inductor name (L...); e.g. '{usage}'")
        value = _value(stmt, positional[2], f"{name} coupling", usage)
        return Element(name, "K", (), {"value": value}, refs=tuple(refs), origin=origin)
    if letter in "GE":
        no_keys(set())
        need(4, "a gain")
        value = _value(stmt, positional[4], f"{name} gain", usage)
        return Element(name, letter, tuple(_nodes(stmt, positional[:4], name, usage)), {"value": value}, origin=origin)
    if letter in "FH":
        no_keys(set())
        need(2, "a controlling voltage source and a gain", 2)
        ctrl = positional[2]
        if ctrl.kind != "word" or not (ctrl.lower.startswith("v") or "." in ctrl.text):
            raise stmt.error(f"{name}: the controlling element {ctrl.text!r} must be a voltage source (V...); "
                             f"e.g. '{usage}'")
        value = _value(stmt, positional[3], f"{name} gain", usage)
        return Element(name, letter, tuple(_nodes(stmt, positional[:2], name, usage)), {"value": value},
                       refs=(ctrl.text.lower(),), origin=origin)
    if letter == "T":
        no_keys({"z0", "td", "f", "nl"})
        if len(positional) != 4:
            raise stmt.error(f"{name} needs 4 nodes and Z0= with TD= or F= (NL=), e.g. '{usage}'")
        if "z0" not in keys or ("td" not in keys and "f" not in keys):
            raise stmt.error(f"{name} needs Z0= and either TD= or F= (with NL=), e.g. '{usage}'")
        if "td" in keys and ("f" in keys or "nl" in keys):
            raise stmt.error(f"{name}: give either TD= or F= with NL=, not both; e.g. '{usage}'")
        values = {k: _value(stmt, v, f"{name} {k}", usage) for k, v in keys.items()}
        return Element(name, "T", tuple(_nodes(stmt, positional, name, usage)), values, origin=origin)
    if letter == "D":
        no_keys({"area", "m", "ic", "temp", "dtemp"})
        if len(positional) not in (3, 4) or (len(positional) > 2 and positional[2].kind != "word"):
            raise stmt.error(f"{name} needs 2 nodes and a model name, e.g. '{usage}'")
        values = {}
        if len(positional) == 4:
            values["area"] = _value(stmt, positional[3], f"{name} area", usage)
        elif "area" in keys:
            values["area"] = _value(stmt, keys["area"], f"{name} area", usage)
        for key in ("m", "temp", "dtemp"):  # parallel copies, instance temperature (used by junction diodes)
            if key in keys:
                values[key] = _value(stmt, keys[key], f"{name} {key}", usage)
        return Element(name, "D", tuple(_nodes(stmt, positional[:2], name, usage)), values,
                       model=positional[2].lower, origin=origin)
    if letter == "Q":
        no_keys({"area", "m", "ic", "temp", "dtemp"})
        words = positional
        if len(words) >= 5 and words[4].kind == "word" and _number(words[4].text) is None:
            n_nodes = 4
        else:
            n_nodes = 3
        if len(words) not in (n_nodes + 1, n_nodes + 2) or words[n_nodes].kind != "word" \
                or _number(words[n_nodes].text) is not None:
            raise stmt.error(f"{name} needs 3 or 4 nodes and a model name, e.g. '{usage}'")
        values = {}
        if len(words) == n_nodes + 2:
            values["area"] = _value(stmt, words[n_nodes + 1], f"{name} area", usage)
        elif "area" in keys:
            values["area"] = _value(stmt, keys["area"], f"{name} area", usage)
        for key in ("m", "temp", "dtemp"):  # parallel copies, instance temperature (°C) or offset
            if key in keys:
                values[key] = _value(stmt, keys[key], f"{name} {key}", usage)
        return Element(name, "Q", tuple(_nodes(stmt, words[:n_nodes], name, usage)), values,
                       model=words[n_nodes].lower, origin=origin)
    if letter in "MJ":
        return _parse_fet(stmt, name, letter, positional, pairs)
    if letter == "O":
        no_keys(set())
        if len(positional) != 5 or positional[4].kind != "word" or _number(positional[4].text) is not None:
            raise stmt.error(f"{name} needs 4 nodes and the name of an ltra model card, e.g. '{usage}'")
        return Element(name, "O", tuple(_nodes(stmt, positional[:4], name, usage)), {}, model=positional[4].lower,
                       origin=origin)
    if letter == "N":
        no_keys({"file"})
        if "file" not in keys or len(positional) < 1:
            raise stmt.error(f"{name} needs its port nodes (each port to ground) and file=, e.g. '{usage}'")
        path = _file_argument(stmt, keys["file"], name)
        m = re.search(r"\.s(\d+)p$", path.name.lower())
        if not m:
            raise stmt.error(f"{name}: file {path.name!r} is not a Touchstone file (.s1p, .s2p, ...); e.g. '{usage}'")
        if len(positional) not in (int(m.group(1)), int(m.group(1)) + 1):
            raise stmt.error(f"{name}: {path.name} has {int(m.group(1))} ports but {len(positional)} nodes are given "
                             f"({int(m.group(1))}, or {int(m.group(1)) + 1} with a common reference node last)")
        if not _is_file(path):
            raise stmt.error(f"{name}: no such Touchstone file {str(path)!r}")
        return Element(name, "N", tuple(_nodes(stmt, positional, name, usage)), {}, model=str(path), origin=origin)
    raise stmt.error(f"{name}: unknown element type {letter!r}")  # pragma: no cover - USAGE guards this


#: instance settings that are flags or text in SPICE (``off``, ``ic=``): read and left to the simulator
_FET_SKIPPED = frozenset({"ic", "off"})


def _parse_fet(stmt: _Statement, name: str, letter: str, positional: list[_Token],
               pairs: list[tuple[str, _Token]]) -> Element:
    """``M d g s b MODEL [name=value ...]`` or ``J d g s MODEL [area] [name=value ...]``: the instance values
    (``l w ad as pd ps nrd nrs m nf`` ... for a MOSFET, whatever its model level reads) are kept by name;
    the device model that reads them checks them."""
    usage = USAGE[letter]
    n_nodes = 4 if letter == "M" else 3
    words = [t for t in positional if not (t.kind == "word" and t.lower in _FET_SKIPPED)]
    if len(words) < n_nodes + 1 or words[n_nodes].kind != "word" or _number(words[n_nodes].text) is not None:
        raise stmt.error(f"{name} needs {n_nodes} nodes and a model name, e.g. '{usage}'")
    extra = words[n_nodes + 1:]
    values: dict[str, float | str] = {}
    if letter == "J" and len(extra) == 1:
        values["area"] = _value(stmt, extra[0], f"{name} area", usage)
    elif extra:
        raise stmt.error(f"{name}: unexpected {extra[0].text!r} after the model name; instance values go as "
                         f"name=value, e.g. '{usage}'")
    for key, tok in pairs:
        if key in _FET_SKIPPED:
            continue
        if not _IDENTIFIER.match(key):
            raise stmt.error(f"{name}: {key!r} is not an instance parameter name; e.g. '{usage}'")
        values[key] = _value(stmt, tok, f"{name} {key}", usage)
    return Element(name, letter, tuple(_nodes(stmt, words[:n_nodes], name, usage)), values,
                   model=words[n_nodes].lower, origin=stmt.origin)


_CONTROL_CALL = re.compile(r"(?<![A-Za-z_\d.])([vi])\s*\(\s*([^(),\s]+)\s*(?:,\s*([^(),\s]+)\s*)?\)", re.IGNORECASE)
_BEHAVIOURAL_HEAD = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+([IiVv])\s*=\s*(.*)$", re.DOTALL)


def _parse_behavioural(stmt: _Statement, name: str) -> Element:
    """``Bname n+ n- I={expr}`` or ``V={expr}`` (braces or quotes optional): a nonlinear device whose current
    (or voltage) is an expression of node voltages ``v(a)``, ``v(a,b)``, of currents ``i(Vname)`` of voltage
    sources, of parameters and of the functions in :data:`stabkit.circuit.expr.BEHAVIOURAL_FUNCTIONS`
    (``if(c,a,b)`` included). The controls become placeholders ``_v0 ...``/``_i0 ...`` and the controlling nodes
    extra element nodes, so subcircuit flattening maps them like any node."""
    usage = USAGE["B"]
    m = _BEHAVIOURAL_HEAD.match(stmt.text)
    if not m:
        raise stmt.error(f"{name} needs 2 nodes and I=expression or V=expression, e.g. '{usage}'")
    n_plus, n_minus, kind, text = m.group(2), m.group(3), m.group(4).lower(), m.group(5).strip()
    if text[:1] in "{'\"" and text[-1:] == {"{": "}", "'": "'", '"': '"'}[text[0]]:
        text = text[1:-1].strip()
    if re.search(r"\s[A-Za-z_]\w*\s*=\s*\S+\s*$", text) and not re.search(r"[<>!=]=\s*\S+\s*$", text):
        raise stmt.error(f"{name}: options after the expression (such as Rpar=, tc1=) are not supported; write a "
                         f"parallel R or C as its own element, e.g. '{usage}'")
    text = re.sub(r"(?<![A-Za-z_\d.])if\s*\(", "ifelse(", text, flags=re.IGNORECASE)
    nodes = [node_name(n_plus), node_name(n_minus)]
    pairs: dict[tuple[str, str], str] = {}
    currents: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        what, a, b = match.group(1).lower(), match.group(2), match.group(3)
        if what == "v":
            key = (node_name(a), node_name(b) if b else GROUND)
            if key not in pairs:
                pairs[key] = f"_v{len(pairs)}"
                nodes.extend(key)
            return pairs[key]
        if b:
            raise stmt.error(f"{name}: i({a},{b}): a current is named by one voltage source, e.g. i(vsense)")
        ref = a.lower()
        if ref not in currents:
            currents[ref] = f"_i{len(currents)}"
        return currents[ref]

    body = _CONTROL_CALL.sub(replace, text)
    if not body.strip():
        raise stmt.error(f"{name}: empty expression; e.g. '{usage}'")
    try:
        expr.parse_expression(body, behavioural=True)
    except ParameterError as exc:
        raise stmt.error(f"{name}: {exc}") from None
    return Element(name, "B", tuple(nodes), {}, refs=tuple(currents), origin=stmt.origin, expression=(kind, body))


def _scale(value: float | str, m: float | str, *, divide: bool) -> float | str:
    if isinstance(value, float) and isinstance(m, float):
        return value / m if divide else value * m
    op = "/" if divide else "*"
    return f"({value}){op}({m})"


def _parse_source(stmt: _Statement, name: str, letter: str):
    usage = USAGE[letter]
    tokens = _tokenize(stmt, split_parens=True)[1:]
    if len(tokens) < 2 or tokens[0].kind != "word" or tokens[1].kind != "word":
        raise stmt.error(f"{name} needs 2 nodes, e.g. '{usage}'")
    nodes = _nodes(stmt, tokens[:2], name, usage)
    values: dict[str, float | str] = {}
    rest = tokens[2:]
    i = 0
    skipping = False
    while i < len(rest):
        tok = rest[i]
        word = tok.lower if tok.kind == "word" else ""
        if word in ("dc", "ac"):
            skipping = False
            if i + 1 < len(rest) and rest[i + 1].kind == "eq":
                i += 1
            if i + 1 >= len(rest) or rest[i + 1].kind == "eq":
                raise stmt.error(f"{name}: {tok.text} needs a value, e.g. '{usage}'")
            values[word] = _value(stmt, rest[i + 1], f"{name} {word}", usage)
            i += 2
            if word == "ac" and i < len(rest) and rest[i].kind in ("word", "brace") \
                    and (rest[i].kind == "brace" or _number(rest[i].text) is not None):
                i += 1  # AC phase: irrelevant for stability
            continue
        if word in TRANSIENT_SPECS:
            skipping = True
            i += 1
            continue
        if skipping:
            i += 1
            continue
        if i == 0 and tok.kind in ("word", "brace", "quote"):
            values["dc"] = _value(stmt, tok, f"{name} value", usage)
            i += 1
            continue
        raise stmt.error(f"{name}: unexpected {tok.text!r}; expected DC value, AC magnitude [phase] or a transient "
                         f"spec such as SIN(...), e.g. '{usage}'")
    return Element(name, letter, tuple(nodes), values, origin=stmt.origin)


def _parse_instance(stmt: _Statement, name: str, tokens: list[_Token]) -> _Instance:
    usage = USAGE["X"]
    if not name[1:] or not name.isidentifier():
        raise stmt.error(f"instance name {name!r} may contain only letters, digits and _ "
                         "(it prefixes the names inside the subcircuit)")
    positional, pairs = _split_args(stmt, tokens, usage)
    if len(positional) < 1:
        raise stmt.error(f"{name} needs its nodes and a subcircuit name, e.g. '{usage}'")
    for tok in positional:
        if tok.kind != "word":
            raise stmt.error(f"{name}: {tok.text!r} is not a node or subcircuit name; e.g. '{usage}'")
    params: dict[str, float | str] = {}
    for key, tok in pairs:
        pname = _param_name(stmt, key, usage)
        params[pname] = _value(stmt, tok, f"{name} parameter {pname}", usage, bare_expression=True)
    nodes = [node_name(t.text) for t in positional[:-1]]
    return _Instance(name=name, nodes=nodes, subckt=positional[-1].lower, params=params, stmt=stmt)


# ---------------------------------------------------------------------------------------------- build
def _as_netlist_error(exc: Exception, stmt: _Statement) -> NetlistError:
    """Re-raise a CircuitError/ParameterError as a NetlistError at the place it names (or at ``stmt``)."""
    if isinstance(exc, NetlistError):
        return exc
    message = str(exc)
    m = _WHERE_PREFIX.match(message)
    if m and m.group("line").isdigit():
        return NetlistError(m.group("rest"), m.group("file"), int(m.group("line")))
    return NetlistError(message, stmt.file, stmt.line)


class SubcircuitLibrary(Mapping):
    """The ``.subckt`` definitions of a netlist, by lower-case name; a body is built when first asked for.

    ``library["bfr840l3rhesd"]`` is a :class:`Subcircuit` ready for :meth:`Circuit.add_instance`.
    A definition that uses elements outside the dialect (B sources ...) raises :class:`NetlistError`
    only when it is asked for.
    """

    def __init__(self, builder: "_Builder"):
        self._builder = builder

    def __getitem__(self, name: str) -> Subcircuit:
        key = name.lower()
        if key not in self._builder.definitions:
            raise KeyError(name)
        return self._builder.subcircuit(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._builder.definitions)

    def __len__(self) -> int:
        return len(self._builder.definitions)

    def __repr__(self) -> str:
        return f"SubcircuitLibrary({', '.join(self._builder.definitions)})"

    def parameters(self, name: str) -> dict[str, float]:
        """The parameters of definition ``name`` at their defaults (``.subckt`` line and ``.param`` cards inside),
        evaluated, without building its body: this works for definitions whose elements are outside the dialect,
        e.g. the 1N3716 tunnel diode written with B sources (``{'vp': 0.1, 'ip': 0.0047, ...}``)."""
        d = self._builder.definitions.get(name.lower())
        if d is None:
            raise KeyError(name)
        table: dict[str, float | str] = dict(d.defaults)
        for p in d.scope.params:
            table[p.name] = p.value
        try:
            return expr.resolve_all(table)
        except ParameterError as exc:
            raise d.stmt.error(f"subcircuit {d.name}: {exc}") from None

    def __deepcopy__(self, memo) -> "SubcircuitLibrary":
        return self  # read-only definitions: copies of a circuit share them (Circuit.copy stays cheap)


class _Builder:
    def __init__(self, definitions: dict[str, _Definition]):
        self.definitions = definitions
        self.built: dict[str, Subcircuit] = {}
        self.building: list[str] = []

    def subcircuit(self, key: str, stmt: _Statement | None) -> Subcircuit:
        if key in self.built:
            return self.built[key]
        d = self.definitions.get(key)
        if d is None:
            known = ", ".join(sorted(self.definitions)) or "none"
            assert stmt is not None
            raise stmt.error(f"no subcircuit named {key!r} (defined: {known}); expected '.subckt {key} ...' "
                             "somewhere in the netlist or an included file")
        if key in self.building:
            chain = " -> ".join(self.building[self.building.index(key):] + [key])
            where = stmt or d.stmt
            raise where.error(f"subcircuit {key} contains itself ({chain}); subcircuits cannot be recursive")
        self.building.append(key)
        try:
            body = Circuit(d.name)
            body.source = d.stmt.file
            with warnings.catch_warnings():
                # negative values are warned about once, when the instance is flattened into the top level
                warnings.simplefilter("ignore", StabkitWarning)
                self.fill(body, d.scope, defaults=d.defaults)
            sub = Subcircuit(name=d.name, ports=list(d.ports), defaults=dict(d.defaults), body=body,
                             origin=d.stmt.origin)
        finally:
            self.building.pop()
        self.built[key] = sub
        return sub

    def fill(self, circuit: Circuit, scope: _Scope, *, defaults: Mapping[str, float | str] | None = None,
             param_origins: dict[str, _Statement] | None = None) -> None:
        for p in scope.params:
            if defaults and p.name in defaults:
                raise p.stmt.error(f".param {p.name} repeats a parameter of the subcircuit line; give it there only")
            try:
                circuit.set_param(p.name, p.value)
            except (CircuitError, ValueError) as exc:
                raise _as_netlist_error(exc, p.stmt) from None
            if param_origins is not None:
                param_origins[p.name] = p.stmt
        for m in scope.models:
            key = m.name.lower()
            if key in circuit.models:
                first = circuit.models[key].origin
                raise m.stmt.error(f".model {m.name} is defined twice in the same scope"
                                   + (f" (first at {first[0]}:{first[1]})" if first else ""))
            circuit.models[key] = Model(name=m.name, type=m.type, params=dict(m.params), origin=m.stmt.origin)
        for item in scope.items:
            if isinstance(item, _Unsupported):
                raise item.stmt.error(item.message)
            if isinstance(item, _Instance):
                sub = self.subcircuit(item.subckt, item.stmt)
                before = set(circuit.params)
                try:
                    circuit.add_instance(item.name, sub, item.nodes, item.params, origin=item.stmt.origin)
                except (CircuitError, ValueError) as exc:
                    raise _as_netlist_error(exc, item.stmt) from None
                if param_origins is not None:
                    definition = self.definitions[item.subckt]
                    own = {p.name: p.stmt for p in definition.scope.params}
                    prefix = item.name.lower() + "."
                    for key in set(circuit.params) - before:
                        local = key[len(prefix):]
                        if local in item.params or local not in definition.defaults and local not in own:
                            param_origins[key] = item.stmt  # the value given on the X line (or nested deeper)
                        else:  # a default of the .subckt line or a .param inside the definition
                            param_origins[key] = own.get(local, definition.stmt)
                continue
            element: Element = item
            try:
                if element.kind == "N":
                    added = circuit.add_nport(element.name, element.nodes, Path(element.model))
                    added.origin = element.origin
                else:
                    values = _ltra_values(circuit, element) if element.kind == "O" else dict(element.values)
                    circuit.add(Element(name=element.name, kind=element.kind, nodes=element.nodes,
                                        values=values, refs=element.refs, model=element.model,
                                        origin=element.origin, expression=element.expression))
            except (CircuitError, ValueError) as exc:
                stmt = _Statement("", element.origin[0], element.origin[1], Path("."))
                raise _as_netlist_error(exc, stmt) from None

    def build_top(self, top: _Scope, title: str) -> Circuit:
        circuit = Circuit(title)
        origins: dict[str, _Statement] = {}
        self.fill(circuit, top, param_origins=origins)
        _check_elements(circuit, _check_parameters(circuit, origins))
        circuit.subcircuits = SubcircuitLibrary(self)
        return circuit


def _ltra_values(circuit: Circuit, element: Element) -> dict[str, float | str]:
    """The lossy line's ``r l g c len`` from its ``ltra`` card (in the same scope as the ``O`` line)."""
    where = f"{element.where()}: {element.name}"
    model = circuit.models.get((element.model or "").lower())
    if model is None:
        raise CircuitError(f"{where} uses model {element.model!r}, but no .model card of that name exists in its "
                           f"scope; expected e.g. '.model {element.model} ltra(r=12 l=9n g=0 c=0.47p len=16)'")
    if model.type != "ltra":
        raise CircuitError(f"{where}: model {model.name} is of type {model.type!r}; a lossy line (O) needs an ltra card")
    unknown = sorted(set(model.params) - set(LTRA_VALUES) - LTRA_TRANSIENT - LTRA_FLAGS)
    if unknown:
        raise CircuitError(f"{where}: ltra card {model.name} has an unknown parameter {unknown[0]}; it reads "
                           f"{', '.join(LTRA_VALUES)} (and ngspice's transient settings)")
    if "len" not in model.params:
        raise CircuitError(f"{where}: ltra card {model.name} needs len= (the line's length in metres; r, l, g, c "
                           "are per metre)")
    values = {k: model.params[k] for k in LTRA_VALUES if k in model.params}
    for k, v in values.items():
        if isinstance(v, str) and not v.strip():
            raise CircuitError(f"{where}: ltra card {model.name}: {k} has no value")
    return values


def _check_parameters(circuit: Circuit, origins: Mapping[str, _Statement]) -> dict[str, float]:
    """Evaluate every parameter once; unknown names, cycles and bad arithmetic become NetlistErrors."""
    params = circuit.params

    def fail(name: str, message: str) -> NetlistError:
        stmt = origins.get(name)
        return stmt.error(message) if stmt else NetlistError(message)

    deps: dict[str, set[str]] = {}
    for name, raw in params.items():
        if isinstance(raw, str):
            try:
                used = expr.names_in(raw)
            except ParameterError as exc:
                raise fail(name, f"parameter {name}: {exc}") from None
            unknown = sorted(used - set(params))
            if unknown:
                raise fail(name, f"parameter {name} = {{{raw}}} refers to unknown parameter {unknown[0]!r}; "
                                 f"define it with '.param {unknown[0]}=...'")
            deps[name] = used
        else:
            deps[name] = set()
    values: dict[str, float] = {}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    for start in params:
        if state.get(start) == 2:
            continue
        # iterative depth-first walk: (name, iterator over its dependencies)
        path: list[str] = [start]
        stack = [iter(sorted(deps[start]))]
        state[start] = 1
        while stack:
            name = path[-1]
            nxt = next(stack[-1], None)
            if nxt is not None:
                if state.get(nxt) == 1:
                    cycle = " -> ".join(path[path.index(nxt):] + [nxt])
                    raise fail(nxt, f"parameters refer to each other in a cycle: {cycle}")
                if state.get(nxt) != 2:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(sorted(deps[nxt])))
                continue
            raw = params[name]
            try:
                values[name] = expr.evaluate(raw, values) if isinstance(raw, str) else float(raw)
            except ParameterError as exc:
                raise fail(name, f"parameter {name}: {exc}") from None
            state[name] = 2
            path.pop()
            stack.pop()
    return values


def _check_elements(circuit: Circuit, resolved: Mapping[str, float]) -> None:
    """Element expressions name known parameters and evaluate; F/H/K references and model cards exist."""
    for e in circuit:
        file, line = e.origin if e.origin else (None, None)
        for key, raw in e.values.items():
            if not isinstance(raw, str):
                continue
            unknown = sorted(expr.names_in(raw) - set(resolved))
            if unknown:
                raise NetlistError(f"{e.name}: {{{raw}}} refers to unknown parameter {unknown[0]!r}; "
                                   f"define it with '.param {unknown[0]}=...'", file, line)
            try:
                value = expr.evaluate(raw, resolved)
            except ParameterError as exc:
                raise NetlistError(f"{e.name}: {exc}", file, line) from None
            if e.kind in "RLC" and key == "value" and value == 0:
                raise NetlistError(f"{e.name}: {{{raw}}} evaluates to 0; use a wire or a 0 V source", file, line)
            if e.kind == "K" and abs(value) > 1:
                raise NetlistError(f"{e.name}: coupling {{{raw}}} = {value:g}; expected |k| <= 1", file, line)
            if e.kind == "T" and value <= 0:
                raise NetlistError(f"{e.name}: {key}={{{raw}}} = {value:g}; expected a positive value", file, line)
        if e.kind in ("F", "H"):
            ref = e.refs[0]
            if ref not in circuit or circuit.element(ref).kind != "V":
                raise NetlistError(f"{e.name} is controlled by {ref!r}, which must be a voltage source (V) in the "
                                   f"netlist; e.g. '{USAGE[e.kind]}' with 'Vsense a b 0'", file, line)
        if e.kind == "K":
            if len(set(e.refs)) != 2:
                raise NetlistError(f"{e.name} couples {e.refs[0]!r} with itself; expected two different inductors, "
                                   f"e.g. '{USAGE['K']}'", file, line)
            for ref in e.refs:
                if ref not in circuit or circuit.element(ref).kind != "L":
                    raise NetlistError(f"{e.name} couples {ref!r}, which is not an inductor in the netlist; "
                                       f"e.g. '{USAGE['K']}'", file, line)
        if e.kind == "B":
            _check_behavioural(circuit, e, resolved, file, line)
        if e.kind in ("M", "J") and not circuit.model_cards(e.model or ""):
            raise NetlistError(f"{e.name} uses model {e.model!r}, but there is no '.model {e.model} ...' card "
                               f"(nor binned cards '.model {e.model}.1 ...')", file, line)
        if e.kind in ("D", "Q") and (e.model or "").lower() not in circuit.models:
            raise NetlistError(f"{e.name} uses model {e.model!r}, but there is no '.model {e.model} ...' card",
                               file, line)


def _check_behavioural(circuit: Circuit, e: Element, resolved: Mapping[str, float], file, line) -> None:
    """A behavioural source names known parameters and, in ``i(...)``, voltage sources of the circuit."""
    _, text = e.expression
    unknown = sorted(n for n in expr.names_in(text, behavioural=True) - set(resolved)
                     if not re.fullmatch(r"_[vi]\d+", n))
    if unknown:
        raise NetlistError(f"{e.name}: {{{text}}} refers to unknown parameter {unknown[0]!r}; define it with "
                           f"'.param {unknown[0]}=...'", file, line)
    for ref in e.refs:
        if ref not in circuit or circuit.element(ref).kind != "V":
            raise NetlistError(f"{e.name}: i({ref}) must name a voltage source (V) of the netlist", file, line)
