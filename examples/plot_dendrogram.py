"""
==================================================
Number of experts from one fit: the dendrogram
==================================================

:func:`~skmoe.model_selection.mixing_measure_dendrogram` takes one
over-specified fit, merges its experts two by two (the closest pair of atoms
of the mixing measure, weights summed and parameters averaged by weight) down
to a single expert, and chooses the number of experts from the merge heights
and the log-likelihood along the path (the dendrogram selection criterion of
Hai et al., arXiv:2510.12744). BIC instead needs one fit per candidate.

The second part compares both on data with a known number of experts ``K*``:
for each ``K*`` and seed, :func:`~skmoe.model_selection.select_n_experts`
fits ``K = 1, ..., K* + 3`` and BIC chooses among them; the dendrogram uses
the ``K* + 3`` fit of the same sweep (the same over-specified model). The
data are :func:`~skmoe.datasets.make_moe_regression` with one feature, noise
standard deviation 0.3 and gate slopes of norm 3: expert intercepts spread
evenly over ``[-2, 2]``, so neighbouring experts are at least
``4 / 3 = 1.33`` apart, 4.4 noise standard deviations, and the true gate
weights are never degenerate (intercepts ``N(0, 0.25)``).

By default the comparison is a small version that runs in seconds. The full
study (``K*`` in 2, 3, 4; 20 seeds; ``n`` = 1000 and 10000) is::

    PYTHONPATH=$PWD nice -n 10 python examples/plot_dendrogram.py --full

and writes one JSON line per data set to ``dendrogram_vs_bic.jsonl``
(``--out`` to change). Its result, measured once on a loaded shared machine
(about 40 minutes), in recoveries of ``K*`` out of 20 seeds:

====  =====  ==========  ===
K*    n      dendrogram  BIC
====  =====  ==========  ===
2     1000   20          20
2     10000  20          20
3     1000   19          20
3     10000  20          20
4     1000   11          20
4     10000  18          20
====  =====  ==========  ===

The dendrogram's misses at ``K* = 4`` are mostly over-selections: at small
``n`` the experts that split a true expert have not converged to it, and
merging them costs likelihood; see the user guide (:ref:`dendrogram`).
"""

# %%
# One over-specified fit
# ----------------------
# Three true experts, a fit with six.

import argparse
import json
import sys
import time
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from skmoe import EmptyExpertWarning, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.model_selection import mixing_measure_dendrogram, select_n_experts

# warnings expected from over-specified fits: an expert left with no data,
# and slow convergence along the flat directions of a split expert
warnings.simplefilter("ignore", EmptyExpertWarning)
warnings.simplefilter("ignore", ConvergenceWarning)

X, y, truth = make_moe_regression(2000, 1, 3, random_state=0)
over = MixtureOfExpertsRegressor(n_experts=6, n_init=3, random_state=0).fit(X, y)
tree = mixing_measure_dendrogram(over, X, y)
print(tree.to_frame())
print("chosen number of experts:", tree.n_experts_)

# %%
# The dendrogram and the criterion
# --------------------------------
# Leaves are the six fitted experts; the merges above the chosen level join
# experts that describe the same true expert (small heights, no loss of
# likelihood).

tree.plot()
plt.tight_layout()
plt.show()


# %%
# Dendrogram against BIC
# ----------------------


def one_data_set(k_true, n, seed, n_init=3):
    """Choices of BIC and of the dendrogram on one generated data set."""
    X, y, _ = make_moe_regression(n, 1, k_true, noise=0.3, gate_scale=3.0,
                                  random_state=seed)
    est = MixtureOfExpertsRegressor(n_init=n_init, tol=1e-6, max_iter=500,
                                    random_state=seed)
    bic = select_n_experts(est, X, y, n_experts=range(1, k_true + 4))
    tree = mixing_measure_dendrogram(bic.estimators[-1], X, y)
    return {"k_true": k_true, "n": n, "seed": seed,
            "bic": bic.best_n_experts_, "dendrogram": tree.n_experts_,
            "heights": tree.heights.tolist(),
            "converged": bic.converged.tolist()}


def study(k_values, n_values, seeds, out=None):
    """Run every data set; return the rows (and append them to ``out``)."""
    rows = []
    for n in n_values:
        for seed in seeds:  # seeds outermost: an interrupted run stays balanced
            for k_true in k_values:
                start = time.perf_counter()
                row = one_data_set(k_true, n, seed)
                row["seconds"] = time.perf_counter() - start
                rows.append(row)
                if out is not None:
                    with open(out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    return rows


def summary(rows):
    """Recoveries of K* per (K*, n): dendrogram and BIC."""
    print(f"{'K*':>3} {'n':>6} {'data sets':>9} {'dendrogram':>10} {'BIC':>5}")
    keys = sorted({(r["k_true"], r["n"]) for r in rows})
    for k_true, n in keys:
        sel = [r for r in rows if r["k_true"] == k_true and r["n"] == n]
        dend = sum(r["dendrogram"] == k_true for r in sel)
        bic = sum(r["bic"] == k_true for r in sel)
        print(f"{k_true:>3} {n:>6} {len(sel):>9} {dend:>10} {bic:>5}")


parser = argparse.ArgumentParser()
parser.add_argument("--full", action="store_true",
                    help="K* in 2, 3, 4; 20 seeds; n = 1000 and 10000")
parser.add_argument("--out", default="dendrogram_vs_bic.jsonl")
parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000],
                    help="sample sizes of the full study")
args, _ = parser.parse_known_args(sys.argv[1:])
if args.full:
    rows = study([2, 3, 4], args.n, range(20), out=args.out)
else:
    rows = study([2, 3], [1000], range(2))
summary(rows)
