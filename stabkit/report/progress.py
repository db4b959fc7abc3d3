"""A tiny progress bar for long sweeps (no dependency).

It draws on stderr only when stderr is a terminal and nobody asked for quiet output (``--json`` sets
:func:`set_quiet`; so does the environment variable ``STABKIT_NO_PROGRESS=1``). Otherwise it does
nothing, so sweep code can use it unconditionally::

    from stabkit.report.progress import progress

    for value in progress(values, label="sweeping lext"):
        ...

or, when the number of steps is not an iterable::

    with Progress(total=len(values), label="lext") as bar:
        for v in values:
            ...
            bar.update()
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")

_QUIET = False
#: the bar is redrawn at most this often (seconds)
MIN_INTERVAL = 0.1
BAR_WIDTH = 28


def set_quiet(quiet: bool = True) -> None:
    """Silence (or re-enable) every progress bar of this process (the CLI calls it for ``--json``)."""
    global _QUIET
    _QUIET = bool(quiet)


def is_quiet() -> bool:
    return _QUIET or os.environ.get("STABKIT_NO_PROGRESS", "") not in ("", "0")


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def render_bar(done: int, total: int | None, label: str = "", elapsed: float = 0.0, width: int = BAR_WIDTH) -> str:
    """The text of one bar, e.g. ``'lext [#######.......]  12/40  3.1 s'`` (pure function, for tests)."""
    prefix = f"{label} " if label else ""
    if total:
        frac = min(max(done / total, 0.0), 1.0)
        filled = int(round(frac * width))
        return f"{prefix}[{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total}  {elapsed:.1f} s"
    return f"{prefix}{done} steps  {elapsed:.1f} s"


class Progress:
    """A progress bar on ``stream`` (default stderr). ``enabled=None`` means: only on a terminal, and not quiet."""

    def __init__(self, total: int | None = None, label: str = "", *, stream: TextIO | None = None,
                 enabled: bool | None = None):
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = (_is_tty(self.stream) and not is_quiet()) if enabled is None else bool(enabled)
        self.done = 0
        self._start = time.monotonic()
        self._last_draw = -1.0
        self._drawn = False

    def update(self, steps: int = 1) -> None:
        self.done += steps
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last_draw >= MIN_INTERVAL or (self.total is not None and self.done >= self.total):
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        self.stream.write("\r" + render_bar(self.done, self.total, self.label, now - self._start))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Finish the line (erase nothing: the final count stays visible)."""
        if self.enabled and self._drawn:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(iterable: Iterable[T], total: int | None = None, label: str = "", *, stream: TextIO | None = None,
             enabled: bool | None = None) -> Iterator[T]:
    """Yield from ``iterable`` while drawing a bar (when enabled; see :class:`Progress`)."""
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = Progress(total=total, label=label, stream=stream, enabled=enabled)
    try:
        for item in iterable:
            yield item
            bar.update()
    finally:
        bar.close()
