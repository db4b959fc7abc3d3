"""Old home of the negative-resistance plots; they live in :mod:`stabkit.report.plots` (one module for every
figure). Kept so that ``from stabkit.report.negres_plots import plot_load_lines`` keeps working."""

from stabkit.report.plots import (
    REGION_COLOURS, STATE_COLOURS, plot_curve_features, plot_load_lines, plot_oscillator_conditions,
    plot_pole_paths, plot_region_map, plot_region_sweep,
)

__all__ = ["STATE_COLOURS", "REGION_COLOURS", "plot_curve_features", "plot_load_lines", "plot_region_sweep",
           "plot_pole_paths", "plot_oscillator_conditions", "plot_region_map"]
