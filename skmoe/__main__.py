"""Command line: ``skmoe demo``, ``fit``, ``predict``, ``rates``, ``reproduce``.

Every subcommand imports the parts of the package it uses when it runs (the
parser imports nothing, see ``tests/test_house.py``'s LAZY), so that ``skmoe
--help`` answers at once; CSV files are read with pandas.
"""

import argparse
import csv
import sys
import time
import warnings

import numpy as np

from . import __version__


class CLIError(Exception):
    """A user error reported as one line, without a traceback."""


def _fmt(values):
    return "[" + ", ".join(f"{v: .4f}" for v in np.atleast_1d(values)) + "]"


def _expert_rows(params, names):
    """Rows of the report for every expert of ``params``."""
    d = params.n_features
    blocks = params.experts.param_blocks(d)
    rows = []
    for k in range(params.n_experts):
        row = {
            "gate slope": _fmt(params.gate_coef[k]),
            "gate intercept": f"{params.gate_intercept[k]: .4f}",
        }
        for name, block in blocks.items():
            row[f"expert {name}"] = _fmt(params.expert_params[k, block])
        row["variance"] = f"{params.variance[k]: .4f}"
        rows.append(row)
    return rows


def _print_table(header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in
              enumerate(header)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def _print_model(params, feature_names, truth=None, est_index=None, true_index=None):
    print(f"features: {', '.join(feature_names)}")
    est_rows = _expert_rows(params, feature_names)
    if truth is None:
        header = ["expert", *est_rows[0].keys()]
        rows = [[k, *r.values()] for k, r in enumerate(est_rows)]
    else:
        true_rows = _expert_rows(truth, feature_names)
        header = ["true expert", "", *est_rows[0].keys()]
        rows = []
        # ``params`` is aligned to the truth: its row t is the estimate matched
        # to true expert t, originally estimated expert est_index[t]
        for e, t in zip(est_index, true_index, strict=True):
            rows.append([t, "true", *true_rows[t].values()])
            rows.append(["", f"est (#{e})", *est_rows[t].values()])
    _print_table(header, rows)


#: the help of --n-init, whose default is the estimator's
N_INIT_HELP = ("number of restarts (default: the estimator's default n_init; with "
               "the default --init auto each restart is the best of 20 short EM "
               "runs)")


def _given(**options):
    """The options given on the command line (the others keep the estimator's
    defaults, so that the command line follows them)."""
    return {name: value for name, value in options.items() if value is not None}


def _demo(args):
    # at once, before the imports and the fit (which compiles on a first run)
    print(
        f"skmoe demo: softmax-gated mixture of {args.n_experts} linear experts, "
        f"n_samples={args.n_samples}, n_features={args.n_features}", flush=True
    )
    from . import MixtureOfExpertsRegressor
    from .datasets import make_moe_regression
    from .metrics import match_experts, parameter_error

    X, y, truth = make_moe_regression(
        args.n_samples, args.n_features, args.n_experts,
        random_state=args.random_state,
    )
    est = MixtureOfExpertsRegressor(
        n_experts=args.n_experts, random_state=args.random_state,
        **_given(n_init=args.n_init),
    )
    t0 = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - t0
    print("Estimated experts are matched to true experts (Hungarian matching on")
    print("expert parameters, variances and centred gates), not compared by index.")
    print("Gates of the estimate are re-normalised to the true reference expert.\n")
    est_index, true_index = match_experts(est.params_, truth)
    order = np.empty(truth.n_experts, dtype=int)
    order[true_index] = est_index
    aligned = est.params_.permute(order)
    names = [f"x{j}" for j in range(args.n_features)]
    _print_model(aligned, names, truth, est_index, true_index)
    err = parameter_error(est.params_, truth)
    worst = max(float(v.max()) for k, v in err.items() if not k.endswith("index"))
    print()
    print(f"largest matched parameter error : {worst:.4f}")
    print(f"log-likelihood at the estimate  : {est.log_likelihood_:.3f}")
    print(f"log-likelihood at the truth     : {truth.log_density(X, y).sum():.3f}")
    print(f"R^2 (estimate / truth)          : {est.score(X, y):.4f} / "
          f"{1 - np.mean((y - truth.predict(X)) ** 2) / np.var(y):.4f}")
    print(f"EM iterations                   : {est.n_iter_} "
          f"(converged: {est.converged_})")
    print(f"fit time                        : {seconds:.2f} s (n_init={est.n_init})")
    return 0


# ----------------------------------------------------------------- CSV data
def _names(text):
    """A comma-separated list of column names (``""`` and ``"1"``: none)."""
    if text is None:
        return None
    text = text.strip()
    if text in ("", "1"):  # R's ~ 1: no covariate
        return []
    return [name.strip() for name in text.split(",")]


def _read_table(path):
    """The CSV file as a DataFrame of strings (missing cells NaN).

    The frame's index is the line number in the file (the header is line 1).
    The file is read without a header first, so that a row with more fields
    than the header is an error (pandas would otherwise take the first column
    as an index); a row with fewer fields has missing cells.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, header=None, skip_blank_lines=False,
                            skipinitialspace=True)
    except FileNotFoundError:
        raise CLIError(f"cannot read {path!r}: no such file") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        reason = " ".join(str(exc).split())
        raise CLIError(f"{path!r} is not a readable CSV file: {reason}") from None
    frame.index = np.arange(1, frame.shape[0] + 1)  # line numbers
    header = frame.iloc[0]
    if header.isna().any():
        raise CLIError(f"{path!r} line 1: column {int(header.isna().argmax()) + 1} "
                       "has no name.")
    frame.columns = [str(c).strip() for c in header]
    twice = frame.columns[frame.columns.duplicated()]
    if len(twice):
        raise CLIError(f"{path!r} line 1: column name {twice[0]!r} appears twice.")
    frame = frame.iloc[1:]
    frame = frame[frame.notna().any(axis=1)]  # blank lines
    if frame.empty:
        raise CLIError(f"{path!r} needs a header row and at least one data row.")
    return frame


def _require(path, frame, names, role):
    for name in names:
        if name not in frame.columns:
            raise CLIError(
                f"{role} column {name!r} not found in {path!r}; columns are "
                f"{', '.join(frame.columns)}."
            )


def _check_present(path, frame, column):
    """CLIError naming the first missing cell (R's NA or empty) of a column."""
    present = frame[column].notna()
    if not present.all():
        lines = [str(i) for i in frame.index[~present]]
        where = f"{path!r} line {lines[0]}, column {column!r}: missing value (NA "
        if len(lines) == 1:
            raise CLIError(where + "or empty cell); drop or impute the row.")
        more = f" and {len(lines) - 5} more" if len(lines) > 5 else ""
        raise CLIError(
            f"{where}or empty cell); {len(lines)} missing in this column (lines "
            f"{', '.join(lines[:5])}{more}); drop or impute those rows."
        )


def _numeric(path, frame, column):
    """A column as float64; one-line errors for text, bad and missing cells."""
    import pandas as pd

    text = frame[column]
    values = pd.to_numeric(text.str.strip(), errors="coerce")
    present = text.notna()
    bad = present & values.isna()
    if bad.any() and bad.sum() == present.sum():
        example = text[bad].iloc[0]
        raise CLIError(
            f"column {column!r} of {path!r} is text (e.g. {example!r}): leave it "
            f"out of the features (--features, --gate-features), or encode it "
            f"with --one-hot {column}."
        )
    if bad.any():
        row = bad.idxmax()
        raise CLIError(
            f"{path!r} line {row}, column {column!r}: non-numeric value "
            f"{text[row]!r}."
        )
    _check_present(path, frame, column)
    infinite = ~np.isfinite(values.to_numpy(dtype=np.float64))
    if infinite.any():
        row = text.index[infinite.argmax()]
        raise CLIError(
            f"{path!r} line {row}, column {column!r}: infinite value "
            f"{text[row]!r}."
        )
    return values.astype(np.float64)


def _one_hot(path, frame, column):
    """Treatment-coded dummies of a column: one per level but the first.

    Named ``"column=level"``; the first level (in sorted order) is the
    reference, as R's default contrasts. Returns the dummies and the
    reference level.
    """
    import pandas as pd

    _check_present(path, frame, column)
    text = frame[column]
    levels = sorted(text.str.strip().unique())
    dummies = {f"{column}={level}": (text.str.strip() == level).astype(np.float64)
               for level in levels[1:]}
    return pd.DataFrame(dummies, index=frame.index), levels[0]


def _design(args):
    """The estimator's inputs from the CSV: X, y, the selections and notes."""
    import pandas as pd

    frame = _read_table(args.data)
    _require(args.data, frame, [args.target], "target")
    features = _names(args.features)
    gate = _names(args.gate_features)
    one_hot = _names(args.one_hot) or []
    notes = []
    if features is None:
        features = [c for c in frame.columns if c != args.target]
        notes.append("features: every column but the target (choose them with "
                      "--features)")
    for role, names in (("feature", features), ("gate feature", gate or []),
                        ("--one-hot", one_hot)):
        _require(args.data, frame, names, role)
        if args.target in names:
            raise CLIError(f"the target {args.target!r} cannot be a {role}.")
    if not features and not gate:
        raise CLIError(
            f"{args.data!r} has no feature columns besides {args.target!r}; "
            "name them with --features."
        )
    used = list(dict.fromkeys(features + (gate or [])))
    for name in one_hot:
        if name not in used:
            raise CLIError(f"--one-hot {name}: not among the features "
                           f"({', '.join(used)}).")
    y = _numeric(args.data, frame, args.target).to_numpy()
    columns, expand = {}, {}
    for name in used:
        if name in one_hot:
            dummies, reference = _one_hot(args.data, frame, name)
            columns.update(dummies)
            expand[name] = list(dummies.columns)
            notes.append(f"{name}: one-hot, reference level {reference!r}, "
                         f"{dummies.shape[1]} dummies")
        else:
            columns[name] = _numeric(args.data, frame, name)
    X = pd.DataFrame(columns, index=frame.index).reset_index(drop=True)

    def expanded(names):
        return [c for n in names for c in expand.get(n, [n])]

    expert_features = expanded(features)
    gate_features = None if gate is None else expanded(gate)
    if expert_features == list(X.columns):
        expert_features = None
    return X, y, expert_features, gate_features, notes


def _check_writable(path):
    """CLIError unless a file can be written at ``path`` (before fitting)."""
    import os

    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise CLIError(f"cannot write {path!r}: it is a directory")
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path!r}: no directory {folder!r}")
    if not os.access(folder, os.W_OK) or (os.path.exists(target)
                                         and not os.access(target, os.W_OK)):
        raise CLIError(f"cannot write {path!r}: permission denied")


def _estimator_params(args):
    """The estimator's parameters given on the command line (None: its default)."""
    given = dict(n_experts=args.n_experts, gating=args.gating,
                 experts=args.experts, init_params=args.init, n_init=args.n_init,
                 max_iter=args.max_iter, random_state=args.random_state)
    return {k: v for k, v in given.items() if v is not None}


def _fit(args):
    from sklearn.exceptions import ConvergenceWarning

    from . import MixtureOfExpertsRegressor

    if args.save:
        _check_writable(args.save)
    X, y, expert_features, gate_features, notes = _design(args)
    est = MixtureOfExpertsRegressor(gate_features=gate_features,
                                    expert_features=expert_features,
                                    **_estimator_params(args))
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est.fit(X, y)
            report = est.summary(X, y)
    except ValueError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    seconds = time.perf_counter() - t0
    settings = {k: est.get_params()[k] for k in (
        "n_experts", "gating", "experts", "init_params", "n_init", "max_iter",
        "random_state")}
    print(f"skmoe fit {args.data}: target {args.target!r}, {X.shape[0]} rows")
    for note in notes:
        print(note)
    print("settings: " + ", ".join(f"{k}={v!r}" for k, v in settings.items()))
    print()
    print(report)
    print()
    print(f"R^2 of the mixture mean : {est.score(X, y):.4f}")
    print(f"fit time                : {seconds:.2f} s")
    for w in caught:
        print(f"warning: {str(w.message).splitlines()[0]}")
    if args.save:
        import joblib

        try:
            joblib.dump(est, args.save)
        except OSError as exc:
            raise CLIError(f"cannot write {args.save!r}: {exc.strerror or exc}") \
                from None
        print(f"model saved to {args.save}")
    return 0


def _predict(args):
    import joblib
    import pandas as pd

    if args.interval is not None and not 0 < args.interval < 1:
        raise CLIError(f"--interval must lie in (0, 1); got {args.interval}.")
    if args.output:
        _check_writable(args.output)
    try:
        model = joblib.load(args.model)
    except FileNotFoundError:
        raise CLIError(f"cannot read {args.model!r}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure
        raise CLIError(f"{args.model!r} is not a saved model: {exc}") from None
    names = getattr(model, "feature_names_in_", None)
    if names is None or not hasattr(model, "predict"):
        raise CLIError(f"{args.model!r} is not a model saved by skmoe fit (no "
                       "feature names).")
    frame = _read_table(args.data)
    columns, dummies = {}, {}
    for name in map(str, names):
        if name in frame.columns:
            columns[name] = _numeric(args.data, frame, name)
            continue
        source, _, level = name.partition("=")
        if not level or source not in frame.columns:
            raise CLIError(f"column {name!r} (a feature of the model) not found "
                           f"in {args.data!r}; columns are "
                           f"{', '.join(frame.columns)}.")
        _check_present(args.data, frame, source)
        text = frame[source].str.strip()
        columns[name] = (text == level).astype(np.float64)
        dummies.setdefault(source, (set(text), []))[1].append(level)
    for source, (levels, known) in dummies.items():
        # the fit's reference level sorts before every level with a dummy: a
        # level without one that sorts after, or a second one before, is new
        other = sorted(levels - set(known))
        if len(other) > 1 or (other and other[0] > min(known)):
            print(f"warning: column {source!r} has levels without a dummy in "
                  f"the model ({', '.join(other)}): one of them may be the "
                  "reference level, the others were not seen in the fit; all "
                  "get dummies 0, as the reference", file=sys.stderr)
    X = pd.DataFrame(columns, index=frame.index).reset_index(drop=True)
    try:
        out = pd.DataFrame({"prediction": model.predict(X)})
        if args.interval is not None:
            bounds = model.predict_interval(X, coverage=args.interval)
            out["lower"], out["upper"] = bounds[:, 0], bounds[:, 1]
    except ValueError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    if args.output:
        out.to_csv(args.output, index=False)
        print(f"{len(out)} predictions written to {args.output}")
    else:
        out.to_csv(sys.stdout, index=False)
    return 0


def _rates(args):
    from . import MixtureOfExpertsRegressor
    from .convergence import sample_size_study
    from .datasets import make_moe_regression

    try:
        _, _, truth = make_moe_regression(
            10, args.n_features, args.true_experts, gating=args.gating,
            experts=args.experts, x_distribution=args.x_distribution,
            random_state=args.random_state,
        )
        est = MixtureOfExpertsRegressor(
            n_experts=args.fitted_experts, gating=args.gating,
            experts=args.experts, max_iter=args.max_iter,
        )
        study = sample_size_study(
            est, truth, args.n_grid, args.replications, loss=args.loss,
            init=args.init, x_distribution=args.x_distribution,
            n_jobs=args.n_jobs, random_state=args.random_state,
        )
    except ValueError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    print(f"skmoe rates: {args.gating} gate, {args.experts} experts, "
          f"{args.true_experts} true / {args.fitted_experts} fitted experts, "
          f"{args.replications} replications, init={args.init}\n")
    header = ["n", *(f"mean {name}" for name in study.losses), "converged"]
    rows = []
    ns = study.summary()[0]
    means = {name: study.summary(name)[1] for name in study.losses}
    for k, n in enumerate(ns):
        conv = [r["converged"] for r in study.table if r["n"] == n]
        rows.append([n, *(f"{means[name][k]:.4g}" for name in study.losses),
                     f"{sum(conv)}/{len(conv)}"])
    _print_table(header, rows)
    print()
    for name in study.losses:
        if len(ns) < 2:
            break
        try:
            rate = study.rate(name, n_boot=200, random_state=args.random_state)
        except ValueError as exc:
            print(f"{name}: no rate ({exc})")
            continue
        print(f"{name}: slope on log n {rate['slope']:.3f} "
              f"(95% bootstrap CI [{rate['ci_low']:.3f}, {rate['ci_high']:.3f}])")
    if args.out:
        try:
            study.to_csv(args.out)
        except OSError as exc:
            raise CLIError(f"cannot write {args.out!r}: {exc.strerror or exc}") \
                from None
        print(f"table written to {args.out}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = study.plot()
        try:
            ax.figure.savefig(args.plot)
        except OSError as exc:
            raise CLIError(f"cannot write {args.plot!r}: {exc.strerror or exc}") \
                from None
        print(f"plot written to {args.plot}")
    return 0


_SUMMARY_FIELDS = (
    "study", "description", "loss", "scale", "paper", "n_min", "n_max",
    "n_sizes", "replications", "start", "exponent", "ci_low", "ci_high",
    "ols_low", "ols_high", "exponent_n1000", "ci_low_n1000", "ci_high_n1000",
    "converged", "wall_seconds",
)


def _exponents(study, scale, n_boot, seed):
    """Slopes of one study's first loss: all n, and n >= 1000 when possible.

    On ``log(log n / n)`` (the DeepSeekMoE paper's exponents) or on ``log n``
    (``scale``), with the bootstrap and the OLS intervals of
    :meth:`SampleSizeStudy.rate`.
    """
    loss = study.losses[0]
    out = {}
    r = study.rate(loss, scale=scale, n_boot=n_boot, random_state=seed)
    o = study.rate(loss, scale=scale, interval="ols")
    out.update(exponent=r["slope"], ci_low=r["ci_low"], ci_high=r["ci_high"],
               ols_low=o["ci_low"], ols_high=o["ci_high"])
    ns = sorted({row["n"] for row in study.table})
    if sum(n >= 1000 for n in ns) >= 2:
        r = study.rate(loss, scale=scale, n_boot=n_boot, random_state=seed,
                       n_min=1000)
        out.update(exponent_n1000=r["slope"], ci_low_n1000=r["ci_low"],
                   ci_high_n1000=r["ci_high"])
    else:
        out.update(exponent_n1000=np.nan, ci_low_n1000=np.nan,
                   ci_high_n1000=np.nan)
    return out


def _collapsed(study):
    """", k fits left an expert empty" when the table records any."""
    empty = [row["empty_experts"] > 0 for row in study.table
             if "empty_experts" in row]
    return f", {sum(empty)} with an empty expert" if any(empty) else ""


def _summary_row(name, study, n_boot, seed):
    from .convergence import PAPER_STUDIES

    description, paper, scale = PAPER_STUDIES[name]
    ns = sorted({row["n"] for row in study.table})
    conv = [row["converged"] for row in study.table]
    row = dict(study=name, description=description, loss=study.losses[0],
               scale=scale, paper="" if paper is None else paper,
               n_min=ns[0], n_max=ns[-1], n_sizes=len(ns),
               replications=len(study.table) // len(ns), start=study.init,
               converged=f"{sum(conv)}/{len(conv)}",
               wall_seconds=("" if study.wall_seconds is None
                             else round(study.wall_seconds, 1)))
    try:
        row.update(_exponents(study, scale, n_boot, seed))
    except ValueError as exc:
        print(f"{name}: no exponent ({exc})")
    return row


def _fmt_num(v, digits=3):
    if isinstance(v, str):
        return v
    return "nan" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def _summary_rst(rows):
    """An RST list-table of the summary (for the docs page)."""
    header = ["study", "loss", "paper", "exponent (95% CI), all n",
              "OLS 95% CI, all n", "exponent (95% CI), n >= 1e3", "grid",
              "start", "converged", "wall (s)"]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    cells = [header]
    for r in rows:
        f = {k: _fmt_num(r.get(k, np.nan)) for k in _SUMMARY_FIELDS}
        cells.append([
            r["study"], r["loss"], str(r["paper"]),
            f"{f['exponent']} [{f['ci_low']}, {f['ci_high']}]",
            f"[{f['ols_low']}, {f['ols_high']}]",
            f"{f['exponent_n1000']} [{f['ci_low_n1000']}, {f['ci_high_n1000']}]",
            f"{r['n_min']}..{r['n_max']} ({r['n_sizes']}) x {r['replications']}",
            str(r["start"]), r["converged"], str(r["wall_seconds"]),
        ])
    for row in cells:
        lines.append("   * - " + row[0])
        lines.extend(f"     - {c}" for c in row[1:])
    return "\n".join(lines) + "\n"


def _reproduce(args):
    import os

    from .convergence import (
        DEEPSEEK_FULL_GRID,
        PAPER_STUDIES,
        SHORT_GRID,
        SampleSizeStudy,
        paper_study,
    )

    names = args.only or list(PAPER_STUDIES)
    unknown = [n for n in names if n not in PAPER_STUDIES]
    if unknown:
        raise CLIError(f"unknown studies {unknown}; choose among "
                       f"{sorted(PAPER_STUDIES)}.")
    grid, reps = DEEPSEEK_FULL_GRID if args.full else SHORT_GRID
    grid = args.n_grid or grid
    reps = args.replications or reps
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create {args.out!r}: {exc.strerror or exc}") \
            from None
    summary_path = os.path.join(args.out, "summary.csv")
    previous = {}
    if args.summarize_only:
        print(f"skmoe reproduce: summarizing {len(names)} studies from the CSV "
              f"files in {args.out}")
        if os.path.exists(summary_path):  # keep the wall times measured
            with open(summary_path, newline="") as fh:
                previous = {r["study"]: r for r in csv.DictReader(fh)}
    else:
        print(f"skmoe reproduce: {len(names)} studies, n in {grid}, {reps} "
              f"replications, n_jobs={args.n_jobs}, output in {args.out}")
    t0 = time.perf_counter()
    rows = []
    for name in names:
        path = os.path.join(args.out, f"{name}.csv")
        if args.summarize_only:
            if not os.path.exists(path):
                raise CLIError(f"--summarize-only: {path!r} does not exist.")
            study = SampleSizeStudy.read_csv(path)
        else:
            try:
                study = paper_study(name, grid, reps, init=args.init,
                                    n_jobs=args.n_jobs,
                                    random_state=args.random_state,
                                    verbose=args.verbose,
                                    reference_n=args.reference_n)
            except ValueError as exc:
                raise CLIError(f"{name}: {str(exc).splitlines()[0]}") from None
            study.to_csv(path)
        if args.plot:
            study.save(args.out, name, scale=PAPER_STUDIES[name][2])
        row = _summary_row(name, study, args.n_boot, args.random_state)
        if name in previous and row["wall_seconds"] == "":
            row["wall_seconds"] = previous[name]["wall_seconds"]
        rows.append(row)
        print(f"{name}: {row['loss']} exponent {_fmt_num(row.get('exponent'))} "
              f"[{_fmt_num(row.get('ci_low'))}, {_fmt_num(row.get('ci_high'))}]"
              f" (paper {row['paper'] or '-'}), n >= 1e3: "
              f"{_fmt_num(row.get('exponent_n1000'))}; {row['converged']} "
              f"converged{_collapsed(study)}; {row['wall_seconds']} s",
              flush=True)
    with open(summary_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=_SUMMARY_FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(args.out, "summary.rst"), "w") as fh:
        fh.write(_summary_rst(rows))
    print(f"summary written to {os.path.join(args.out, 'summary.csv')} and "
          f"summary.rst; total wall time {time.perf_counter() - t0:.1f} s")
    return 0


#: the registered family names (skmoe.gating.GATINGS, skmoe.experts.EXPERTS)
#: and the estimator's start strings, spelled out so that --help imports
#: nothing; tests/test_cli.py checks them against the package
GATING_NAMES = ("softmax", "normalized_sigmoid", "hierarchical_softmax", "gaussian")
EXPERT_NAMES = ("linear", "polynomial", "ffn")
INIT_NAMES = ("auto", "random", "kmeans", "tensor")

#: the help of an option whose default is the estimator's
_ESTIMATOR_DEFAULT = "default: MixtureOfExpertsRegressor's"


def _fit_parser(sub):
    fit = sub.add_parser(
        "fit", help="fit a CSV file and print the summary of the fitted model",
        description="Fit a mixture of experts to a CSV file (header row; R's NA "
        "and empty cells are missing values) and print its summary: "
        "parameters with standard errors, sizes, log-likelihood, AIC, BIC.")
    fit.add_argument("data", help="CSV file with a header row")
    fit.add_argument("--target", required=True,
                     help="name of the target column (required)")
    fit.add_argument("--features", metavar="A,B",
                     help="comma-separated columns the experts read (flexmix's "
                     "y ~ a + b); default: every column but the target")
    fit.add_argument("--gate-features", metavar="Z",
                     help="comma-separated columns the gate reads (flexmix's "
                     "concomitant ~ z); '' or 1 for covariate-free weights (a "
                     "mixture of regressions, flexmix's FLXPconstant); default: "
                     "the features")
    fit.add_argument("--one-hot", metavar="COL",
                     help="comma-separated text (or numeric) features to encode "
                     "as 0/1 dummies, one per level but the first (the "
                     "reference, as R's contrasts), named COL=LEVEL; default: "
                     "none (text columns are refused)")
    fit.add_argument("--n-experts", type=int, metavar="K",
                     help=f"number of experts ({_ESTIMATOR_DEFAULT})")
    fit.add_argument("--gating", choices=GATING_NAMES,
                     help=f"gating family ({_ESTIMATOR_DEFAULT})")
    fit.add_argument("--experts", choices=EXPERT_NAMES,
                     help=f"expert family ({_ESTIMATOR_DEFAULT})")
    fit.add_argument("--init", choices=INIT_NAMES,
                     help=f"starting point of every restart, the estimator's "
                     f"init_params ({_ESTIMATOR_DEFAULT})")
    fit.add_argument("--n-init", type=int, metavar="N",
                     help=f"number of restarts; the best is kept "
                     f"({_ESTIMATOR_DEFAULT})")
    fit.add_argument("--max-iter", type=int, metavar="N",
                     help=f"iterations per restart ({_ESTIMATOR_DEFAULT})")
    fit.add_argument("--random-state", type=int, default=0, metavar="SEED",
                     help="seed of the starts (default: %(default)s, so that "
                     "two runs print the same fit)")
    fit.add_argument("--save", metavar="MODEL.joblib",
                     help="write the fitted estimator with joblib, for skmoe "
                     "predict (the path is checked before fitting); default: "
                     "not saved")
    fit.set_defaults(func=_fit)


def _predict_parser(sub):
    predict = sub.add_parser(
        "predict", help="predict a CSV file with a model saved by skmoe fit",
        description="Write the predictions (the mixture mean) of a saved model "
        "for the rows of a CSV file, as CSV, in the rows' order.")
    predict.add_argument("model", help="model saved by skmoe fit --save")
    predict.add_argument("data", help="CSV file with the model's feature columns "
                         "(by name; other columns are ignored)")
    predict.add_argument("--interval", type=float, metavar="COVERAGE",
                         help="also write the central prediction interval of "
                         "this coverage, in (0, 1), as columns lower and upper; "
                         "default: none")
    predict.add_argument("--output", metavar="OUT.csv",
                         help="write the CSV there; default: standard output")
    predict.set_defaults(func=_predict)


def build_parser():
    """The ``skmoe`` argument parser.

    It imports nothing from the package (the subcommands do), so that
    ``skmoe --help`` answers at once.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``skmoe demo``, ``fit``, ``predict``, ``rates`` and
        ``reproduce``.
    """
    parser = argparse.ArgumentParser(
        prog="skmoe", description="Mixture-of-experts regression."
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="fit data drawn from a known MoE and compare with the truth"
    )
    demo.add_argument("--n-samples", type=int, default=20000,
                      help="rows of the data (default: %(default)s)")
    demo.add_argument("--n-features", type=int, default=2,
                      help="input features (default: %(default)s)")
    demo.add_argument("--n-experts", type=int, default=3,
                      help="true and fitted experts (default: %(default)s)")
    demo.add_argument("--n-init", type=int, default=None,
                      help=N_INIT_HELP)
    demo.add_argument("--random-state", type=int, default=0,
                      help="seed of the data and the starts (default: "
                      "%(default)s)")
    demo.set_defaults(func=_demo)

    _fit_parser(sub)
    _predict_parser(sub)

    rates = sub.add_parser(
        "rates", help="convergence-rate study: losses of fits on growing samples"
    )
    rates.add_argument("--gating", default="softmax", choices=GATING_NAMES,
                       help="gating family (default: %(default)s)")
    rates.add_argument("--experts", default="linear", choices=EXPERT_NAMES,
                       help="expert family (default: %(default)s)")
    rates.add_argument("--n-features", type=int, default=1,
                       help="input features (default: %(default)s)")
    rates.add_argument("--true-experts", type=int, default=2,
                       help="experts of the truth (default: %(default)s)")
    rates.add_argument("--fitted-experts", type=int, default=3,
                       help="experts of the fits (default: %(default)s)")
    rates.add_argument("--n-grid", type=int, nargs="+",
                       default=[100, 300, 1000, 3000],
                       help="sample sizes (default: %(default)s)")
    rates.add_argument("--replications", type=int, default=10,
                       help="fits per sample size (default: %(default)s)")
    rates.add_argument("--loss", nargs="+", default=["voronoi"],
                       help="voronoi, D1, D2, D3, parameter_error, regression, "
                       "hellinger (default: %(default)s)")
    rates.add_argument("--init", default="near_true",
                       choices=["near_true", "near_true_authors", "random",
                                "truth"],
                       help="start of the fits (default: %(default)s)")
    rates.add_argument("--x-distribution", default="uniform",
                       choices=["uniform", "normal"],
                       help="distribution of the inputs (default: %(default)s)")
    rates.add_argument("--max-iter", type=int, default=1000,
                       help="iterations per fit (default: %(default)s)")
    rates.add_argument("--n-jobs", type=int, default=-1,
                       help="parallel fits, -1 for all cores (default: "
                       "%(default)s)")
    rates.add_argument("--random-state", type=int, default=0,
                       help="seed (default: %(default)s)")
    rates.add_argument("--out", metavar="TABLE.csv",
                       help="write the table as CSV (default: not written)")
    rates.add_argument("--plot", metavar="PLOT.png",
                       help="write the log-log plot, needs matplotlib (default: "
                       "not written)")
    rates.set_defaults(func=_rates)

    repro = sub.add_parser(
        "reproduce",
        help="the studies of the docs page 'Reproducing the papers': CSV, PNG "
        "and a summary table of exponents",
    )
    repro.add_argument("--full", action="store_true",
                       help="the paper's grid: n from 1e2 to 1e5 (13 sizes), 40 "
                       "replications (default: a short grid)")
    repro.add_argument("--only", nargs="+", metavar="STUDY",
                       help="a, a_x, b, b_x, c, d, d_x, exact_softmax, ls_ffn, "
                       "ls_linear (default: all)")
    repro.add_argument("--n-grid", type=int, nargs="+",
                       help="sample sizes (default: the grid's)")
    repro.add_argument("--replications", type=int,
                       help="replications per size (default: the grid's)")
    repro.add_argument("--init", default=None,
                       choices=["near_true", "near_true_authors", "random",
                                "truth"],
                       help="start of the fits (default: each study's own)")
    repro.add_argument("--reference-n", type=int, default=None,
                       help="sample size of the D4 reference fit (default: 10 "
                       "x the largest n, at least 1e5)")
    repro.add_argument("--n-boot", type=int, default=1000,
                       help="bootstrap resamples of the intervals (default: "
                       "%(default)s)")
    repro.add_argument("--n-jobs", type=int, default=-1,
                       help="parallel fits, -1 for all cores (default: "
                       "%(default)s)")
    repro.add_argument("--random-state", type=int, default=0,
                       help="seed (default: %(default)s)")
    repro.add_argument("--verbose", type=int, default=0,
                       help="print the fits' progress (default: %(default)s)")
    repro.add_argument("--out", default="skmoe-reproduce", metavar="DIR",
                       help="directory of the CSV, PNG and summary files "
                       "(default: %(default)s)")
    repro.add_argument("--no-plot", dest="plot", action="store_false",
                       help="write no PNG (default: write them)")
    repro.add_argument("--summarize-only", action="store_true",
                       help="recompute the summary from the CSV files in DIR "
                       "(default: run the studies)")
    repro.set_defaults(func=_reproduce)
    return parser


def main(argv=None):
    """Entry point of the ``skmoe`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    status : int
        0 on success, 2 on a user error.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"skmoe: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
