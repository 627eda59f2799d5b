"""Warning classes of skmoe."""


class DegenerateFitWarning(UserWarning):
    """An EM restart degenerated (non-finite values) and was discarded."""


class EmptyExpertWarning(UserWarning):
    """A fit ended with an expert that has (nearly) no responsibility.

    Raised by ``MixtureOfExpertsRegressor.fit``; the experts concerned are
    marked in its ``empty_experts_`` attribute.
    """


class NonGaussianInputWarning(UserWarning):
    """The inputs are far from Gaussian for a moment method that assumes them.

    Raised by ``solver="tensor"`` and ``init_params="tensor"`` of
    :class:`~skmoe.MixtureOfExpertsRegressor` (see
    :ref:`the user guide <tensor_method>` for the test used).
    """
