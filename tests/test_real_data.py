"""The shipped real data sets equal the R originals they were exported from.

Reference numbers were printed by R 4.2.2 with ``options(digits = 17)`` from
MASS 7.3-58.2, flexmix 2.3-18 and mixtools 2.0.0 (Debian bookworm), e.g.::

    library(MASS); data(mcycle); dim(mcycle); colMeans(mcycle); head(mcycle, 2)

The CSVs hold each double exactly (see skmoe/_data/export_from_r.R), so first
and last rows are compared exactly. Column means are compared with
rtol=1e-14: R's ``colMeans`` sums in long double and NumPy pairwise in
double, which may differ in the last bits (a few ulp, about 1e-16 relative).
"""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from skmoe.datasets import (
    load_co2,
    load_mcycle,
    load_mehta,
    load_npreg,
    load_patent,
    load_tonedata,
)

MEAN_RTOL = 1e-14  # long-double vs pairwise summation of the same doubles

# loader -> (shape of frame, {column: R dtype}, {column: R column mean},
#            {row: {column: value}}) with rows 0-based as in pandas
R_REFERENCE = {
    load_mcycle: (
        (133, 2), {"times": "float64", "accel": "float64"},
        {"times": 25.178947368421053, "accel": -25.545864661654136},
        {0: {"times": 2.4, "accel": 0.0}, 1: {"times": 2.6, "accel": -1.3},
         132: {"times": 57.6, "accel": 10.7}},
    ),
    load_npreg: (
        (200, 7), {"x": "float64", "yn": "float64", "yp": "float64",
                   "yb": "float64", "class": "int64", "id1": "int64",
                   "id2": "int64"},
        {"x": 5.03077533551258949, "yn": 28.60697896670716744, "yp": 3.955,
         "yb": 0.475, "class": 1.5},
        {0: {"x": 4.1766325896605849, "yn": 22.3803786593515177, "yp": 4,
             "yb": 0, "class": 1, "id1": 1, "id2": 1},
         1: {"x": 1.2016305490396917, "yn": 5.1115746070466477, "yp": 3},
         199: {"x": 9.1869289753958583, "yn": 22.408125873884792, "yp": 7,
               "yb": 0, "class": 2, "id1": 100, "id2": 50}},
    ),
    load_tonedata: (
        (150, 2), {"stretchratio": "float64", "tuned": "float64"},
        {"stretchratio": 2.1652, "tuned": 2.0722133333333335},
        {0: {"stretchratio": 1.35, "tuned": 1.461},
         1: {"stretchratio": 1.4, "tuned": 1.407},
         149: {"stretchratio": 3.0, "tuned": 2.91}},
    ),
    load_co2: (
        (28, 3), {"GNP": "float64", "CO2": "float64", "country": "text"},
        {"GNP": 19.0678571428571431, "CO2": 9.0821428571428573},
        {0: {"GNP": 19.02, "CO2": 14.7, "country": "CAN"},
         1: {"GNP": 3.67, "CO2": 3.9, "country": "MEX"},
         27: {"GNP": 2.41, "CO2": 12.3, "country": "RUS"}},
    ),
    load_patent: (
        (70, 4), {"Company": "text", "Patents": "int64", "RDS": "float64",
                  "lgRD": "float64"},
        {"Patents": 23.457142857142855519, "RDS": 0.097227142857142859,
         "lgRD": 1.311938571428571398},
        {0: {"Company": "ABBOTT LABORATORIES", "Patents": 42, "RDS": 0.0549,
             "lgRD": 4.0869},
         1: {"Company": "AFFILIATED HOSPITAL PRDS", "Patents": 1,
             "RDS": 0.0032, "lgRD": -2.0794},
         69: {"Company": "TECHNICARE CORP", "Patents": 4, "RDS": 0.0591,
              "lgRD": 1.8089}},
    ),
    load_mehta: (
        (44, 6), {"Response": "int64", "Total": "int64", "Drug": "text",
                  "Site": "int64", "new_drug": "float64",
                  "response_rate": "float64"},
        {"Response": 1.5681818181818181, "Total": 23.25},
        {0: {"Response": 0, "Total": 15, "Drug": "Control", "Site": 1},
         1: {"Response": 6, "Total": 38, "Drug": "Control", "Site": 2},
         43: {"Response": 0, "Total": 21, "Drug": "New", "Site": 22}},
    ),
}
LOADERS = list(R_REFERENCE)


@pytest.mark.parametrize("load", LOADERS, ids=lambda f: f.__name__)
def test_frame_matches_r(load):
    shape, dtypes, means, rows = R_REFERENCE[load]
    frame = load(as_frame=True).frame
    assert frame.shape == shape
    assert list(frame.columns) == list(dtypes)
    for col, dtype in dtypes.items():
        if dtype == "text":  # text stays text (object or pandas' str dtype)
            assert pd.api.types.is_string_dtype(frame[col]), col
            assert all(isinstance(v, str) for v in frame[col]), col
        else:
            assert frame[col].dtype == np.dtype(dtype), col
    for col, mean in means.items():
        assert_allclose(frame[col].mean(), mean, rtol=MEAN_RTOL, err_msg=col)
    for row, values in rows.items():
        for col, value in values.items():
            assert frame.loc[row, col] == value, (row, col)


@pytest.mark.parametrize("load", LOADERS, ids=lambda f: f.__name__)
def test_bunch_arrays_and_frames(load):
    bunch = load()
    n = R_REFERENCE[load][0][0]
    assert set(bunch) >= {"data", "target", "feature_names", "target_names",
                          "frame", "DESCR"}
    assert isinstance(bunch.data, np.ndarray) and bunch.data.dtype == np.float64
    assert bunch.data.shape == (n, len(bunch.feature_names))
    assert bunch.target.shape == (n,) and bunch.target.dtype == np.float64
    assert bunch.frame is None
    assert "GPL" in bunch.DESCR and "Source" in bunch.DESCR

    framed = load(as_frame=True)
    assert isinstance(framed.data, pd.DataFrame)
    assert list(framed.data.columns) == bunch.feature_names
    assert isinstance(framed.target, pd.Series)
    assert framed.target.name == bunch.target_names[0]
    assert_allclose(framed.data.to_numpy(), bunch.data, rtol=0)
    assert_allclose(framed.target.to_numpy(), bunch.target, rtol=0)
    # data and target are columns of frame, as in scikit-learn's loaders
    for col in bunch.feature_names + bunch.target_names:
        assert col in framed.frame.columns

    X, y = load(return_X_y=True)
    assert_allclose(X, bunch.data, rtol=0)
    assert_allclose(y, bunch.target, rtol=0)
    X, y = load(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)


def test_features_and_targets():
    assert load_mcycle().feature_names == ["times"]
    assert load_tonedata().target_names == ["tuned"]
    assert load_co2().feature_names == ["GNP"]
    assert load_patent().feature_names == ["lgRD", "RDS"]
    assert load_patent().target_names == ["Patents"]
    assert load_patent().target.sum() == 1642  # R: sum(patent$Patents)
    # the true class is never a feature
    assert load_npreg().feature_names == ["x"]
    for target, r_mean in (("yn", 28.60697896670716744), ("yp", 3.955),
                           ("yb", 0.475)):
        data = load_npreg(target=target)
        assert data.target_names == [target]
        assert_allclose(data.target.mean(), r_mean, rtol=MEAN_RTOL)


def test_mehta_binomial_encoding():
    data = load_mehta(as_frame=True)
    frame = data.frame
    # R: table(Mehta$Drug) gives 22 New, 22 Control; sum(Response) 69,
    # sum(Total) 1023
    assert data.data["new_drug"].tolist() == [0.0] * 22 + [1.0] * 22
    assert (frame["Drug"] == "New").sum() == 22
    assert_allclose(data.target * data.sample_weight, frame["Response"], rtol=1e-15)
    assert data.sample_weight.sum() == 1023
    assert frame["Response"].sum() == 69
    X, y = load_mehta(return_X_y=True)
    assert X.shape == (44, 1) and np.all((y >= 0) & (y <= 1))


@pytest.mark.parametrize("load", LOADERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", ["return_X_y", "as_frame"])
def test_bad_flags(load, name):
    with pytest.raises(ValueError, match=name):
        load(**{name: "yes"})


def test_bad_npreg_target():
    with pytest.raises(ValueError, match="target must be 'yn', 'yp' or 'yb'"):
        load_npreg(target="class")
