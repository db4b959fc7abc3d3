"""stabkit: stability of linear(ized) circuits — natural frequencies, NDF/Nyquist, admissible loads.

The public names below are imported on first use (module ``__getattr__``), so ``import stabkit`` and
``stabkit --help`` do not pay for numpy, scipy and networkx until an analysis needs them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name → module that defines it
_LAZY = {
    "MNASystem": "stabkit.analysis.mna", "assemble": "stabkit.analysis.mna",
    "NDFResult": "stabkit.analysis.ndf", "ndf": "stabkit.analysis.ndf",
    "PoleResult": "stabkit.analysis.poles", "poles": "stabkit.analysis.poles",
    "TwoPortResult": "stabkit.analysis.twoport", "two_port": "stabkit.analysis.twoport",
    "ImpedanceResult": "stabkit.analysis.ports", "zin": "stabkit.analysis.ports",
    "Circuit": "stabkit.circuit.graph", "Subcircuit": "stabkit.circuit.graph",
    "StabkitError": "stabkit.errors", "NetlistError": "stabkit.errors", "CircuitError": "stabkit.errors",
    "ParameterError": "stabkit.errors", "DistributedCircuitError": "stabkit.errors",
    "StabkitWarning": "stabkit.errors", "NumericalWarning": "stabkit.errors",
}

__all__ = [
    "Circuit", "Subcircuit", "assemble", "MNASystem", "poles", "PoleResult", "zin", "ImpedanceResult",
    "ndf", "NDFResult", "two_port", "TwoPortResult",
    "StabkitError", "NetlistError", "CircuitError", "ParameterError", "DistributedCircuitError",
    "StabkitWarning", "NumericalWarning",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stabkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
