"""Command line: ``skmoe demo``, ``skmoe fit DATA.csv --target Y``, ``skmoe rates``,
``skmoe reproduce``."""

import argparse
import csv
import sys
import time
import warnings

import numpy as np


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
        n_experts=args.n_experts, n_init=args.n_init, random_state=args.random_state
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
    print(f"fit time                        : {seconds:.2f} s (n_init={args.n_init})")
    return 0


def _read_csv(path, target):
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise CLIError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CLIError(f"{path!r} is not a readable CSV file: {exc}") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise CLIError(f"{path!r} needs a header row and at least one data row.")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise CLIError(
            f"target column {target!r} not found in {path!r}; columns are "
            f"{', '.join(header)}."
        )
    data = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise CLIError(
                f"{path!r} line {i}: expected {len(header)} fields, got {len(row)}."
            )
        for j, cell in enumerate(row):
            try:
                data[i - 2, j] = float(cell)
            except ValueError:
                raise CLIError(
                    f"{path!r} line {i}, column {header[j]!r}: non-numeric value "
                    f"{cell!r}."
                ) from None
    if not np.all(np.isfinite(data)):
        raise CLIError(f"{path!r} contains NaN or infinite values.")
    t = header.index(target)
    features = [h for j, h in enumerate(header) if j != t]
    if not features:
        raise CLIError(f"{path!r} has no feature columns besides {target!r}.")
    return np.delete(data, t, axis=1), data[:, t], features


def _fit(args):
    from sklearn.exceptions import ConvergenceWarning

    from . import MixtureOfExpertsRegressor

    X, y, features = _read_csv(args.data, args.target)
    est = MixtureOfExpertsRegressor(
        n_experts=args.n_experts, gating=args.gating, experts=args.experts,
        n_init=args.n_init, max_iter=args.max_iter, random_state=args.random_state,
    )
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est.fit(X, y)
    except ValueError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    seconds = time.perf_counter() - t0
    print(f"skmoe fit {args.data}: target {args.target!r}, {X.shape[0]} rows, "
          f"{X.shape[1]} features, {args.n_experts} experts "
          f"({args.gating} gate, {args.experts} experts)\n")
    _print_model(est.params_, features)
    print()
    print(f"log-likelihood : {est.log_likelihood_:.4f}")
    print(f"BIC            : {est.bic(X, y):.4f}")
    print(f"R^2            : {est.score(X, y):.4f}")
    print(f"EM iterations  : {est.n_iter_} (converged: {est.converged_})")
    print(f"fit time       : {seconds:.2f} s")
    for w in caught:
        print(f"warning: {w.message}")
    if args.save:
        import joblib

        try:
            joblib.dump(est, args.save)
        except OSError as exc:
            raise CLIError(f"cannot write {args.save!r}: {exc.strerror or exc}") \
                from None
        print(f"model saved to {args.save}")
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
              f"converged; {row['wall_seconds']} s", flush=True)
    with open(summary_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=_SUMMARY_FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(args.out, "summary.rst"), "w") as fh:
        fh.write(_summary_rst(rows))
    print(f"summary written to {os.path.join(args.out, 'summary.csv')} and "
          f"summary.rst; total wall time {time.perf_counter() - t0:.1f} s")
    return 0


def build_parser():
    """The ``skmoe`` argument parser.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    from .experts import EXPERTS
    from .gating import GATINGS

    parser = argparse.ArgumentParser(
        prog="skmoe", description="Mixture-of-experts regression."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="fit data drawn from a known MoE and compare with the truth"
    )
    demo.add_argument("--n-samples", type=int, default=20000)
    demo.add_argument("--n-features", type=int, default=2)
    demo.add_argument("--n-experts", type=int, default=3)
    demo.add_argument("--n-init", type=int, default=3)
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(func=_demo)

    fit = sub.add_parser("fit", help="fit a CSV file and print the fitted model")
    fit.add_argument("data", help="CSV file with a header row")
    fit.add_argument("--target", required=True, help="name of the target column")
    fit.add_argument("--n-experts", type=int, default=3)
    fit.add_argument("--gating", default="softmax", choices=sorted(GATINGS))
    fit.add_argument("--experts", default="linear", choices=sorted(EXPERTS))
    fit.add_argument("--n-init", type=int, default=3)
    fit.add_argument("--max-iter", type=int, default=300)
    fit.add_argument("--random-state", type=int, default=0)
    fit.add_argument("--save", metavar="MODEL.joblib",
                     help="write the fitted estimator with joblib")
    fit.set_defaults(func=_fit)

    rates = sub.add_parser(
        "rates", help="convergence-rate study: losses of fits on growing samples"
    )
    rates.add_argument("--gating", default="softmax", choices=sorted(GATINGS))
    rates.add_argument("--experts", default="linear", choices=sorted(EXPERTS))
    rates.add_argument("--n-features", type=int, default=1)
    rates.add_argument("--true-experts", type=int, default=2)
    rates.add_argument("--fitted-experts", type=int, default=3)
    rates.add_argument("--n-grid", type=int, nargs="+",
                       default=[100, 300, 1000, 3000])
    rates.add_argument("--replications", type=int, default=10)
    rates.add_argument("--loss", nargs="+", default=["voronoi"],
                       help="voronoi, D1, D2, D3, parameter_error, regression, "
                       "hellinger")
    rates.add_argument("--init", default="near_true",
                       choices=["near_true", "near_true_authors", "random",
                                "truth"])
    rates.add_argument("--x-distribution", default="uniform",
                       choices=["uniform", "normal"])
    rates.add_argument("--max-iter", type=int, default=1000)
    rates.add_argument("--n-jobs", type=int, default=-1)
    rates.add_argument("--random-state", type=int, default=0)
    rates.add_argument("--out", metavar="TABLE.csv", help="write the table as CSV")
    rates.add_argument("--plot", metavar="PLOT.png",
                       help="write the log-log plot (needs matplotlib)")
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
                       help="sample sizes (overrides the grid)")
    repro.add_argument("--replications", type=int,
                       help="replications per size (overrides the grid)")
    repro.add_argument("--init", default=None,
                       choices=["near_true", "near_true_authors", "random",
                                "truth"],
                       help="start of the fits (default: each study's own)")
    repro.add_argument("--reference-n", type=int, default=None,
                       help="sample size of the D4 reference fit (default: 10 "
                       "x the largest n, at least 1e5)")
    repro.add_argument("--n-boot", type=int, default=1000,
                       help="bootstrap resamples of the intervals")
    repro.add_argument("--n-jobs", type=int, default=-1)
    repro.add_argument("--random-state", type=int, default=0)
    repro.add_argument("--verbose", type=int, default=0)
    repro.add_argument("--out", default="skmoe-reproduce", metavar="DIR",
                       help="directory of the CSV, PNG and summary files")
    repro.add_argument("--no-plot", dest="plot", action="store_false",
                       help="write no PNG")
    repro.add_argument("--summarize-only", action="store_true",
                       help="recompute the summary from the CSV files in DIR")
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
