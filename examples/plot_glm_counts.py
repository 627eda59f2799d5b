"""
=====================================================
Counts: a mixture of Poisson regression experts
=====================================================

Count data often mix regimes: patents per firm that grow with research
spending at different rates in different kinds of firm. With
``noise="poisson"`` each expert is a Poisson regression (log link): its
output :math:`\\eta_k(x)` is the log of its mean count, and the gate chooses
the regime. EM fits the experts by iteratively reweighted least squares (the
M-step of flexmix's ``FLXMRglm``), the log-likelihood includes
:math:`-\\log y!`, and the prediction intervals
(:meth:`~skmoe.MixtureOfExpertsRegressor.predict_interval`) are counts.

The data are flexmix's ``patent`` set (:func:`skmoe.datasets.load_patent`):
the patents of 70 pharmaceutical and biomedical firms in 1976, the log of
their R&D spending (``lgRD``) and R&D spending per sales (``RDS``). flexmix's
example (Wang, Cockburn and Puterman, 1998) fits three Poisson regressions
``Patents ~ lgRD`` whose mixture weights depend on ``RDS``:

.. code-block:: r

    flexmix(Patents ~ lgRD, k = 3, data = patent,
            model = FLXMRglm(family = "poisson"),
            concomitant = FLXPmultinom(~ RDS))

In skmoe the gate and the experts read different columns:
``gate_features=["RDS"]``, ``expert_features=["lgRD"]``.
"""

# %%
# The fit, and flexmix's optimum
# ------------------------------
# Thirty random starts, as flexmix's reference run (best of ``set.seed(1)``
# to ``set.seed(30)``, recorded in ``benchmarks/flexmix_reference.csv``:
# -197.6752). ``tol=1e-8``: at flexmix's tolerance 1e-6 both packages stop
# within about 1e-6 of :math:`|L|` of the optimum.

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_patent

X, patents = load_patent(return_X_y=True, as_frame=True)
FLEXMIX_BEST = -197.67519736  # flexmix 2.3-18, best of 30 starts

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # a start or two
    fits = {
        K: MixtureOfExpertsRegressor(
            n_experts=K, noise="poisson", gate_features=["RDS"],
            expert_features=["lgRD"], n_init=30, tol=1e-8, random_state=0,
        ).fit(X, patents)
        for K in (1, 2, 3)
    }
for K, est in fits.items():
    print(f"K={K}: log-likelihood {est.log_likelihood_:.4f}, "
          f"BIC {est.bic(X, patents):.1f}")
est = fits[3]
print(f"K=3: skmoe {est.log_likelihood_:.6f}, flexmix {FLEXMIX_BEST:.6f} "
      f"(difference {est.log_likelihood_ - FLEXMIX_BEST:+.1e})")

# %%
# The summary
# -----------
# ``n_experts=1`` is the Poisson GLM (the same fit as scikit-learn's
# ``PoissonRegressor(alpha=0)``). The summary of the three-expert model
# names each coefficient by its column and gives its standard error (from the
# observed information) and Wald test; the Poisson law has no variance, so
# there is no noise block, and the last expert's gate row is the reference
# the others are contrasts against.

print(est.summary(X, patents))

# %%
# The experts' means and the gate
# -------------------------------
# Each expert's mean count :math:`e^{\eta_k}` against ``lgRD`` (lines), and
# the firms coloured by their most probable expert
# (:meth:`~skmoe.MixtureOfExpertsRegressor.predict_cluster`). The right panel
# shows the gate: the probability of each expert against ``RDS``.

cluster = est.predict_cluster(X, patents)
grid = np.linspace(X["lgRD"].min(), X["lgRD"].max(), 200)
rds = np.linspace(X["RDS"].min(), X["RDS"].max(), 200)
grid_frame = X.iloc[:1].reindex(range(200)).assign(
    lgRD=grid, RDS=float(np.median(X["RDS"])))
gate_frame = X.iloc[:1].reindex(range(200)).assign(
    lgRD=float(np.median(X["lgRD"])), RDS=rds)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
means = est.predict_experts(grid_frame)
for k in range(3):
    color = f"C{k}"
    axes[0].scatter(X["lgRD"][cluster == k], patents[cluster == k], s=14,
                    color=color, label=f"expert {k}")
    axes[0].plot(grid, means[:, k], color=color)
    axes[1].plot(rds, est.predict_gates(gate_frame)[:, k], color=color,
                 label=f"expert {k}")
axes[0].set_xlabel("lgRD (log R&D spending)")
axes[0].set_ylabel("patents")
axes[0].set_yscale("symlog")
axes[0].legend(fontsize=8)
axes[1].set_xlabel("RDS (R&D spending per sales)")
axes[1].set_ylabel("gate probability")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()
