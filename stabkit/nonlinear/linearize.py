"""One linearizer: every nonlinear device replaced by its small-signal model at an operating point.

At the operating point each device's outputs have derivatives ``G = ∂f/∂x`` and ``C = ∂q/∂x`` with respect to its
controls (:mod:`stabkit.nonlinear.devices`). :func:`linearize` writes them, in a copy of the circuit, as ordinary
elements named ``<device>.<label>`` (labels chosen by the device: ``rd``/``cd`` of a tunnel diode, ``rpi``, ``gm``,
``cx`` ... of a transistor):

=================================  ===========================================================================
current output ``p → m``            controlled by ``v(p, m)`` itself: ``R = 1/G`` and ``C`` between ``p`` and
                                    ``m`` (negative values are active elements: a negative ``R``, a VCCS with a
                                    negative transcapacitance); by another voltage: a VCCS ``G + s·C``; by a
                                    voltage source's current: a CCCS
voltage output ``p → m``            a series chain: its own current gives ``L = C`` and ``R = G`` (a 0 V short
                                    when both vanish), other voltages a VCVS, source currents a CCVS
fixed series resistances            resistors (``rs``, ``rc``, ``re``)
=================================  ===========================================================================

The result is a linear :class:`~stabkit.circuit.graph.Circuit`: poles, the NDF, port impedances and load sweeps
apply unchanged. :class:`SmallSignal` is the one-port view of a two-terminal NDR device (``g ∥ c`` or
``r + ls`` with ``cp`` across) that the negative-resistance relations use.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError, StabkitWarning
from stabkit.nonlinear.devices import NonlinearDevice, NTypeDevice, STypeDevice, nonlinear_elements

__all__ = ["SmallSignal", "two_terminal_small_signal", "linearize", "small_signal_circuit", "is_nonlinear"]


@dataclass
class SmallSignal:
    """Linearized two-terminal NDR device: ``control`` ``"N"`` (``g`` ∥ ``c``) or ``"S"`` (``r`` + ``ls`` in
    series, ``cp`` across)."""

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


def two_terminal_small_signal(device: NonlinearDevice, x) -> SmallSignal:
    """The one-port small-signal model of an NDR device at control values ``x``."""
    ev = device.evaluate(np.atleast_2d(np.asarray(x, dtype=float)))
    if isinstance(device, NTypeDevice):
        return SmallSignal("N", g=float(ev.df[0, 0, 0]), c=float(ev.dq[0, 0, 0]))
    if isinstance(device, STypeDevice):
        return SmallSignal("S", r=float(ev.df[0, 0, 0]), ls=float(ev.dq[0, 0, 0]), cp=float(ev.dq[0, 1, 1]))
    raise CircuitError(f"{device.name}: not a two-terminal NDR device")


def is_nonlinear(circuit: Circuit) -> bool:
    """True when the circuit holds ``D``, ``Q`` or ``B`` elements (it needs an operating point first)."""
    return bool(nonlinear_elements(circuit))


def _controls_from_bias(device: NonlinearDevice, bias: tuple[float, float]) -> np.ndarray:
    v, i = bias
    if isinstance(device, NTypeDevice):
        return np.array([v])
    if isinstance(device, STypeDevice):
        return np.array([i, v])
    raise CircuitError(f"linearize: {device.name} needs a full operating point (DCPoint), not (v, i)")


def linearize(circuit: Circuit, point, params: Mapping[str, float] | None = None) -> Circuit:
    """A copy of ``circuit`` with every nonlinear device replaced by its small-signal model.

    Parameters
    ----------
    circuit : Circuit
        The circuit the operating point was solved for.
    point : DCPoint or mapping
        The operating point (:func:`stabkit.nonlinear.dc.dc_point`, :func:`~stabkit.nonlinear.dc.dc_points`), or,
        for NDR two-terminal devices only, ``{name: (v, i)}`` across/through each device (anode to cathode).
    params : mapping, optional
        Overrides used to build the devices when ``point`` is a mapping.

    Returns
    -------
    Circuit
        Linear. Negative resistances created here are intended (NDR): no negative-value warning is raised.
    """
    from stabkit.nonlinear.dc import DCPoint

    if isinstance(point, DCPoint):
        devices = point.problem.devices
        states = [point.controls(k) for k in range(len(devices))]
    else:
        from stabkit.nonlinear.devices import circuit_devices

        devices = circuit_devices(circuit, circuit.resolve_params(params))
        bias = {k.lower(): v for k, v in dict(point).items()}
        missing = [d.name for d in devices if d.name.lower() not in bias]
        if missing:
            raise CircuitError(f"linearize: no bias point given for {', '.join(missing)}")
        states = [_controls_from_bias(d, bias[d.name.lower()]) for d in devices]
    known = {d.name.lower() for d in devices}
    missing = [e.name for e in nonlinear_elements(circuit) if e.key not in known]
    if missing:
        raise CircuitError(f"linearize: no operating point for {', '.join(missing)} (computed for another circuit?)")
    out = circuit.without(known)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        for dev, x in zip(devices, states):
            _stamp_device(out, dev, x)
    return out


def _stamp_device(out: Circuit, dev: NonlinearDevice, x: np.ndarray) -> None:
    ev = dev.evaluate(np.atleast_2d(x))
    g_mat, c_mat = ev.df[0], ev.dq[0]
    name = dev.name
    for label, a, b, ohms in dev.resistors:
        out.add_resistor(f"{name}.{label}", a, b, ohms)
    for o, output in enumerate(dev.outputs):
        if output.kind == "i":
            for c, ctrl in enumerate(dev.controls):
                g, cap = float(g_mat[o, c]), float(c_mat[o, c])
                if g == 0.0 and cap == 0.0:
                    continue
                glabel, clabel = f"{name}.{dev.label(o, c, 0)}", f"{name}.{dev.label(o, c, 1)}"
                if ctrl[0] == "i":
                    if cap:
                        raise CircuitError(f"{name}: a charge controlled by a current cannot be linearized here")
                    out.add_cccs(glabel, output.p, output.m, ctrl[1], g)
                    continue
                pair = (ctrl[1], ctrl[2])
                sign = 1.0 if pair == (output.p, output.m) else (-1.0 if pair == (output.m, output.p) else 0.0)
                if sign and output.p != output.m:
                    g, cap = sign * g, sign * cap
                    if g:
                        out.add_resistor(glabel, output.p, output.m, 1.0 / g)
                    if cap > 0:
                        out.add_capacitor(clabel, output.p, output.m, cap)
                    elif cap < 0:
                        out.add_vccs(clabel, output.p, output.m, output.p, output.m, 0.0, transcapacitance=cap)
                elif output.p != output.m:
                    out.add_vccs(glabel if g else clabel, output.p, output.m, pair[0], pair[1], g,
                                 transcapacitance=cap or None)
        else:
            _stamp_voltage_output(out, dev, o, g_mat[o], c_mat[o])
    if isinstance(dev, NTypeDevice) and g_mat[0, 0] == 0 and c_mat[0, 0] <= 0:
        where = dev.element.where() if dev.element is not None else name
        raise CircuitError(f"{where}: {name} is an open circuit at this bias (g = 0, no capacitance)")


def _stamp_voltage_output(out: Circuit, dev: NonlinearDevice, o: int, g_row, c_row) -> None:
    output = dev.outputs[o]
    name = dev.name
    terms = []  # (kind, label, value, extra)
    for c, ctrl in enumerate(dev.controls):
        g, cap = float(g_row[c]), float(c_row[c])
        if g == 0.0 and cap == 0.0:
            continue
        if ctrl[0] == "i" and ctrl[1] == output.branch:
            if cap:
                terms.append(("L", dev.label(o, c, 1), cap, None))
            if g:
                terms.append(("R", dev.label(o, c, 0), g, None))
        elif cap:
            raise CircuitError(f"{name}: a flux controlled by another quantity cannot be linearized here")
        elif ctrl[0] == "v":
            terms.append(("E", dev.label(o, c, 0), g, (ctrl[1], ctrl[2])))
        else:
            terms.append(("H", dev.label(o, c, 0), g, ctrl[1]))
    if not terms:
        out.add_vsource(f"{name}.short", output.p, output.m, 0.0)
        return
    node = output.p
    for k, (kind, label, value, extra) in enumerate(terms):
        nxt = output.m if k == len(terms) - 1 else (f"{name.lower()}.x" if k == 0 else f"{name.lower()}.x{k + 1}")
        full = f"{name}.{label}"
        if kind == "L":
            out.add_inductor(full, node, nxt, value)
        elif kind == "R":
            out.add_resistor(full, node, nxt, value)
        elif kind == "E":
            out.add_vcvs(full, node, nxt, extra[0], extra[1], value)
        else:
            out.add_ccvs(full, node, nxt, extra, value)
        node = nxt


def small_signal_circuit(circuit: Circuit, params: Mapping[str, float] | None = None, *, temp: float | None = None,
                         gmin: float | None = None) -> Circuit:
    """:func:`~stabkit.nonlinear.dc.dc_point` then :func:`linearize`: the small-signal circuit in one call
    (the bias is frozen: parameters changed later do not move it)."""
    from stabkit.nonlinear.dc import dc_point

    return linearize(circuit, dc_point(circuit, params, temp=temp, gmin=gmin))
