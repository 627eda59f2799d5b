"""Warning classes of skmoe."""


class DegenerateFitWarning(UserWarning):
    """A restart or the kept fit is degenerate.

    Raised when a restart produced non-finite values and was discarded, and
    when the kept fit has two routed experts whose conditional densities
    coincide on the training data (``skmoe.solvers._finish.COINCIDE_KL``):
    more experts than the data support, or a symmetric start EM stayed at.
    """


class EmptyExpertWarning(UserWarning):
    """A fit ended with an expert that has (nearly) no responsibility.

    Raised by ``MixtureOfExpertsRegressor.fit``; the experts concerned are
    marked in its ``empty_experts_`` attribute. Also raised by
    :func:`skmoe.model_selection.mixing_measure_dendrogram` for experts the
    gate routes (nearly) no sample to, whose merge heights are then near 0.
    """


class MultipleOptimaWarning(UserWarning):
    """Restarts of a fit ended at clearly different optima.

    Raised by ``MixtureOfExpertsRegressor.fit`` with ``n_init >= 2`` when
    the best log-likelihood was reached by only one of the converged
    restarts and another converged clearly lower (see the user guide,
    :ref:`starts`): the likelihood has several local maxima on these data,
    and a higher one may have been missed. More restarts (``n_init``) make
    that less likely.
    """


class SingularInformationWarning(UserWarning):
    """The observed information of a fit is near-singular.

    Raised by :func:`skmoe.inference.standard_errors` when the information
    matrix scaled to unit diagonal is not positive definite or has a
    condition number above ``1 / sqrt(eps)``: some parameters are (nearly)
    not identified, and their standard errors are unreliable. Also raised by
    :func:`skmoe.inference.observed_information` when the curvature of a
    parameter is below float64's resolution (its rows and columns are then
    NaN): the only case in which the information holds NaN.
    """


class NonGaussianInputWarning(UserWarning):
    """The inputs are far from Gaussian for a moment method that assumes them.

    Raised by ``solver="tensor"`` and ``init_params="tensor"`` of
    :class:`~skmoe.MixtureOfExpertsRegressor` (see
    :ref:`the user guide <tensor_method>` for the test used).
    """
