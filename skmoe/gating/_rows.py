"""Gates invariant to a common shift of their logits: the last row is zero."""

import numpy as np

from ._base import _random_directions


class ShiftInvariantRows:
    """Parametrisation of a gate whose logits are defined up to a common shift.

    Mixin for :class:`~skmoe.gating.Gating` subclasses whose weights depend
    on the rows of ``[gate_coef | gate_intercept]`` only through their
    differences (the softmax of linear logits): the last expert's row is the
    reference, fixed at zero by :meth:`normalize`, and the free parameters
    are the other rows.
    """

    def normalize(self, params):
        """Subtract the last expert's row, so that it becomes zero.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            Normalised ``gate_coef`` and ``gate_intercept``.
        """
        return {
            "gate_coef": params.gate_coef - params.gate_coef[-1],
            "gate_intercept": params.gate_intercept - params.gate_intercept[-1],
        }

    def pack(self, params):
        """Rows ``0 .. K-2`` of the normalised ``[gate_coef | gate_intercept]``.

        The normalisation is the family's own :meth:`normalize`.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters, row by row.
        """
        fields = self.normalize(params)
        full = np.hstack([fields["gate_coef"], fields["gate_intercept"][:, None]])
        return full[:-1].ravel().copy()

    def unpack(self, theta, params):
        """Gate fields from the free rows (the last row zero).

        Parameters
        ----------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        params : MoEParams
            Model parameters giving the sizes.

        Returns
        -------
        fields : dict
            ``gate_coef`` and ``gate_intercept``.
        """
        K, d = params.n_experts, params.n_features
        full = np.zeros((K, d + 1))
        full[:-1] = np.asarray(theta, dtype=np.float64).reshape(K - 1, d + 1)
        return {
            "gate_coef": np.ascontiguousarray(full[:, :d]),
            "gate_intercept": np.ascontiguousarray(full[:, d]),
        }

    def random_params(self, n_features, n_experts, gate_scale, rng):
        """Random directions of norm ``gate_scale``, intercepts ``0.5 N(0, 1)``.

        The last expert's row is then set to zero (the reference).

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.
        gate_scale : float
            Norm of the gate slopes.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        fields : dict
            ``gate_coef`` and ``gate_intercept``.
        """
        coef = _random_directions(rng, n_experts, n_features) * gate_scale
        coef[-1] = 0.0
        intercept = 0.5 * rng.standard_normal(n_experts)
        intercept[-1] = 0.0
        return {"gate_coef": coef, "gate_intercept": intercept}
