"""Small-signal models of NDR devices at an operating point, as ordinary graph elements.

At a bias point the nonlinear ``D`` element is replaced, in a copy of the circuit, by linear elements:

* N-type (voltage-controlled): ``R = 1/g`` (``g = di/dv``; negative in the NDR region, omitted where
  ``g = 0``) in parallel with the junction capacitance ``C = cd`` (omitted when 0). Element names
  ``<D>.rd`` and ``<D>.cd``.
* S-type (current-controlled): ``R = r = dv/di`` in series with the lead inductance ``L = ls`` through an
  inner node ``<d>.x`` (``<D>.ls``, ``<D>.rd``), plus ``C = cp`` across the terminals (``<D>.cp``).

The result is a linear :class:`~stabkit.circuit.graph.Circuit`, so :func:`stabkit.analysis.poles.poles`,
the NDF and the port analyses apply unchanged; a negative ``R`` is just an active element there.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stabkit.circuit.devices import Device, device_from_model
from stabkit.circuit.elements import Element
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError, StabkitWarning


@dataclass
class SmallSignal:
    """Linearized device: ``control`` ``"N"`` (``g`` ∥ ``c``) or ``"S"`` (``r`` + ``ls`` in series, ``cp`` across)."""

    control: str
    g: float = 0.0  # S, N-type
    r: float = 0.0  # Ω, S-type
    c: float = 0.0  # F, N-type junction capacitance
    ls: float = 0.0  # H, S-type series inductance
    cp: float = 0.0  # F, S-type parallel capacitance

    @property
    def resistance(self) -> float:
        """Differential resistance ``dv/di`` (Ω; ±inf where ``g = 0``)."""
        if self.control == "S":
            return self.r
        return 1.0 / self.g if self.g != 0 else float("inf")

    @property
    def negative(self) -> bool:
        """True in the NDR region."""
        return (self.g < 0) if self.control == "N" else (self.r < 0)

    def impedance(self, s):
        """Small-signal impedance ``Z(s)`` of the device alone (s in rad/s, complex)."""
        if self.control == "N":
            return 1.0 / (self.g + s * self.c)
        z_series = self.r + s * self.ls
        return z_series / (1.0 + s * self.cp * z_series)

    def to_dict(self) -> dict:
        if self.control == "N":
            r = self.resistance
            return {"type": "N", "g": self.g, "r": r if np.isfinite(r) else None, "c": self.c}
        return {"type": "S", "r": self.r, "ls": self.ls, "cp": self.cp}


def small_signal(device: Device, v: float, i: float) -> SmallSignal:
    """The device's small-signal model at the operating point ``(v, i)``."""
    if device.control == "N":
        return SmallSignal("N", g=float(device.slope(v)), c=float(getattr(device, "capacitance", 0.0)))
    return SmallSignal("S", r=float(device.slope(i)), ls=float(getattr(device, "ls", 0.0)),
                       cp=float(getattr(device, "cp", 0.0)))


def _model_params(circuit: Circuit, element: Element, params: Mapping[str, float]
                  ) -> tuple[str, dict[str, float | str], str | None]:
    model, values = circuit.model_values(element, params, text_keys=("file",))  # a table's CSV path stays text
    # a table file is found relative to the top-level netlist's folder (model origins carry only a file name)
    base_dir = str(Path(circuit.source).parent) if circuit.source else None
    return model.type, values, base_dir


def circuit_devices(circuit: Circuit, params: Mapping[str, float] | None = None) -> dict[str, Device]:
    """The NDR devices (``D`` elements) of ``circuit`` by element name, built from their model cards."""
    resolved = circuit.resolve_params(params)
    out: dict[str, Device] = {}
    for e in circuit:
        if e.kind == "Q":
            raise CircuitError(f"{e.where()}: {e.describe()}: the NDR-device solver handles D elements only; "
                               "circuits with transistors go through stabkit.analysis.bjt (bias_point, small_signal)")
        if e.kind != "D":
            continue
        mtype, values, base_dir = _model_params(circuit, e, resolved)
        area = circuit.values(e, resolved).get("area", 1.0)
        try:
            out[e.name] = device_from_model(mtype, values, area=area, name=e.model or "?", base_dir=base_dir)
        except CircuitError as exc:
            raise CircuitError(f"{e.where()}: {e.name}: {exc}") from None
    return out


def without_devices(circuit: Circuit, names: set[str] | None = None) -> Circuit:
    """A copy of ``circuit`` without its ``D`` elements (or only those in ``names``); everything else kept."""
    drop = {e.key for e in circuit if e.kind == "D"} if names is None else {n.lower() for n in names}
    return circuit.without(drop)


def linearize(circuit: Circuit, bias: Mapping[str, tuple[float, float]], params: Mapping[str, float] | None = None,
              devices: Mapping[str, Device] | None = None) -> Circuit:
    """Copy of ``circuit`` with every ``D`` element replaced by its small-signal model at ``bias``
    (element name → ``(v, i)`` across/through the device, anode to cathode).

    Negative resistances created here are intended (NDR): the usual negative-value warning is not raised."""
    devices = dict(devices) if devices is not None else circuit_devices(circuit, params)
    bias = {k.lower(): v for k, v in bias.items()}
    missing = [name for name in devices if name.lower() not in bias]
    if missing:
        raise CircuitError(f"linearize: no bias point given for {', '.join(missing)}")
    out = without_devices(circuit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        for e in circuit:
            if e.kind != "D":
                continue
            dev = devices[e.name]
            v, i = bias[e.key]
            model = small_signal(dev, v, i)
            anode, cathode = e.nodes
            if model.control == "N":
                if model.g != 0:
                    out.add_resistor(f"{e.name}.rd", anode, cathode, 1.0 / model.g)
                if model.c > 0:
                    out.add_capacitor(f"{e.name}.cd", anode, cathode, model.c)
                if model.g == 0 and model.c <= 0:
                    raise CircuitError(f"{e.where()}: {e.name} is an open circuit at this bias (g = 0, no capacitance)")
            else:
                inner = anode
                if model.ls > 0:
                    inner = f"{e.name}.x"
                    out.add_inductor(f"{e.name}.ls", anode, inner, model.ls)
                if model.r != 0:
                    out.add_resistor(f"{e.name}.rd", inner, cathode, model.r)
                else:
                    out.add_vsource(f"{e.name}.short", inner, cathode, 0.0)
                if model.cp > 0:
                    out.add_capacitor(f"{e.name}.cp", anode, cathode, model.cp)
    return out
