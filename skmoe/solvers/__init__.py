"""Fitting algorithms (plain Python loops around the Numba kernels)."""

from ._em import FitResult, fit_em

__all__ = ["FitResult", "fit_em"]
