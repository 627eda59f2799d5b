"""Column selections of the families that read some columns of X."""

import numpy as np


def check_columns(columns, n_features, owner):
    """The selected column indices as an int array, checked.

    Parameters
    ----------
    columns : array-like of int
        Column indices.
    n_features : int
        Number of columns of X.
    owner : str
        The family's name, for messages.

    Returns
    -------
    columns : ndarray of int of shape (n_selected,)
        The indices.

    Raises
    ------
    ValueError
        For an index outside ``[0, n_features)`` or a repeated index.
    """
    cols = np.asarray(columns)
    if cols.size == 0:
        return np.zeros(0, dtype=np.intp)
    if cols.ndim != 1 or not np.issubdtype(cols.dtype, np.integer):
        raise ValueError(
            f"{owner}: columns must be a 1-D list of column indices; got "
            f"{columns!r}."
        )
    bad = cols[(cols < 0) | (cols >= n_features)]
    if bad.size:
        raise ValueError(
            f"{owner}: column index {int(bad[0])} is outside [0, {n_features}) "
            f"for data with n_features={n_features}."
        )
    if np.unique(cols).size != cols.size:
        raise ValueError(f"{owner}: columns must not repeat; got {cols.tolist()}.")
    return cols.astype(np.intp)


class ColumnSelection:
    """Mixin of the families that read a selection of the columns of ``X``.

    :class:`~skmoe.gating.ColumnGating` and
    :class:`~skmoe.experts.ColumnExperts` wrap a family (in the attribute
    named by ``_wrapped_name``) and hold ``columns`` and ``n_features``. They
    have the wrapped family's abilities except those in ``_lost`` (ability
    -> reason).
    """

    _wrapped_name = ""
    _lost = {}

    def _wrapped(self):
        return getattr(self, self._wrapped_name)

    def _cols(self):
        """The selected column indices, checked."""
        return check_columns(self.columns, self.n_features, type(self).__name__)

    def _sub(self, X):
        """The selected columns of ``X``, C-contiguous float64."""
        return np.ascontiguousarray(X[:, self._cols()], dtype=np.float64)

    def _width(self, n_features):
        """The number of selected columns, after checking the data's width."""
        if n_features != self.n_features:
            raise ValueError(
                f"{type(self).__name__} reads columns {self._cols().tolist()} of "
                f"data with n_features={self.n_features}; got "
                f"n_features={n_features}."
            )
        return self._cols().size

    def _spelling(self):
        return f"{self._wrapped()._spelling()} on columns {self._cols().tolist()}"

    @property
    def provides(self):
        """The wrapped family's abilities (:meth:`lacks` removes some).

        Returns
        -------
        provides : frozenset of str
            The abilities of the wrapped family's class.
        """
        return self._wrapped().provides

    def lacks(self, ability, n_experts=None):
        """Why the family does not provide ``ability``, or None.

        Parameters
        ----------
        ability : str
            A key of :data:`skmoe.utils._abilities.ABILITIES`.
        n_experts : int or None, default=None
            Number of experts of the model.

        Returns
        -------
        reason : str or None
            The abilities a selection loses say why; the others are the
            wrapped family's answer.
        """
        if ability in self._lost:
            return self._lost[ability]
        return self._wrapped().lacks(ability, n_experts)

    def input_columns(self, n_features):
        """The columns of ``X`` the family reads: ``columns``.

        Parameters
        ----------
        n_features : int
            Number of columns of ``X``.

        Returns
        -------
        columns : ndarray of int
            Indices into the columns of ``X``.
        """
        self._width(n_features)
        return self._cols()
