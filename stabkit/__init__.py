"""stabkit: stability of linear(ized) circuits — natural frequencies, NDF/Nyquist, admissible loads."""

__version__ = "0.1.0"

from stabkit.analysis.mna import MNASystem, assemble  # noqa: E402
from stabkit.analysis.ndf import NDFResult, ndf  # noqa: E402
from stabkit.analysis.poles import PoleResult, poles  # noqa: E402
from stabkit.analysis.twoport import TwoPortResult, two_port  # noqa: E402
from stabkit.analysis.ports import ImpedanceResult, zin  # noqa: E402
from stabkit.circuit.graph import Circuit, Subcircuit  # noqa: E402
from stabkit.errors import (  # noqa: E402
    CircuitError, DistributedCircuitError, NetlistError, NumericalWarning, ParameterError, StabkitError, StabkitWarning,
)

__all__ = [
    "Circuit", "Subcircuit", "assemble", "MNASystem", "poles", "PoleResult", "zin", "ImpedanceResult",
    "ndf", "NDFResult", "two_port", "TwoPortResult",
    "StabkitError", "NetlistError", "CircuitError", "ParameterError", "DistributedCircuitError",
    "StabkitWarning", "NumericalWarning",
]
