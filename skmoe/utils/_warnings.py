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
    marked in its ``empty_experts_`` attribute.
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
