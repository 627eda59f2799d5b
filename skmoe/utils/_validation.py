"""Checks of the estimator's inputs, with messages that name the input.

Each function is called in one line by
:class:`~skmoe.MixtureOfExpertsRegressor`; they run before any solver or
kernel, so that a bad input gets a ``ValueError`` naming it (what was
expected, what was received) instead of a NaN, a ``LinAlgError`` or a Numba
error further down.
"""

import numpy as np

#: exponent ``E`` of the range ``[2**-E, 2**E]`` (about ``[8.6e-78,
#: 1.2e77]``) of data magnitudes the solvers handle without overflow or loss
#: of precision, see :func:`check_data_scale`
SCALE_EXPONENT = 256


def _range_text(exponent):
    lo, hi = 2.0 ** -exponent, 2.0 ** exponent
    return f"[{lo:.3g}, {hi:.3g}] = [2**-{exponent:g}, 2**{exponent:g}]"


def _expert_degree(experts):
    """Largest total degree in ``x`` of the experts' design (1 but polynomial)."""
    from ..experts import PolynomialExperts

    return int(experts.degree) if isinstance(experts, PolynomialExperts) else 1


def check_data_scale(X, y, sample_weight, experts, shared_experts=None):
    """Refuse data whose magnitudes lie beyond float64's comfortable range.

    The solvers form weighted sums of squares and products of the data
    (normal equations of the experts, Newton terms of the gate, residual
    variances, the moment tensors of the tensor method) and divide by them.
    Every nonzero magnitude must therefore lie in ``[2**-E, 2**E]`` with
    ``E = SCALE_EXPONENT = 256``: its square is then within ``[2**-512,
    2**512]``, so that a sum of squares over the rows, times a total sample
    weight in the same range, stays below ``2**768``, with ``2**256`` of room
    below the largest double (``~2**1024``) for the solvers' factors (inverse
    variances, cubes of the standardised labels); and no square comes near
    the subnormal numbers (below ``2**-1022``), where precision is lost. The
    checked magnitudes: the largest ``|X_ij|`` of every column of ``X``
    (all-zero columns are allowed), the largest ``|y_i|`` (an all-zero ``y``
    is allowed) and the total sample weight. For polynomial experts of degree
    ``D`` the bound applies to the monomials, so every column of ``X`` must
    lie in ``[2**(-E/D), 2**(E/D)]``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite inputs.
    y : ndarray of shape (n_samples,)
        Finite targets.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights.
    experts : Experts
        The routed experts' family.
    shared_experts : Experts or None, default=None
        The shared experts' family, if any.

    Raises
    ------
    ValueError
        Naming ``X``, ``y`` or ``sample_weight``, the offending scale and the
        range.
    """
    E = SCALE_EXPONENT
    degree = max(_expert_degree(e) for e in (experts, shared_experts)
                 if e is not None)
    x_exp = E / degree
    scales = np.abs(X).max(axis=0) if X.size else np.zeros(X.shape[1])
    bad = (scales > 2.0**x_exp) | ((scales > 0) & (scales < 2.0**-x_exp))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        family = (
            f" for polynomial experts of degree {degree} (their monomials of "
            f"degree {degree} must lie in {_range_text(E)})"
            if degree > 1 else ""
        )
        raise ValueError(
            f"X has a column of scale {scales[j]:.3g} (the largest |X[:, {j}]|), "
            f"outside the range {_range_text(x_exp)}{family} in which the "
            "solvers' weighted sums of squares neither overflow nor lose "
            "precision. Rescale X, for example with "
            "sklearn.preprocessing.StandardScaler (the model's parameters "
            "follow the units of X)."
        )
    scale = float(np.abs(y).max()) if y.size else 0.0
    if scale > 2.0**E or 0 < scale < 2.0**-E:
        raise ValueError(
            f"y has scale {scale:.3g} (the largest |y_i|), outside the range "
            f"{_range_text(E)} in which the solvers' weighted sums of squares "
            "neither overflow nor lose precision. Rescale y (the expert "
            "parameters and standard deviations follow the units of y)."
        )
    total = float(sample_weight.sum())
    if not 2.0**-E <= total <= 2.0**E:
        raise ValueError(
            f"sample_weight sums to {total:.3g}, outside the range "
            f"{_range_text(E)} in which the solvers' weighted sums neither "
            "overflow nor lose precision. Rescale sample_weight, for example "
            "to sum to the number of samples."
        )
