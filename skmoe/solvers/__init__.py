"""Fitting algorithms (plain Python loops around the Numba kernels)."""

from ._dispatch import SOLVER_OBJECTIVES, check_compatible, fit_moe
from ._em import FitResult, fit_em
from ._gradient import fit_gradient

__all__ = [
    "SOLVER_OBJECTIVES",
    "FitResult",
    "check_compatible",
    "fit_em",
    "fit_gradient",
    "fit_moe",
]
