"""The scenario layer: what a scenario may say and how it is read.

``defaults`` (every parameter: default, unit, meaning, source, bounds), ``units``
(durations and rates), ``distributions`` (the inline-table families), ``files`` (TOML,
``extends``, ``--set``, validation into a :class:`Scenario`) and ``settings`` (the one
typed reading of a resolved scenario that every engine and study uses).  Nothing here
imports from a layer above.
"""

from flywheel.scenario.files import (
    Scenario,
    ScenarioError,
    builtin_scenarios_dir,
    format_resolved,
    list_scenarios,
    load_scenario,
    load_scenario_text,
    parse_set,
    toml_value,
)

__all__ = ["Scenario", "ScenarioError", "builtin_scenarios_dir", "format_resolved",
           "list_scenarios", "load_scenario", "load_scenario_text", "parse_set", "toml_value"]
