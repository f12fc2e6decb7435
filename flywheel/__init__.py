"""Flywheel: a growth-flywheel simulator for product-led growth.

>>> import flywheel
>>> sc = flywheel.load_scenario("baseline")
>>> run = flywheel.simulate(sc, replications=4, jobs=1, horizon="90d")
>>> run.mean_ci("activation_rate")  # doctest: +SKIP
MeanCI(mean=0.36..., lo=0.35..., hi=0.37...)
>>> run.summary_frame()  # doctest: +SKIP

The package is in layers, each a folder, each importing only from those below it:
``scenario`` (reading a scenario) -> ``engines`` (the simulation and the mean-field
twin) -> ``metrics`` -> ``studies`` (replications, comparisons, sweeps, sensitivity,
validation) -> ``outputs`` (results folders, charts, reports) -> ``cli``.  See
docs/architecture.md.
"""

from flywheel.metrics import MeanCI
from flywheel.scenario import Scenario, load_scenario
from flywheel.studies.comparisons import Comparison, Sweep, compare, sweep
from flywheel.studies.runner import RunResult, simulate
from flywheel.studies.sensitivity import Sensitivity, sensitivity_analysis
from flywheel.version import __version__

__all__ = ["Comparison", "MeanCI", "RunResult", "Scenario", "Sensitivity", "Sweep",
           "__version__", "compare", "load_scenario", "sensitivity_analysis", "simulate",
           "sweep"]
