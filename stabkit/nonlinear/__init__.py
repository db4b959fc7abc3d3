"""The nonlinear layer: every nonlinear device behind one interface, one DC solver, one linearizer, and
harmonic balance on top.

=========================  ================================================================================
:mod:`.devices`             the interface (currents and charges of controls, with derivatives) and every device:
                            tunnel/table/S-type NDR devices, junction diodes, Gummel–Poon transistors,
                            behavioural ``B`` sources, devices known only by an external small-signal model
:mod:`.curves`              the I–V curves of NDR two-terminal devices and their model cards
:mod:`.gummel_poon`         the Gummel–Poon and SPICE diode equations (free functions on arrays)
:mod:`.dc`                  one Newton solver (limiting, gmin and source stepping) and the search for all
                            operating points (load line, multi-start)
:mod:`.linearize`           one linearizer: the small-signal circuit at an operating point
:mod:`.hb`                  harmonic balance: periodic steady states (oscillators), their stability
=========================  ================================================================================
"""

from stabkit.nonlinear.dc import DCPoint, NonlinearProblem, dc_point, dc_points, solve
from stabkit.nonlinear.devices import NonlinearDevice, circuit_devices
from stabkit.nonlinear.linearize import SmallSignal, linearize, small_signal_circuit

__all__ = ["DCPoint", "NonlinearProblem", "dc_point", "dc_points", "solve", "NonlinearDevice",
           "circuit_devices", "SmallSignal", "linearize", "small_signal_circuit"]
