"""Resolving a family given by name or by object (gating, experts, noise)."""

from sklearn.base import clone


def resolve_family(role, value, registry, base, **kwargs):
    """A validated family object from a registered name or an object.

    Parameters
    ----------
    role : str
        The parameter's name in messages (``"gating"``, ``"experts"``,
        ``"noise"``).
    value : str or object
        A key of ``registry`` (a new object with ``kwargs``) or an instance
        of ``base`` (cloned, so the caller's object is never modified).
    registry : dict of str to type
        Name -> class.
    base : type
        The family's base class.
    **kwargs
        Hyper-parameters of an object built from a name.

    Returns
    -------
    family : object
        A new object whose hyper-parameters passed ``_validate_params``.

    Raises
    ------
    ValueError
        For an unknown name or an object of the wrong kind (and the
        ``InvalidParameterError`` of ``_validate_params``).
    """
    if isinstance(value, base):
        family = clone(value)
    elif isinstance(value, str) and value in registry:
        family = registry[value](**kwargs)
    else:
        raise ValueError(
            f"{role} must be one of {sorted(registry)} or a {base.__name__} "
            f"object; got {value!r}."
        )
    family._validate_params()
    return family
