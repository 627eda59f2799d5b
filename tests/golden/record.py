"""Record the golden trajectories: short fits of every family x solver x noise.

The file ``trajectories.json`` beside this script holds, for every case of
:func:`cases`, the objective history and the fitted parameters of a short,
seeded fit. ``tests/test_golden.py`` refits every case and compares: a
refactoring of the internals must reproduce them to round-off (the same
algorithm in the same order of operations gives the same numbers; a changed
summation order moves the last bits only, and short runs keep that from
growing). Record again only when a change of the *algorithm* is intended,
and say so in the commit message; ``--only NAME ...`` records the named
cases again and keeps every other case as it was recorded::

    python tests/golden/record.py [--only NAME ...]
"""

import json
import warnings
from pathlib import Path

import numpy as np

PATH = Path(__file__).with_name("trajectories.json")


def cases():
    """(name, estimator parameters, data parameters) of every golden fit."""
    from skmoe import (
        FFNExperts,
        HierarchicalSoftmaxGating,
        LinearExperts,
        NormalizedSigmoidGating,
        PolynomialExperts,
        SoftmaxGating,
    )

    data = dict(n_samples=300, n_features=2, n_experts=3, random_state=1)
    # init_params pinned to the start the cases were recorded with ("random",
    # the default until init_params="auto"), so that they keep guarding the
    # algorithm rather than the default
    common = dict(n_experts=3, max_iter=15, tol=0.0, random_state=0,
                  init_params="random")
    out = [
        ("softmax_linear", {}),
        ("softmax_linear_kmeans", dict(init_params="kmeans")),
        ("softmax_linear_n_init", dict(n_init=3)),
        ("softmax_no_intercept", dict(experts=LinearExperts(fit_intercept=False))),
        ("softmax_temperature", dict(gating=SoftmaxGating(temperature=0.5))),
        ("softmax_learn_temperature",
         dict(gating=SoftmaxGating(learn_temperature=True))),
        ("softmax_schedule",
         dict(gating=SoftmaxGating(schedule="geometric", anneal_iter=5))),
        ("softmax_tanh", dict(gating=SoftmaxGating(activation="tanh"))),
        ("softmax_top2", dict(gating=SoftmaxGating(top_k=2, anneal_iter=4))),
        ("softmax_top1_exact", dict(gating=SoftmaxGating(top_k=1, anneal_iter=0))),
        # the unpinned normalized sigmoid, the default when these were recorded
        ("sigmoid", dict(gating=NormalizedSigmoidGating(pin_last=False))),
        ("sigmoid_top2", dict(gating=NormalizedSigmoidGating(top_k=2,
                                                              pin_last=False))),
        ("hierarchical", dict(n_experts=4,
                              gating=HierarchicalSoftmaxGating(n_groups=2))),
        ("polynomial", dict(experts=PolynomialExperts(degree=2))),
        ("ffn_tanh", dict(experts=FFNExperts())),
        ("ffn_relu", dict(experts=FFNExperts(activation="relu"))),
        ("student_t", dict(noise="student_t")),
        ("student_t_fixed", dict(noise="student_t", noise_df=5.0)),
        ("shared", dict(n_shared_experts=1)),
        ("shared_ffn", dict(n_shared_experts=1, experts=FFNExperts(),
                            shared_experts="linear")),
        ("lbfgs", dict(solver="lbfgs")),
        ("gd_least_squares", dict(solver="gd", objective="least_squares")),
        ("lbfgs_least_squares_ffn", dict(solver="lbfgs", objective="least_squares",
                                         experts=FFNExperts())),
        ("tensor", dict(n_experts=2, solver="tensor")),
        ("two_loss", dict(n_experts=2, solver="two_loss")),
        ("tensor_init", dict(n_experts=2, init_params="tensor")),
        # four batches of online EM after the first batch's fit
        ("partial_fit", dict(partial_fit_batches=4)),
    ]
    return [(name, {**common, **params}, data) for name, params in out]


def fit_case(params, data):
    """Fit one case; return its history and parameters as plain lists."""
    from skmoe import MixtureOfExpertsRegressor
    from skmoe.datasets import make_moe_regression, make_orthogonal_moe_regression

    if params.get("solver") in ("tensor", "two_loss") or params.get(
            "init_params") == "tensor":
        # the moment methods need Gaussian inputs and gates orthogonal to the
        # experts' directions
        X, y, _ = make_orthogonal_moe_regression(600, 3, 2, random_state=7)
    else:
        X, y, _ = make_moe_regression(**data)
    params = dict(params)
    batches = params.pop("partial_fit_batches", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MixtureOfExpertsRegressor(**params)
        if batches is None:
            est.fit(X, y)
        else:
            for part in np.array_split(np.arange(len(y)), batches):
                est.partial_fit(X[part], y[part])
    p = est.params_
    fields = {
        "gate_coef": p.gate_coef, "gate_intercept": p.gate_intercept,
        "expert_params": p.expert_params, "variance": p.variance,
    }
    fields.update({f"gate_extra.{k}": v for k, v in p.gate_extra.items()})
    if p.noise_df is not None:
        fields["noise_df"] = p.noise_df
    if p.n_shared_experts:
        fields.update(shared_params=p.shared_params,
                      shared_variance=p.shared_variance,
                      shared_weights=p.shared_weights)
    return {
        "history": np.asarray(getattr(est, "history_", [])).tolist(),
        "n_iter": int(est.n_iter_),
        "params": {k: np.asarray(v).tolist() for k, v in fields.items()},
    }


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(description="Record the golden trajectories.")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME",
                   help="record these cases only (default: all)")
    args = p.parse_args(argv)
    names = [name for name, _, _ in cases()]
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        raise ValueError(f"--only: unknown cases {unknown}; expected some of "
                         f"{names}")
    record = json.loads(PATH.read_text()) if args.only else {}
    for name, params, data in cases():
        if args.only is None or name in args.only:
            record[name] = fit_case(params, data)
    record = {name: record[name] for name in names}
    PATH.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {len(args.only or record)} of {len(record)} cases to {PATH}")


if __name__ == "__main__":
    main()
