"""Flywheel: a growth-flywheel simulator for product-led growth.

>>> import flywheel
>>> sc = flywheel.load_scenario("baseline")
>>> run = flywheel.simulate(sc, replications=4, jobs=1)
>>> run.mean_ci("activation_rate")  # doctest: +SKIP
"""

__version__ = "0.1.0"

from flywheel.comparisons import Comparison, Sweep, compare, sweep  # noqa: E402
from flywheel.runner import RunResult, simulate  # noqa: E402
from flywheel.scenario import Scenario, load_scenario  # noqa: E402
from flywheel.sensitivity import Sensitivity, sensitivity  # noqa: E402

__all__ = ["Comparison", "RunResult", "Scenario", "Sensitivity", "Sweep", "__version__",
           "compare", "load_scenario", "sensitivity", "simulate", "sweep"]
