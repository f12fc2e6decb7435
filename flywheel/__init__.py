"""Flywheel: a growth-flywheel simulator for product-led growth.

>>> import flywheel
>>> sc = flywheel.load_scenario("baseline")
>>> run = flywheel.simulate(sc, replications=4, jobs=1, horizon="90d")
>>> run.mean_ci("activation_rate")  # doctest: +SKIP
MeanCI(mean=0.36..., lo=0.35..., hi=0.37...)
>>> run.summary_frame()  # doctest: +SKIP

``flywheel.sensitivity`` is a module; run a sensitivity with
:func:`flywheel.sensitivity_analysis`.
"""

__version__ = "0.1.0"

from flywheel.comparisons import Comparison, Sweep, compare, sweep  # noqa: E402
from flywheel.metrics import MeanCI  # noqa: E402
from flywheel.runner import RunResult, simulate  # noqa: E402
from flywheel.scenario import Scenario, load_scenario  # noqa: E402

# ``flywheel.sensitivity`` is the module (``import flywheel.sensitivity as m`` gives it);
# the function is ``flywheel.sensitivity_analysis``.
from flywheel.sensitivity import Sensitivity, sensitivity_analysis  # noqa: E402

__all__ = ["Comparison", "MeanCI", "RunResult", "Scenario", "Sensitivity", "Sweep",
           "__version__", "compare", "load_scenario", "sensitivity_analysis", "simulate",
           "sweep"]
