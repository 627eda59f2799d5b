"""Fitting algorithms (plain Python loops around the Numba kernels).

Every solver has the entry point ``fit(X, y, sample_weight, spec)`` with a
:class:`FitSpec`, declares the objectives it optimises and the abilities it
requires of the model's families (:data:`SOLVERS`), and returns a
:class:`FitResult`; :func:`fit_moe` checks the pair once and dispatches.
"""

from ._dispatch import (
    SOLVER_OBJECTIVES,
    SOLVERS,
    Solver,
    check_spec,
    fit_moe,
    start_used,
)
from ._em_solver import fit_em
from ._gradient import fit_gradient
from ._result import FitResult
from ._spec import FitSpec

__all__ = [
    "SOLVERS",
    "SOLVER_OBJECTIVES",
    "FitResult",
    "FitSpec",
    "Solver",
    "check_spec",
    "fit_em",
    "fit_gradient",
    "fit_moe",
    "start_used",
]
