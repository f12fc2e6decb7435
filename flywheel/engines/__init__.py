"""The engines: the discrete-event simulation (``model``, with its random streams in
``rng``) and the mean-field twin (``meanfield``), sharing the codes of ``codes``.  They
read a scenario's :class:`~flywheel.scenario.settings.Settings` and import nothing from
the layers above (metrics, studies, outputs, the command line)."""


class EngineError(ValueError):
    """An engine cannot run this scenario (the mean-field twin past what it takes on):
    one line for the user, naming the engine that can."""
