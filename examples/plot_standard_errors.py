"""
===============================================
Standard errors: Wald intervals and a bootstrap
===============================================

Fit a two-expert model, compute standard errors from the observed
information (:meth:`~skmoe.MixtureOfExpertsRegressor.standard_errors`) and
from a parametric bootstrap
(:func:`~skmoe.inference.bootstrap_standard_errors`), and compare the 95%
intervals of every free parameter with the truth.
"""

# %%
# Data from a known model, and a fit
# ----------------------------------

import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.inference import bootstrap_standard_errors
from skmoe.metrics import match_experts

X, y, truth = make_moe_regression(
    n_samples=1000, n_features=1, n_experts=2, noise=0.5, random_state=0
)
est = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)

# %%
# Observed information
# --------------------
# One row per parameter of ``params_``; the last gate row is the softmax's
# fixed reference (standard error 0).

se = est.standard_errors(X, y)
print(se.to_frame().round(4))

# %%
# Parametric bootstrap
# --------------------
# 100 refits on data drawn from the fitted model, each started from the
# estimate; their spread estimates the same standard errors.

boot = bootstrap_standard_errors(est, X, y, n_boot=100, random_state=0)
info_table, boot_table = se.table(), boot.table()
free = info_table["std_error"] > 0
ratio = boot_table["std_error"][free] / info_table["std_error"][free]
print("bootstrap / observed-information standard errors:", np.round(ratio, 2))

# %%
# Intervals against the truth
# ---------------------------
# The truth is relabelled to the fit's expert order, then flattened in the
# order of the table (gate_coef, gate_intercept, expert_params, variance).
# The intervals are those of ``confidence_intervals``: for the variances,
# computed for the log-variance and transformed back.

est_index, true_index = match_experts(est.params_, truth)
order = np.empty(2, dtype=int)
order[est_index] = true_index
t = truth.permute(order)
true_fields = np.concatenate([t.gate_coef.ravel(), t.gate_intercept,
                              t.expert_params.ravel(), t.variance])[free]

names = info_table["parameter"][free]
estimate = info_table["estimate"][free]
pos = np.arange(free.sum())
fig, ax = plt.subplots(figsize=(7, 4))
for shift, table, label in ((-0.15, info_table, "observed information"),
                            (0.15, boot_table, "parametric bootstrap")):
    errors = [estimate - table["lower"][free], table["upper"][free] - estimate]
    ax.errorbar(pos + shift, estimate - true_fields, yerr=errors, fmt="o",
                capsize=3, label=label)
ax.axhline(0.0, color="k", lw=0.8)
ax.set_xticks(pos, names, rotation=45, ha="right")
ax.set_ylabel("estimate - truth, with 95% interval")
ax.set_title("Wald intervals (observed information vs bootstrap)")
ax.legend()
fig.tight_layout()
plt.show()
