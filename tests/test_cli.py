"""The ``skmoe`` command line."""

import subprocess
import sys

import joblib
import numpy as np
import pytest

from skmoe.__main__ import main


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


def test_fit_prints_report_and_saves(csv_file, tmp_path, capsys):
    model = tmp_path / "model.joblib"
    argv = ["fit", str(csv_file), "--target", "target", "--n-experts", "2",
            "--save", str(model)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for label in ("features: u, v", "gate slope", "expert coef", "variance",
                  "log-likelihood", "BIC", "R^2"):
        assert label in out
    est = joblib.load(model)
    assert est.n_features_in_ == 2 and est.score(
        np.loadtxt(csv_file, delimiter=",", skiprows=1)[:, :2],
        np.loadtxt(csv_file, delimiter=",", skiprows=1)[:, 2]) > 0.9


@pytest.mark.parametrize(
    "content, target, message",
    [
        ("a,b,y\n1,2,3\n2,x,4\n", "y", "line 3, column 'b': non-numeric value 'x'"),
        ("a,b,y\n1,2,3\n", "z", "target column 'z' not found"),
        ("a,b,y\n1,2\n", "y", "line 2: expected 3 fields, got 2"),
        ("a,b,y\n", "y", "needs a header row and at least one data row"),
        ("y\n1\n2\n", "y", "no feature columns"),
        ("a,y\n1,nan\n2,3\n", "y", "NaN or infinite"),
        ("a,y\n1,2\n2,3\n", "y", "too few for n_experts=3"),
    ],
)
def test_fit_errors_are_one_line(tmp_path, capsys, content, target, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["fit", str(path), "--target", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skmoe: error:") and message in err
    assert err.count("\n") == 1


def test_fit_missing_and_binary_files(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "none.csv"), "--target", "y"]) == 2
    assert "cannot read" in capsys.readouterr().err
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\x00\xff\xfe\xfa")
    assert main(["fit", str(path), "--target", "y"]) == 2
    assert "not a readable CSV file" in capsys.readouterr().err


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
                        "seconds,init")
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
            assert fh.readline().strip().endswith("converged,seconds,init")
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
