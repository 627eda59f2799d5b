"""The ``skmoe`` command line."""

import argparse
import io
import subprocess
import sys
import time

import joblib
import numpy as np
import pytest

from skmoe import MixtureOfExpertsRegressor
from skmoe import __version__ as skmoe_version
from skmoe.__main__ import EXPERT_NAMES, GATING_NAMES, INIT_NAMES, build_parser, main

pd = pytest.importorskip("pandas")


def test_demo_prints_the_matched_table(capsys):
    assert main(["demo", "--n-samples", "3000", "--n-init", "2"]) == 0
    out = capsys.readouterr().out
    assert "true" in out and "est (#" in out
    for label in ("log-likelihood at the estimate", "log-likelihood at the truth",
                  "R^2", "EM iterations", "fit time"):
        assert label in out
    # three experts: a true row and an estimated row each
    assert out.count("true  ") >= 3


@pytest.fixture
def csv_file(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 2))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1], 1 - X[:, 1]) + 0.1 * rng.standard_normal(300)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", header="u,v,target", comments="")
    return path


def test_fit_prints_the_summary_and_saves(csv_file, tmp_path, capsys):
    model = tmp_path / "model.joblib"
    argv = ["fit", str(csv_file), "--target", "target", "--n-experts", "2",
            "--save", str(model)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for label in ("features: every column but the target", "settings: n_experts=2",
                  "linear experts on u, v", "Coefficients", "std. error",
                  "log-likelihood", "BIC", "R^2", "model saved to"):
        assert label in out
    est = joblib.load(model)
    data = np.loadtxt(csv_file, delimiter=",", skiprows=1)
    assert list(est.feature_names_in_) == ["u", "v"]
    assert est.score(pd.DataFrame(data[:, :2], columns=["u", "v"]), data[:, 2]) > 0.9
    # the estimator's defaults, not the command line's
    assert est.init_params == MixtureOfExpertsRegressor().init_params
    assert est.n_init == MixtureOfExpertsRegressor().n_init


def test_gate_and_expert_features(tmp_path, capsys):
    rng = np.random.RandomState(0)
    x, z, junk = rng.uniform(-2, 2, (3, 300))
    y = np.where(z > 0, 1 + 2 * x, -1 - x) + 0.1 * rng.standard_normal(300)
    path = tmp_path / "d.csv"
    pd.DataFrame({"x": x, "z": z, "junk": junk, "y": y}).to_csv(path, index=False)
    model = tmp_path / "m.joblib"
    assert main(["fit", str(path), "--target", "y", "--features", "x",
                 "--gate-features", "z", "--n-experts", "2", "--save",
                 str(model)]) == 0
    out = capsys.readouterr().out
    assert "softmax gate on z; linear experts on x" in out
    est = joblib.load(model)
    assert list(est.feature_names_in_) == ["x", "z"]  # junk is not read
    assert est.gate_features == ["z"] and est.expert_features == ["x"]
    # the same as the estimator on the same columns
    same = MixtureOfExpertsRegressor(2, gate_features=["z"], expert_features=["x"],
                                     random_state=0)
    same.fit(pd.DataFrame({"x": x, "z": z}), y)
    np.testing.assert_array_equal(est.params_.expert_params,
                                  same.params_.expert_params)
    for empty in ("", "1"):  # covariate-free weights
        assert main(["fit", str(path), "--target", "y", "--features", "x",
                     "--gate-features", empty, "--n-experts", "2"]) == 0
        assert "softmax gate with covariate-free weights" in capsys.readouterr().out


def test_one_hot_fit_and_predict(tmp_path, capsys):
    rng = np.random.RandomState(1)
    group = rng.choice(["a", "b", "c"], 300)
    x = rng.uniform(-2, 2, 300)
    y = np.where(group == "b", 3.0, 0.0) + x + 0.2 * rng.standard_normal(300)
    path = tmp_path / "g.csv"
    pd.DataFrame({"x": x, "group": group, "y": y}).to_csv(path, index=False)
    assert main(["fit", str(path), "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert "column 'group' of" in err and "--one-hot group" in err
    model = tmp_path / "m.joblib"
    assert main(["fit", str(path), "--target", "y", "--one-hot", "group",
                 "--n-experts", "2", "--save", str(model)]) == 0
    assert "group: one-hot, reference level 'a', 2 dummies" in capsys.readouterr().out
    est = joblib.load(model)
    assert list(est.feature_names_in_) == ["x", "group=b", "group=c"]
    new = tmp_path / "new.csv"
    pd.DataFrame({"group": ["a", "c", "d"], "x": [0.0, 1.0, 2.0]}).to_csv(
        new, index=False)
    assert main(["predict", str(model), str(new)]) == 0
    captured = capsys.readouterr()
    assert "levels without a dummy in the model (a, d)" in captured.err
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0], "group=b": 0.0,
                      "group=c": [0.0, 1.0, 0.0]})
    got = pd.read_csv(io.StringIO(captured.out))["prediction"].to_numpy()
    np.testing.assert_allclose(got, est.predict(X), rtol=1e-15)


def test_predict_writes_predictions_and_intervals(csv_file, tmp_path, capsys):
    model = tmp_path / "m.joblib"
    assert main(["fit", str(csv_file), "--target", "target", "--n-experts", "2",
                 "--save", str(model)]) == 0
    capsys.readouterr()
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(csv_file), "--interval", "0.9",
                 "--output", str(out)]) == 0
    assert "300 predictions written to" in capsys.readouterr().out
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["prediction", "lower", "upper"]
    est = joblib.load(model)
    X = pd.read_csv(csv_file)[["u", "v"]]
    # CSV round trip of float64 (repr: 17 significant digits) is exact
    np.testing.assert_array_equal(pred["prediction"], est.predict(X))
    np.testing.assert_array_equal(pred[["lower", "upper"]],
                                  est.predict_interval(X, 0.9))


@pytest.mark.parametrize("argv, message", [
    (["--interval", "1.5"], "--interval must lie in (0, 1); got 1.5"),
    (["--output", "/no/such/dir/p.csv"], "cannot write '/no/such/dir/p.csv'"),
])
def test_predict_errors(csv_file, tmp_path, capsys, argv, message):
    model = tmp_path / "m.joblib"
    assert main(["fit", str(csv_file), "--target", "target", "--n-experts", "2",
                 "--save", str(model)]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(csv_file), *argv]) == 2
    assert message in capsys.readouterr().err
    other = tmp_path / "other.csv"
    other.write_text("u,w\n1,2\n")
    assert main(["predict", str(model), str(other)]) == 2
    assert "column 'v' (a feature of the model) not found" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "none.joblib"), str(other)]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["predict", str(other), str(other)]) == 2
    assert "is not a saved model" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, argv, message",
    [
        ("a,b,y\n1,2,3\n2,x,4\n", [], "line 3, column 'b': non-numeric value 'x'"),
        ("a,b,y\n1,2,3\n", ["--target", "z"], "target column 'z' not found"),
        ("a,b,y\n1,2\n", [], "line 2, column 'y': missing value (NA or empty "
                              "cell); drop or impute the row"),
        ("a,y\n1,NA\n2,\n3,4\n", [], "line 2, column 'y': missing value (NA or "
                                       "empty cell); 2 missing in this column "
                                       "(lines 2, 3)"),
        ("a,y\n1,nan\n2,3\n", [], "line 2, column 'y': missing value"),
        ("a,y\n1,inf\n2,3\n", [], "line 2, column 'y': infinite value 'inf'"),
        ("a,b,y\n1,2,3,4\n", [], "is not a readable CSV file"),
        ("a,b,y\n", [], "needs a header row and at least one data row"),
        ("a,a,y\n1,2,3\n", [], "line 1: column name 'a' appears twice"),
        ("a,,y\n1,2,3\n", [], "line 1: column 2 has no name"),
        ("a,b,y\n1,2,3\n\n4,5,6\n7,8,x\n", [],
         "line 5, column 'y': non-numeric value 'x'"),
        ("y\n1\n2\n", [], "no feature columns besides 'y'"),
        ("a,y\n1,2\n2,3\n", [], "too few for n_experts=3"),
        ("a,c,y\nx,1,2\nz,2,3\n", [], "column 'a' of"),
        ("a,b,y\n1,2,3\n", ["--features", "a,q"], "feature column 'q' not found"),
        ("a,b,y\n1,2,3\n", ["--gate-features", "q"],
         "gate feature column 'q' not found"),
        ("a,b,y\n1,2,3\n", ["--features", "a", "--one-hot", "b"],
         "--one-hot b: not among the features (a)"),
        ("a,b,y\n1,2,3\n", ["--features", "a,y"], "the target 'y' cannot be"),
        ("a,b,y\n1,2,3\n", ["--init", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_fit_errors_are_one_line(tmp_path, capsys, content, argv, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    if "--target" not in argv:
        argv = ["--target", "y", *argv]
    try:
        status = main(["fit", str(path), *argv])
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("skmoe: error:") or err.startswith("usage:")
    if err.startswith("skmoe: error:"):
        assert err.count("\n") == 1


def test_fit_missing_and_binary_files(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "none.csv"), "--target", "y"]) == 2
    assert "cannot read" in capsys.readouterr().err
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\x00\xff\xfe\xfa")
    assert main(["fit", str(path), "--target", "y"]) == 2
    assert "not a readable CSV file" in capsys.readouterr().err


def test_a_bad_save_path_is_refused_before_fitting(csv_file, tmp_path, capsys,
                                                   monkeypatch):
    import skmoe

    def no_fit(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("fitted before checking --save")

    monkeypatch.setattr(skmoe.MixtureOfExpertsRegressor, "fit", no_fit)
    for bad, reason in ((tmp_path / "no" / "m.joblib", "no directory"),
                        (tmp_path, "it is a directory")):
        assert main(["fit", str(csv_file), "--target", "target", "--save",
                     str(bad)]) == 2
        assert reason in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"skmoe {skmoe_version}"


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions
               if isinstance(a, argparse._SubParsersAction))
    return sub.choices


@pytest.mark.parametrize("name", ["demo", "fit", "predict", "rates"])
def test_every_option_has_a_help_text_with_its_default(name):
    for action in _subcommands()[name]._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        assert action.help, (name, action.dest)
        if not action.required:
            assert "default" in action.help, (name, action.dest)


def test_spelled_out_names_are_the_packages():
    from skmoe._estimator import MixtureOfExpertsRegressor as Est
    from skmoe.experts import EXPERTS
    from skmoe.gating import GATINGS

    assert set(GATING_NAMES) == set(GATINGS)
    assert set(EXPERT_NAMES) == set(EXPERTS)
    init = next(c for c in Est._parameter_constraints["init_params"]
                if hasattr(c, "options"))
    assert set(INIT_NAMES) == set(init.options)


def test_help_answers_at_once():
    # --help imports neither scikit-learn, Numba, SciPy nor pandas (the
    # subcommands do), and answers within a second; the fastest of three
    # runs is timed, because the machine may be loaded
    code = ("import sys\nfrom skmoe.__main__ import main\n"
            "try:\n    main(['fit', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('sklearn', 'numba', 'scipy', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"
    seconds = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "skmoe", "--help"],
                       capture_output=True, check=True)
        seconds.append(time.perf_counter() - t0)
    assert min(seconds) < 1.0, seconds


@pytest.mark.slow
def test_console_entry_point_runs_as_module():
    out = subprocess.run(
        [sys.executable, "-m", "skmoe", "demo", "--n-samples", "2000"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "skmoe demo" in out


def test_rates_writes_table_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "t.csv", tmp_path / "p.png"
    argv = ["rates", "--true-experts", "1", "--fitted-experts", "2",
            "--n-grid", "60", "120", "--replications", "2", "--loss", "voronoi",
            "regression", "--n-jobs", "1", "--max-iter", "50",
            "--out", str(out), "--plot", str(png)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "slope on log n" in text and "mean voronoi" in text
    with open(out) as fh:
        lines = fh.read().splitlines()
    assert lines[0] == ("n,replication,voronoi,regression,n_iter,converged,"
                        "empty_experts,coinciding,seconds,init")
    assert len(lines) == 5
    assert png.stat().st_size > 0


def test_rates_reports_user_errors(capsys):
    argv = ["rates", "--true-experts", "3", "--fitted-experts", "2",
            "--n-grid", "60", "--replications", "1", "--n-jobs", "1"]
    assert main(argv) == 2
    assert "n_experts >= the true number" in capsys.readouterr().err


def test_reproduce_writes_tables_plots_and_summary(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rep"
    argv = ["reproduce", "--only", "b", "exact_softmax", "--n-grid", "60", "120",
            "240", "--replications", "2", "--n-jobs", "1", "--n-boot", "50",
            "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "b: D2 exponent" in text and "(paper 0.517)" in text
    assert "exact_softmax: D1 exponent" in text
    for name in ("b", "exact_softmax"):
        assert (out / f"{name}.png").stat().st_size > 0
        with open(out / f"{name}.csv") as fh:
            assert fh.readline().strip().endswith(
                "converged,empty_experts,coinciding,seconds,init")
    with open(out / "summary.csv") as fh:
        header = fh.readline().strip().split(",")
        rows = fh.read().splitlines()
    assert header[:4] == ["study", "description", "loss", "scale"]
    assert "exponent_n1000" in header and "wall_seconds" in header
    assert len(rows) == 2 and ",near_true_authors," in rows[0]
    assert (out / "summary.rst").read_text().startswith(".. list-table::")
    # the summary again, from the CSV files only
    first = (out / "summary.csv").read_text().splitlines()[1].split(",")
    assert main(argv + ["--summarize-only"]) == 0
    again = (out / "summary.csv").read_text().splitlines()[1].split(",")
    for col in (header.index("exponent"), header.index("wall_seconds")):
        assert again[col] == first[col] != ""


def test_reproduce_reports_user_errors(tmp_path, capsys):
    argv = ["reproduce", "--only", "e", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "unknown studies ['e']" in capsys.readouterr().err


def test_n_init_follows_the_estimator_default(csv_file, tmp_path, capsys):
    # issue 18: the command line defaulted to 3 random starts, the estimator
    # to one; without --n-init the estimator's default is used, whatever it is
    from skmoe import MixtureOfExpertsRegressor
    from skmoe.__main__ import build_parser

    for command in (["demo"], ["fit", str(csv_file), "--target", "target"]):
        assert build_parser().parse_args(command).n_init is None
    model = tmp_path / "model.joblib"
    assert main(["fit", str(csv_file), "--target", "target", "--n-experts", "2",
                 "--save", str(model)]) == 0
    assert joblib.load(model).n_init == MixtureOfExpertsRegressor().n_init
    assert main(["fit", str(csv_file), "--target", "target", "--n-experts", "2",
                 "--n-init", "2", "--save", str(model)]) == 0
    assert joblib.load(model).n_init == 2
    assert main(["demo", "--n-samples", "2000"]) == 0
    assert f"(n_init={MixtureOfExpertsRegressor().n_init})" in capsys.readouterr().out
