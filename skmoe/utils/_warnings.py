"""Warning classes of skmoe."""


class DegenerateFitWarning(UserWarning):
    """An EM restart degenerated (non-finite values) and was discarded."""
