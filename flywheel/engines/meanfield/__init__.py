"""The mean-field twin: the same self-serve flywheel as ordinary differential equations.

Its modules: :mod:`.mechanisms` (what it carries, what it does not), :mod:`.chains`
(delays and the onboarding race as exponential stages), :mod:`.market` (company sizes),
:mod:`.twin` (the state, the linear part, the right-hand side), :mod:`.kernel` (the
same right-hand side compiled with numba, for nopython callers), :mod:`.rosenbrock`
(the compiled integrator), :mod:`.solver` (integration and what the solution says).

Where :mod:`flywheel.engines.model` plays out every user and team, the twin follows the
*expected* number of users and teams in each state, as a system of ODEs integrated
from launch day to the horizon (a compiled Rosenbrock-W method; scipy's
:func:`~scipy.integrate.solve_ivp` should it fail).  It
reads the same parameters (a resolved scenario's ``values``) with the same
meaning, returns deterministic curves on the day grid of
:func:`flywheel.metrics.day_grid` and the metrics of :data:`flywheel.metrics.METRICS`,
and takes a small fraction of a second.  As the market and the signup volume grow the
replication mean of the DES approaches it (``tests/test_meanfield.py``).

What the state is (``docs/model.md``, "The mean-field twin", has the equations):

* **The market** by company size: untouched companies of size *s* deplete as
  ``n_s exp(-s X(t))``, where ``dX/dt`` is the contact hazard per person, so one
  state variable carries the size-biased, without-replacement draws exactly in the
  mean.  Touched companies are grouped into size bins (1, 2, 3, then ratio 3).
* **Teams** per bin by plan (free, paywall decision pending, capped, paying, trial,
  no access) and seats 0..8 (above 8, a lump that keeps its extra seats), with
  usage (free) or trial age (trial) as Erlang stages: a *team class*.
* **What each class carries**: the people its companies have reached, and the
  signups pending for its teams (a company's first signup, later signups,
  invitees; onboarding, or an accepted invite not yet signed up).  They move with
  their teams, so a user who reaches value lands in their own team's class, later
  signups arrive in proportion to the people still reachable, and the pending
  signups of a team that loses access lose it too, as in the DES.
* **Onboarding pools** per bin and kind of signup: the TTV-versus-patience race is
  computed from the distributions, and its outcome times become a chain of
  exponential stages (a phase-type distribution; exact for exponential TTV and
  patience).  Invites in flight, and the seats' tenure when its hazard is not
  constant, are chains too.

Most flows are a constant rate times one state variable: they form one sparse
matrix, which is also the Jacobian the integrator's linear systems are built from,
so the fast onboarding stages cost no small steps.  The rest (the market, allocation to
teams, closures) is computed per call.

Each approximation, and how large it is, is listed in :data:`MECHANISMS`;
:func:`unsupported` names what a scenario switches on that the twin does not carry
(sales motions).
"""

from flywheel.engines.meanfield.mechanisms import (
    APPROXIMATED,
    EXACT,
    MAX_INVITES,
    MECHANISMS,
    NOT_REPRESENTED,
    WITHOUT_AGES,
    WITHOUT_BILLS,
    WITHOUT_SALES,
    WITHOUT_TIERS,
    Mechanism,
    check_supported,
    mechanism_notes,
    unavailable,
    unsupported,
)
from flywheel.engines.meanfield.solver import MeanFieldResult, solve

__all__ = [
    "APPROXIMATED",
    "EXACT",
    "MAX_INVITES",
    "MECHANISMS",
    "NOT_REPRESENTED",
    "WITHOUT_AGES",
    "WITHOUT_BILLS",
    "WITHOUT_SALES",
    "WITHOUT_TIERS",
    "MeanFieldResult",
    "Mechanism",
    "check_supported",
    "mechanism_notes",
    "solve",
    "unavailable",
    "unsupported",
]
