"""Classic real data sets for mixtures of regressions, shipped as small CSVs.

The files in ``skmoe/_data/`` were exported from the R packages that
distribute them (MASS, flexmix, mixtools) by ``skmoe/_data/export_from_r.R``;
``skmoe/_data/README.md`` gives each one's source, licence and citation. The
loaders follow scikit-learn's ``load_diabetes``: a :class:`~sklearn.utils.Bunch`
or ``(X, y)``, as NumPy arrays or pandas objects. pandas is imported inside
the loaders, so ``import skmoe`` does not pay for it.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

_DATA_DIR = Path(__file__).parent / "_data"


@dataclass(frozen=True)
class _Spec:
    """How one CSV is read and split into features and target."""

    filename: str
    dtypes: dict  # column -> dtype, in the file's column order
    features: tuple
    target: str
    # derived feature columns: name -> function of the frame
    derived: dict = field(default_factory=dict)


_SPECS = {
    "mcycle": _Spec("mcycle.csv", {"times": "float64", "accel": "float64"},
                    ("times",), "accel"),
    "npreg": _Spec("npreg.csv", {"x": "float64", "yn": "float64", "yp": "float64",
                                 "yb": "float64", "class": "int64", "id1": "int64",
                                 "id2": "int64"}, ("x",), "yn"),
    "tonedata": _Spec("tonedata.csv", {"stretchratio": "float64",
                                       "tuned": "float64"},
                      ("stretchratio",), "tuned"),
    "co2": _Spec("co2.csv", {"GNP": "float64", "CO2": "float64", "country": "str"},
                 ("GNP",), "CO2"),
    "patent": _Spec("patent.csv", {"Company": "str", "Patents": "int64",
                                   "RDS": "float64", "lgRD": "float64"},
                    ("lgRD", "RDS"), "Patents"),
    "mehta": _Spec("mehta.csv", {"Response": "int64", "Total": "int64",
                                 "Drug": "str", "Site": "int64"},
                   ("new_drug",), "response_rate",
                   derived={
                       "new_drug": lambda f: (f["Drug"] == "New").astype("float64"),
                       "response_rate": lambda f: f["Response"] / f["Total"],
                   }),
}


def _check_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def _read_frame(spec):
    import pandas as pd

    # text columns as ``str``: pandas' own text dtype (object before pandas 3)
    dtypes = {col: (str if dt == "str" else dt) for col, dt in spec.dtypes.items()}
    # no cell is missing; keep_default_na=False keeps text such as "NA" as text
    return pd.read_csv(_DATA_DIR / spec.filename, dtype=dtypes,
                       keep_default_na=False)


def _load(name, return_X_y, as_frame, target=None):
    return_X_y = _check_flag("return_X_y", return_X_y)
    as_frame = _check_flag("as_frame", as_frame)
    spec = _SPECS[name]
    target = spec.target if target is None else target
    frame = _read_frame(spec)
    for col, make in spec.derived.items():
        frame[col] = make(frame)
    features = list(spec.features)
    X = frame[features].astype("float64")
    y = frame[target].astype("float64")
    extra = {}
    if name == "mehta":
        extra["sample_weight"] = frame["Total"].to_numpy(dtype=np.float64)
    if not as_frame:
        X = X.to_numpy()
        y = y.to_numpy()
    if return_X_y:
        return X, y
    descr = (_DATA_DIR / f"{name}.rst").read_text(encoding="utf-8")
    return Bunch(data=X, target=y, feature_names=features, target_names=[target],
                 frame=frame if as_frame else None, DESCR=descr, **extra)


_PARAMS = """return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` the whole table (every column of the R data set, text columns
        as text); otherwise NumPy float64 arrays and ``frame`` is None."""

_RETURNS = """data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes ``data`` (n_samples,
        n_features), ``target`` (n_samples,), ``feature_names``,
        ``target_names``, ``frame`` and ``DESCR`` (this description with the
        source, licence and citation).
    (data, target) : tuple if ``return_X_y`` is True
        The features and the target, as arrays or pandas objects."""


def _doc(func):
    if func.__doc__:  # None under python -OO
        func.__doc__ = func.__doc__.replace("%(params)s", _PARAMS).replace(
            "%(returns)s", _RETURNS)
    return func


@_doc
def load_mcycle(*, return_X_y=False, as_frame=False):
    """Load the motorcycle crash data (head acceleration against time).

    133 measurements of head acceleration (``accel``, in g) against the time
    after a simulated motorcycle impact (``times``, in ms), used to test crash
    helmets. The noise level changes with time, so a mixture of linear experts
    with a gate on ``times`` fits it well; the classic benchmark is
    ``accel ~ times`` with a softmax gate on ``times``.

    ================  ==============
    Samples           133
    Features          1 (``times``)
    Target            ``accel``
    ================  ==============

    Parameters
    ----------
    %(params)s

    Returns
    -------
    %(returns)s

    Notes
    -----
    Exported from the R package MASS 7.3-58.2 (data set ``mcycle``),
    distributed under GPL-2 | GPL-3. Original publication: Silverman (1985).

    References
    ----------
    .. [1] Silverman, B. W. (1985). Some aspects of the spline smoothing
       approach to non-parametric curve fitting. Journal of the Royal
       Statistical Society, Series B, 47, 1-52.
    .. [2] Venables, W. N. and Ripley, B. D. (2002). Modern Applied Statistics
       with S. Fourth edition. Springer.

    Examples
    --------
    >>> from skmoe.datasets import load_mcycle
    >>> X, y = load_mcycle(return_X_y=True)
    >>> X.shape, y.shape
    ((133, 1), (133,))
    """
    return _load("mcycle", return_X_y, as_frame)


@_doc
def load_npreg(*, return_X_y=False, as_frame=False, target="yn"):
    """Load flexmix's artificial two-class regression data.

    200 rows drawn from two latent classes of 100 (column ``class``) with one
    input ``x`` uniform on [0, 10] and three responses: ``yn`` Gaussian,
    ``yp`` Poisson and ``yb`` binary. ``id1`` and ``id2`` group the rows in
    pairs and in fours (flexmix's grouped-data examples). Only ``x`` is a
    feature: the true class is in ``frame``, never in ``data``.

    ================  ==============
    Samples           200
    Features          1 (``x``)
    Target            ``yn``, ``yp`` or ``yb``
    ================  ==============

    Parameters
    ----------
    %(params)s
    target : {"yn", "yp", "yb"}, default="yn"
        The response returned as ``target``: Gaussian (``yn``), Poisson counts
        (``yp``) or 0/1 (``yb``).

    Returns
    -------
    %(returns)s

    Notes
    -----
    Exported from the R package flexmix 2.3-18 (data set ``NPreg``, made by
    ``set.seed(2602); ExNPreg(100)``), distributed under GPL (>= 2).

    References
    ----------
    .. [1] Leisch, F. (2004). FlexMix: A general framework for finite mixture
       models and latent class regression in R. Journal of Statistical
       Software, 11(8), 1-18.
    .. [2] Gruen, B. and Leisch, F. (2008). FlexMix version 2: Finite mixtures
       with concomitant variables and varying and constant parameters.
       Journal of Statistical Software, 28(4), 1-35.

    Examples
    --------
    >>> from skmoe.datasets import load_npreg
    >>> data = load_npreg(as_frame=True)
    >>> data.data.shape, data.target_names
    ((200, 1), ['yn'])
    >>> data.frame["class"].value_counts().sort_index().tolist()
    [100, 100]
    """
    if target not in ("yn", "yp", "yb"):
        raise ValueError(f"target must be 'yn', 'yp' or 'yb'; got {target!r}.")
    return _load("npreg", return_X_y, as_frame, target=target)


@_doc
def load_tonedata(*, return_X_y=False, as_frame=False):
    """Load the tone perception data (tuned ratio against stretch ratio).

    150 trials of one trained musician who tuned a tone to the octave above a
    fundamental whose overtones were stretched by ``stretchratio``; ``tuned``
    is the ratio of the tuned tone to the fundamental. The answers follow
    either the stretched overtones or the true octave (2.0): a classic mixture
    of two linear regressions.

    ================  ==============
    Samples           150
    Features          1 (``stretchratio``)
    Target            ``tuned``
    ================  ==============

    Parameters
    ----------
    %(params)s

    Returns
    -------
    %(returns)s

    Notes
    -----
    Exported from the R package mixtools 2.0.0 (data set ``tonedata``, copied
    there from Hennig's fpc package), distributed under GPL (>= 2). Original
    source: Cohen (1980).

    References
    ----------
    .. [1] Cohen, E. A. (1980). Inharmonic tone perception. Unpublished Ph.D.
       dissertation, Stanford University.
    .. [2] de Veaux, R. D. (1989). Mixtures of linear regressions.
       Computational Statistics and Data Analysis, 8, 227-245.
    .. [3] Benaglia, T., Chauveau, D., Hunter, D. R. and Young, D. S. (2009).
       mixtools: An R package for analyzing finite mixture models. Journal of
       Statistical Software, 32(6), 1-29.

    Examples
    --------
    >>> from skmoe.datasets import load_tonedata
    >>> data = load_tonedata()
    >>> data.feature_names, data.target_names
    (['stretchratio'], ['tuned'])
    """
    return _load("tonedata", return_X_y, as_frame)


@_doc
def load_co2(*, return_X_y=False, as_frame=False):
    """Load the GNP and CO2 emissions of 28 countries in 1996.

    Gross national product per capita (``GNP``) and estimated carbon dioxide
    emission per capita (``CO2``) of 28 countries in 1996, with the
    country's abbreviation as a text column (``country``, in ``frame`` only).

    ================  ==============
    Samples           28
    Features          1 (``GNP``)
    Target            ``CO2``
    ================  ==============

    Parameters
    ----------
    %(params)s

    Returns
    -------
    %(returns)s

    Notes
    -----
    Exported from the R package mixtools 2.0.0 (data set ``CO2data``),
    distributed under GPL (>= 2). Analysed as a mixture of regressions by
    Hurn, Justel and Robert (2003).

    References
    ----------
    .. [1] Hurn, M., Justel, A. and Robert, C. P. (2003). Estimating mixtures
       of regressions. Journal of Computational and Graphical Statistics,
       12(1), 55-79.
    .. [2] Benaglia, T., Chauveau, D., Hunter, D. R. and Young, D. S. (2009).
       mixtools: An R package for analyzing finite mixture models. Journal of
       Statistical Software, 32(6), 1-29.

    Examples
    --------
    >>> from skmoe.datasets import load_co2
    >>> data = load_co2(as_frame=True)
    >>> data.frame.columns.tolist()
    ['GNP', 'CO2', 'country']
    >>> data.frame["country"].iloc[0]
    'CAN'
    """
    return _load("co2", return_X_y, as_frame)


@_doc
def load_patent(*, return_X_y=False, as_frame=False):
    """Load the patents and R&D spending of 70 pharmaceutical companies.

    Number of patents (``Patents``, a count) of 70 pharmaceutical and
    biomedical companies in 1976, with the logarithm of R&D spending in
    millions of dollars (``lgRD``) and R&D spending per sales (``RDS``). The
    company name (``Company``) is a text column in ``frame``. flexmix's
    example fits a mixture of three Poisson regressions ``Patents ~ lgRD``
    with a gate on ``RDS``.

    ================  ==============
    Samples           70
    Features          2 (``lgRD``, ``RDS``)
    Target            ``Patents`` (a count, as float64)
    ================  ==============

    Parameters
    ----------
    %(params)s

    Returns
    -------
    %(returns)s

    Notes
    -----
    Exported from the R package flexmix 2.3-18 (data set ``patent``; company
    names without their fixed-width padding), distributed under GPL (>= 2).
    The data come from the National Bureau of Economic Research R&D
    Masterfile (Hall et al., 1988), as used by Wang, Cockburn and Puterman
    (1998).

    References
    ----------
    .. [1] Wang, P., Cockburn, I. M. and Puterman, M. L. (1998). Analysis of
       patent data: A mixed-Poisson-regression-model approach. Journal of
       Business & Economic Statistics, 16(1), 27-41.
    .. [2] Hall, B. H., Cummins, C., Laderman, E. and Mundy, J. (1988). The R&D
       Master File documentation. Technical Working Paper 72, National Bureau
       of Economic Research, Cambridge, MA.

    Examples
    --------
    >>> from skmoe.datasets import load_patent
    >>> data = load_patent()
    >>> data.data.shape, data.feature_names
    ((70, 2), ['lgRD', 'RDS'])
    >>> int(data.target.sum())
    1642
    """
    return _load("patent", return_X_y, as_frame)


@_doc
def load_mehta(*, return_X_y=False, as_frame=False):
    """Load the Mehta 22-centre trial (responses among treated patients).

    For each of 22 centres (``Site``) and each arm (``Drug``: ``"New"`` or
    ``"Control"``, text), the number of patients (``Total``) and of responses
    (``Response``). For binomial experts the feature is the 0/1 dummy
    ``new_drug`` (1 for the new drug), the target the proportion
    ``response_rate = Response / Total``, and the Bunch's ``sample_weight``
    holds ``Total``, the number of trials.

    ================  ==============
    Samples           44
    Features          1 (``new_drug``)
    Target            ``response_rate`` (with ``sample_weight = Total``)
    ================  ==============

    Parameters
    ----------
    %(params)s

    Returns
    -------
    %(returns)s

    Notes
    -----
    Exported from the R package flexmix 2.3-18 (data set ``Mehta``),
    distributed under GPL (>= 2). Original publication: Mehta, Patel and
    Senchaudhuri (1988); analysed as a random-effect model by Aitkin (1999).

    References
    ----------
    .. [1] Mehta, C. R., Patel, N. R. and Senchaudhuri, P. (1988). Importance
       sampling for estimating exact probabilities in permutational
       inference. Journal of the American Statistical Association, 83,
       999-1005.
    .. [2] Aitkin, M. (1999). Meta-analysis by random effect modelling in
       generalized linear models. Statistics in Medicine, 18, 2343-2351.

    Examples
    --------
    >>> from skmoe.datasets import load_mehta
    >>> data = load_mehta(as_frame=True)
    >>> data.frame.loc[0, "Drug"], int(data.frame.loc[0, "Total"])
    ('Control', 15)
    >>> int(data.sample_weight.sum())
    1023
    """
    return _load("mehta", return_X_y, as_frame)
