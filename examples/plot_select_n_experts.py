"""
===========================================
How many experts? BIC, ICL and held-out fit
===========================================

Draw data from a known mixture of three linear experts, fit the estimator
for every number of experts from 1 to 6 with
:func:`~skmoe.model_selection.select_n_experts`, and plot the criteria: the
Bayesian information criterion, the integrated completed likelihood (BIC plus
twice the entropy of the responsibilities) and minus the cross-validated
held-out log-density per sample. Lower is better for all three.
"""

# %%
# Data with three experts
# -----------------------

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.model_selection import select_n_experts

X, y, truth = make_moe_regression(
    n_samples=1500, n_features=1, n_experts=3, random_state=0
)

# %%
# One fit per candidate K
# -----------------------
# Over-specified fits (K > 3) split a true expert and converge slowly; a
# looser tolerance keeps the example fast, and the convergence flag of every
# fit is in the table.

est = MixtureOfExpertsRegressor(n_init=2, tol=1e-5, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    bic = select_n_experts(est, X, y, n_experts=range(1, 7), criterion="bic")
    cv = select_n_experts(est, X, y, n_experts=range(1, 7), criterion="cv", cv=3)
icl = np.array([fit.icl(X, y) for fit in bic.estimators])

print(bic.to_frame())
print("ICL:", np.round(icl, 1))
print("chosen K: BIC", bic.best_n_experts_,
      "ICL", int(bic.n_experts[np.argmin(icl)]),
      "CV", cv.best_n_experts_)

# %%
# The curves
# ----------

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
bic.plot(ax=axes[0])
axes[0].plot(bic.n_experts, icl, "s--", label="ICL")
axes[0].legend()
axes[0].set_ylabel("criterion (lower is better)")
cv.plot(ax=axes[1])
fig.suptitle("make_moe_regression with K* = 3 experts, n = 1500")
fig.tight_layout()
plt.show()
