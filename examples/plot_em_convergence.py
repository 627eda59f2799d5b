"""
=====================================
EM convergence and restarts
=====================================

EM increases the log-likelihood at every iteration: the fitted estimator
records it in ``history_`` (the value at the start and after every iteration).
This example fits the same data from several random starting points
(``random_state``), shows that every run is monotone, and compares the final
log-likelihoods with that of the true model. Runs can stop at different local
maxima, which is why ``n_init`` restarts are useful.
"""

# %%
# Data and the log-likelihood of the truth
# ----------------------------------------

import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

X, y, truth = make_moe_regression(
    n_samples=2000, n_features=1, n_experts=3, random_state=0
)
true_loglik = truth.log_density(X, y).sum()
print(f"log-likelihood of the true model: {true_loglik:.2f}")

# %%
# One EM run per random starting point
# ------------------------------------
# ``n_init=1`` (the default) keeps each run separate; ``history_`` has
# ``n_iter_ + 1`` entries.

seeds = range(6)
fits = {
    seed: MixtureOfExpertsRegressor(
        n_experts=3, max_iter=500, random_state=seed
    ).fit(X, y)
    for seed in seeds
}

print(f"{'seed':>4}  {'iterations':>10}  {'final log-lik':>13}  "
      f"{'smallest step':>13}")
for seed, est in fits.items():
    steps = np.diff(est.history_)
    print(f"{seed:>4}  {est.n_iter_:>10}  {est.log_likelihood_:>13.2f}  "
          f"{steps.min():>13.2e}")

# %%
# Every increment ``history_[t] - history_[t - 1]`` is non-negative (up to
# round-off): EM is monotone. Some starting points end at a local maximum with
# a clearly lower log-likelihood than the others.

best = max(est.log_likelihood_ for est in fits.values())
all_monotone = all(np.all(np.diff(est.history_) >= -1e-8 * abs(best))
                   for est in fits.values())
print(f"all runs monotone: {all_monotone}")

# %%
# Plot the log-likelihood per iteration
# -------------------------------------
# Left: the total log-likelihood, with that of the true model. Right: the gap
# to the best final value on a log scale. The runs that reach the global
# maximum slightly exceed the truth's log-likelihood (the estimate is fitted
# to this sample), while the runs stuck at a local maximum level off far below.
# A run can also linger on such a plateau for many iterations before it
# escapes: EM is monotone, but not always fast.

fig, (ax_ll, ax_gap) = plt.subplots(1, 2, figsize=(10, 4))
for seed, est in fits.items():
    iterations = np.arange(est.history_.size)
    ax_ll.plot(iterations, est.history_, marker=".", ms=3,
               label=f"random_state={seed}")
    gap = best - est.history_
    ax_gap.semilogy(iterations, np.maximum(gap, 1e-6), marker=".", ms=3)
ax_ll.axhline(true_loglik, color="k", ls="--", lw=1, label="true model")
ax_ll.set_xlabel("EM iteration")
ax_ll.set_ylabel("log-likelihood")
ax_ll.set_title("history_: monotone increase")
ax_ll.legend(fontsize="small", loc="center right")
ax_gap.axhline(best - true_loglik, color="k", ls="--", lw=1,
               label="best final - true model")
ax_gap.legend(fontsize="small", loc="lower left")
ax_gap.set_xlabel("EM iteration")
ax_gap.set_ylabel("best final log-likelihood - current")
ax_gap.set_title("Gap to the best run (log scale)")
fig.tight_layout()
plt.show()

# %%
# Restarts in one estimator
# -------------------------
# With ``n_init`` restarts the estimator keeps the run with the highest
# log-likelihood, here the global maximum.

est = MixtureOfExpertsRegressor(n_experts=3, n_init=5, random_state=4).fit(X, y)
print(f"n_init=5: final log-likelihood {est.log_likelihood_:.2f} "
      f"(truth {true_loglik:.2f})")
