"""Domain exceptions and warnings.

Every exception subclasses a built-in so callers can catch it generically; the CLI turns any
:class:`StabkitError` into one line on stderr and exit code 2.
"""

from __future__ import annotations


class StabkitError(Exception):
    """Base class of every error stabkit raises on purpose."""


class NetlistError(StabkitError, ValueError):
    """A netlist (or case file) could not be read. The message names file, line and what was expected."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        self.reason = message
        where = ""
        if file is not None and line is not None:
            where = f"{file}:{line}: "
        elif file is not None:
            where = f"{file}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(f"{where}{message}")


class CircuitError(StabkitError, ValueError):
    """The circuit is structurally wrong (floating node, loop of voltage sources, unknown parameter ...)."""


class ParameterError(CircuitError, KeyError):
    """A parameter is unknown or its expression cannot be evaluated."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DistributedCircuitError(CircuitError):
    """Exact natural frequencies were asked of a circuit with distributed elements (lines, N-ports)."""


class StabkitWarning(UserWarning):
    """Something legal but suspicious (a negative resistor, an unsettled NDF tail ...)."""


class NumericalWarning(StabkitWarning):
    """Numerical doubt about a result (non-integer encirclement count, unsettled tail ...)."""
