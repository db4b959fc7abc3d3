"""Old home of the oscillator plots; they live in :mod:`stabkit.report.plots` (one module for every figure).
Kept so that ``from stabkit.report.oscillation_plots import plot_oscillation`` keeps working."""

from stabkit.report.plots import plot_one_port, plot_oscillation, plot_power_sweep, plot_probe_sweep

__all__ = ["plot_oscillation", "plot_one_port", "plot_power_sweep", "plot_probe_sweep"]
