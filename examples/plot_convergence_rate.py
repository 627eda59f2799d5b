"""
==========================================================
Convergence rate of an over-specified mixture of experts
==========================================================

How fast does the maximum likelihood estimate approach the truth as the
sample grows? Draw fresh samples of growing size from a softmax-gated mixture
of two linear experts, fit three experts (one too many) started near the
truth, and record the Voronoi loss :func:`~skmoe.metrics.voronoi_loss` (here
``"D2"``, the loss of linear experts) and the distance between the fitted and
the true regression functions. The theory bounds both by
:math:`\\sqrt{\\log n / n}` (a slope of :math:`-1/2` on log-log axes, up to
the logarithm), even though the individual parameters of the over-fitted cell
converge much more slowly. On the short grid below the measured slope of the
loss is steeper than :math:`-1/2` (-0.74 for ``"D2"``, with 95% bootstrap
interval [-0.92, -0.58], and -0.53 for the regression function, 6
replications): at small ``n`` the over-fitted cell's terms, which carry the
:math:`\bar r` powers, still weigh in and shrink fast; the bound is
asymptotic. ``"D2"`` compares the parameters as the paper writes them (the
default ``parametrization="raw"`` of :func:`~skmoe.metrics.voronoi_loss`).

The grid below is short so that the gallery builds in seconds; set
``FULL = True`` for a grid up to :math:`n = 10^4` with 20 replications.
"""

# %%
# The truth and the study
# -----------------------
import matplotlib.pyplot as plt

from skmoe import MixtureOfExpertsRegressor, MoEParams
from skmoe.convergence import sample_size_study

FULL = False

truth = MoEParams(
    gate_coef=[[3.0], [0.0]],
    gate_intercept=[0.0, 0.0],
    expert_params=[[2.0, 1.0], [-1.0, 0.0]],
    variance=[0.25, 0.25],
)
n_grid = [200, 600, 2000, 6000, 10000] if FULL else [200, 600, 2000]
study = sample_size_study(
    MixtureOfExpertsRegressor(n_experts=3, max_iter=300),
    truth,
    n_grid,
    n_replications=20 if FULL else 6,
    loss=["D2", "regression"],
    init="near_true",
    n_jobs=1,
    random_state=0,
)
print(study)

# %%
# Rates
# -----
# The slope of the log mean loss on :math:`\log n`, with a bootstrap interval
# over the replications.
for loss in study.losses:
    rate = study.rate(loss, n_boot=200, random_state=0)
    print(f"{loss}: slope {rate['slope']:.3f} "
          f"[{rate['ci_low']:.3f}, {rate['ci_high']:.3f}]")

# %%
# Log-log plots
# -------------
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for ax, loss in zip(axes, study.losses, strict=True):
    study.plot(ax=ax, loss=loss)
fig.tight_layout()
plt.show()
