"""Polynomial experts: closed-form weighted least squares on monomials of x."""

from itertools import combinations_with_replacement
from numbers import Integral

import numpy as np

from ..utils._arrays import as_kernel_array
from ..utils._sklearn import Interval
from ._linear import _LinearInFeatures


def _monomials(n_features, degree):
    """Index tuples of the monomials of degree 1..degree, in column order."""
    return [
        combo
        for deg in range(1, degree + 1)
        for combo in combinations_with_replacement(range(n_features), deg)
    ]


class PolynomialExperts(_LinearInFeatures):
    """Polynomial experts :math:`h(x; \\eta) = \\eta_1^\\top \\phi(x) + \\eta_0`.

    :math:`\\phi(x)` holds every monomial of the inputs of total degree 1 to
    ``degree``, so each expert is a polynomial of degree ``degree`` in ``x``.

    Parameters
    ----------
    degree : int, default=2
        Largest total degree of the monomials (``degree=1`` gives
        :class:`~skmoe.LinearExperts`).
    fit_intercept : bool, default=True
        Whether each expert has an intercept :math:`\\eta_0`. When False the
        intercept column of ``expert_params`` is held at zero.

    Notes
    -----
    **Column layout.** ``expert_params`` has one row per expert: the
    coefficients of the monomials, degree by degree, then the intercept. Within
    a degree the monomials are ordered as in
    :class:`sklearn.preprocessing.PolynomialFeatures` (``include_bias=False``):
    for two features and ``degree=2`` the columns are :math:`x_1, x_2, x_1^2,
    x_1 x_2, x_2^2`, intercept. :meth:`powers` gives the exponents of every
    column. :meth:`param_blocks` names the blocks ``"coef"`` (the degree-1
    coefficients, as for linear experts), ``"degree2"``, ...,
    ``"degree<degree>"`` and ``"intercept"``.

    The EM update is closed-form weighted least squares on the monomials
    (the same Numba kernel as :class:`~skmoe.LinearExperts`, on the expanded
    design), so EM stays monotone. The number of coefficients grows as
    :math:`\\binom{d + \\text{degree}}{d} - 1`; standardise the inputs, since
    monomials of unscaled inputs make the normal equations ill-conditioned.

    Like linear experts, polynomial experts are *not* strongly identifiable:
    over-specified fits converge slowly [1]_.

    References
    ----------
    .. [1] Nguyen, H., Ho, N. and Rinaldo, A. (2025). Convergence rates for
       softmax gating mixture of experts. arXiv:2503.03213.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import PolynomialExperts
    >>> experts = PolynomialExperts(degree=2)
    >>> experts.powers(2).tolist()
    [[1, 0], [0, 1], [2, 0], [1, 1], [0, 2]]
    >>> # 1 + 2 x1 + 3 x1^2 at x = (2, 5)
    >>> experts.predict(np.array([[2.0, 5.0]]),
    ...                 np.array([[2.0, 0.0, 3.0, 0.0, 0.0, 1.0]]))
    array([[17.]])
    """

    _parameter_constraints: dict = {
        "degree": [Interval(Integral, 1, None, closed="left")],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, degree=2, fit_intercept=True):
        self.degree = degree
        self.fit_intercept = fit_intercept

    def _n_features_out(self, n_features):
        return len(_monomials(n_features, self.degree))

    def _features(self, X):
        combos = _monomials(X.shape[1], self.degree)
        F = np.empty((X.shape[0], len(combos)))
        column = {}
        for col, combo in enumerate(combos):
            if len(combo) == 1:
                F[:, col] = X[:, combo[0]]
            else:
                # reuse the lower-degree column: one multiplication per column
                F[:, col] = F[:, column[combo[:-1]]] * X[:, combo[-1]]
            column[combo] = col
        return as_kernel_array(F)

    def powers(self, n_features):
        """Give the exponents of the monomial of every coefficient column.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        powers : ndarray of int of shape (n_params - 1, n_features)
            ``powers[j, f]`` is the exponent of feature ``f`` in column ``j``
            (the intercept column is not included).
        """
        combos = _monomials(n_features, self.degree)
        out = np.zeros((len(combos), n_features), dtype=np.int64)
        for col, combo in enumerate(combos):
            for f in combo:
                out[col, f] += 1
        return out

    def param_names(self, feature_names):
        """Name the monomials as scikit-learn's ``PolynomialFeatures`` does.

        Parameters
        ----------
        feature_names : sequence of str
            Names of the input features.

        Returns
        -------
        names : list of str
            ``"x"``, ``"x^2"``, ``"x z"``, ..., then ``"(Intercept)"``.
        """
        names = []
        for row in self.powers(len(feature_names)):
            names.append(" ".join(
                str(name) if p == 1 else f"{name}^{p}"
                for name, p in zip(feature_names, row, strict=True) if p))
        return names + ["(Intercept)"]

    def design_degree(self):
        """The ``degree`` of the monomials (for the data-scale check).

        Returns
        -------
        degree : int
            ``degree``.
        """
        return int(self.degree)

    def param_blocks(self, n_features):
        """Name the blocks ``coef``, ``degree2``, ..., and ``intercept``.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        blocks : dict of str to slice
            ``"coef"`` holds the degree-1 coefficients, ``"degree<k>"`` those
            of the monomials of degree ``k``, ``"intercept"`` the intercept.
        """
        degrees = self.powers(n_features).sum(axis=1)
        blocks = {}
        for deg in range(1, self.degree + 1):
            cols = np.flatnonzero(degrees == deg)
            name = "coef" if deg == 1 else f"degree{deg}"
            blocks[name] = slice(int(cols[0]), int(cols[-1]) + 1)
        m = degrees.size
        blocks["intercept"] = slice(m, m + 1)
        return blocks
