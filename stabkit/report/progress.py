"""A small progress bar for anything that takes more than a moment (no dependency).

It draws on stderr only when stderr is a terminal and nobody asked for quiet output (``--json`` calls
:func:`set_quiet`; so does the environment variable ``STABKIT_NO_PROGRESS=1``), and only once the work has
run for :data:`DELAY` seconds, so quick steps never flicker. Otherwise it does nothing, and code can use it
unconditionally::

    from stabkit.report.progress import progress

    for value in progress(values, label="sweeping lext"):
        ...

or, when the work is not an iterable::

    with Progress(total=len(steps), label="report") as bar:
        for name, step in steps:
            bar.update(status=name)   # shown after the count
            step()

Bars nest: a bar opened while another is drawn shares its line (``report [###...] 4/9 expectations ›
lext [##......] 12/40``), so a report's sweeps show inside the report's own bar. Bars are transient: closing
the outermost one erases its line, so nothing is left between the lines a command prints.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

__all__ = ["Progress", "progress", "set_quiet", "is_quiet", "render_bar", "DELAY"]

T = TypeVar("T")

_QUIET = False
#: the bar is redrawn at most this often (seconds)
MIN_INTERVAL = 0.1
#: nothing is drawn before the work has run this long (seconds; STABKIT_PROGRESS_DELAY overrides it)
DELAY = 0.5
BAR_WIDTH = 24
#: a bar nested in another is this wide
NESTED_WIDTH = 12
#: the bars drawn now, outermost first
_ACTIVE: list["Progress"] = []


def set_quiet(quiet: bool = True) -> bool:
    """Silence (or re-enable) every progress bar of this process (the CLI calls it for ``--json``); returns the
    previous setting so a caller can restore it."""
    global _QUIET
    previous, _QUIET = _QUIET, bool(quiet)
    return previous


def is_quiet() -> bool:
    """True under :func:`set_quiet` or when ``STABKIT_NO_PROGRESS`` is set to anything but ``0``."""
    return _QUIET or os.environ.get("STABKIT_NO_PROGRESS", "") not in ("", "0")


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def render_bar(done: int, total: int | None, label: str = "", elapsed: float = 0.0, width: int = BAR_WIDTH,
               status: str = "") -> str:
    """The text of one bar, e.g. ``'lext [#######.......]  12/40  3.1 s'`` (a pure function, for tests).

    Without ``total`` the bar is a count: ``'lext 57 steps  3.1 s'``. ``status`` follows the numbers."""
    prefix = f"{label} " if label else ""
    suffix = f"  {status}" if status else ""
    if total:
        frac = min(max(done / total, 0.0), 1.0)
        filled = int(round(frac * width))
        return (f"{prefix}[{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total}  "
                f"{elapsed:.1f} s{suffix}")
    return f"{prefix}{done} steps  {elapsed:.1f} s{suffix}"


class Progress:
    """A progress bar on ``stream`` (default stderr).

    ``enabled=None`` means: only on a terminal, and not quiet. ``delay`` (seconds) holds the first drawing
    back, so work that ends sooner leaves no trace."""

    def __init__(self, total: int | None = None, label: str = "", *, stream: TextIO | None = None,
                 enabled: bool | None = None, delay: float = DELAY):
        self.total = total
        self.label = label
        self.status = ""
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = (_is_tty(self.stream) and not is_quiet()) if enabled is None else bool(enabled)
        self.delay = float(os.environ.get("STABKIT_PROGRESS_DELAY", delay))
        self.done = 0
        self._start = time.monotonic()
        self._last_draw = -1.0
        self._open = False
        if self.enabled:
            _ACTIVE.append(self)
            self._open = True

    # ------------------------------------------------------------------ text
    def text(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        nested = bool(_ACTIVE) and _ACTIVE[0] is not self
        return render_bar(self.done, self.total, self.label, now - self._start,
                          NESTED_WIDTH if nested else BAR_WIDTH, self.status)

    # ------------------------------------------------------------------ drawing
    def update(self, steps: int = 1, status: str | None = None) -> None:
        """Count ``steps`` more done; ``status`` (a few words) replaces the text after the count."""
        self.done += steps
        if status is not None:
            self.status = status
        if not self._open:
            return
        now = time.monotonic()
        root = _ACTIVE[0] if _ACTIVE else self
        if now - root._start < root.delay:
            return
        finished = self.total is not None and self.done >= self.total
        if now - self._last_draw >= MIN_INTERVAL or status is not None or finished:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        bars = [b for b in _ACTIVE if b.stream is self.stream] or [self]
        line = " › ".join(b.text(now) for b in bars)
        columns = shutil.get_terminal_size((100, 20)).columns - 1
        if len(line) > columns:
            line = line[: max(columns - 1, 0)] + "…"
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        for b in bars:
            b._last_draw = now
        _Drawn.on = True

    def close(self) -> None:
        """Leave the bar. The outermost bar erases its line; a nested one hands the line back to its parent."""
        if not self._open:
            return
        self._open = False
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        if not _Drawn.on:
            return
        if _ACTIVE:
            _ACTIVE[-1]._draw(time.monotonic())
        else:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            _Drawn.on = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Drawn:
    """Whether the current line holds a bar (so closing must erase it)."""

    on = False


def progress(iterable: Iterable[T], total: int | None = None, label: str = "", *, stream: TextIO | None = None,
             enabled: bool | None = None, delay: float = DELAY) -> Iterator[T]:
    """Yield from ``iterable`` while drawing a bar (when enabled; see :class:`Progress`)."""
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = Progress(total=total, label=label, stream=stream, enabled=enabled, delay=delay)
    try:
        for item in iterable:
            yield item
            bar.update()
    finally:
        bar.close()
