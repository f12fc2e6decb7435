"""The studies: running replications (``runner``), comparing scenarios and sweeping
parameters (``comparisons``), one-at-a-time sensitivity (``sensitivity``), the closed-form
checks and published bands (``validation``, with the queueing formulas of ``queueing``),
and the work estimate of a run (``workload``).  They use the engines and the metrics and
import nothing from the outputs or the command line."""
