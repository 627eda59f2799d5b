"""
==========================================================
Starting EM from the cross-moment tensor estimate
==========================================================

EM for a mixture of experts can stop in a local maximum where two experts
share one true regression line. The tensor method of Makkuva et al.
(arXiv:1802.07417) estimates the expert slopes from moments of the whitened
data with no gate in the way: the transformed label
:math:`u^3 - 3\\,E[u^2]\\,u` (with :math:`u = y - E[y]`) times the third
Gaussian score function :math:`S_3(z)` averages to
:math:`6 \\sum_i p_i a_i^{\\otimes 3}`, a tensor whose decomposition gives
the slopes :math:`a_i`. ``solver="tensor"`` then fits the gate with these
directions fixed; ``init_params="tensor"`` uses that fit as the start of EM.

Two panels, on Gaussian inputs in :math:`d = 10` drawn by
:func:`~skmoe.datasets.make_orthogonal_moe_regression` (the paper's
setting):

1. the error of the directions of the tensor estimate against ``n``;
2. for several data sets, the slope error after EM from a random start and
   after EM from the tensor estimate.

The grids below are short so that the gallery builds in seconds; set
``FULL = True`` for the study reported in the user guide (20 data sets,
``benchmarks/bench_tensor_init.py`` runs the full version).
"""

# %%
# Error of the tensor estimate against n
# --------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_orthogonal_moe_regression
from skmoe.metrics import parameter_error

FULL = False

n_grid = [1000, 4000, 16000, 64000] if FULL else [1000, 4000, 16000]
n_reps = 5 if FULL else 2


def direction_error(est, truth):
    """Largest distance between matched unit slope directions (sign-aligned)."""
    match = parameter_error(est.params_, truth)
    d = truth.n_features
    u = est.params_.expert_params[match["est_index"], :d]
    v = truth.expert_params[match["true_index"], :d]
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    u = u * np.sign(np.sum(u * v, axis=1, keepdims=True))
    return np.linalg.norm(u - v, axis=1).max()


errors = []
for n in n_grid:
    errs = []
    for seed in range(n_reps):
        X, y, truth = make_orthogonal_moe_regression(n, 10, 3, random_state=seed)
        # solver="tensor" keeps the directions of the tensor estimate and fits
        # the gate, the variances and each expert's scale and intercept by EM
        est = MixtureOfExpertsRegressor(3, solver="tensor",
                                        random_state=seed).fit(X, y)
        errs.append(direction_error(est, truth))
    errors.append(np.median(errs))
slope = np.polyfit(np.log(n_grid), np.log(errors), 1)[0]
print(f"slope of log(error) on log(n): {slope:.2f} (theory -0.5)")

# %%
# EM from random starts and from the tensor estimate
# --------------------------------------------------
# Two experts with noise 0.5 (n = 4000). "Recovered" means a largest slope
# error below 0.25; the unit slopes are orthonormal, so a fit that merges or
# swaps experts is off by about 0.7 or more. Over 20 data sets (seeds 0-19,
# ``FULL = True``) EM from a random start recovered 17, EM from the tensor
# estimate all 20. The short version shows seed 0 and the three seeds where
# the random start failed in that study (8, 10 and 12): chosen, not typical.
seeds = range(20) if FULL else [0, 8, 10, 12]
results = {"random": [], "tensor": []}
for seed in seeds:
    X, y, truth = make_orthogonal_moe_regression(4000, 10, 2, noise=0.5,
                                                 random_state=seed)
    for init in results:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = MixtureOfExpertsRegressor(2, init_params=init, max_iter=300,
                                            random_state=seed).fit(X, y)
        results[init].append(parameter_error(est.params_, truth)["expert_coef"].max())
for init, errs in results.items():
    print(f"init_params={init!r}: recovered {np.sum(np.array(errs) < 0.25)}"
          f"/{len(errs)}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
ax1.loglog(n_grid, errors, "o-")
ax1.set_xlabel("n")
ax1.set_ylabel("direction error (tensor)")
ax1.set_title(f"fitted slope {slope:.2f}")
x = np.arange(len(seeds))
ax2.bar(x - 0.2, results["random"], 0.4, label="random start")
ax2.bar(x + 0.2, results["tensor"], 0.4, label="tensor start")
ax2.axhline(0.25, color="k", lw=0.8, ls="--")
ax2.set_xticks(x, [str(s) for s in seeds])
ax2.set_xlabel("data set (seed)")
ax2.set_ylabel("slope error after EM")
ax2.legend()
fig.tight_layout()
plt.show()
