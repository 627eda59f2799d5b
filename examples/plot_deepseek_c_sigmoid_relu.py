"""
===========================================================================
DeepSeekMoE experiment (c): normalized sigmoid gate, sparse regime, ReLU
===========================================================================

Reproduces experiment (c) of Nguyen et al. (arXiv:2505.10860): the truth of
(a) with a normalized sigmoid gate, :math:`g_k(x) = \\sigma(\\beta_{1k} x +
\\beta_{0k}) / \\sum_j \\sigma(\\beta_{1j} x + \\beta_{0j})`, whose true slopes
are all zero (the "sparse regime", :func:`~skmoe.convergence.deepseek_truth`),
fitted with two shared and three routed ReLU experts started near the truth.
The loss is ``"D3"``: mass term over over-fitted cells only, unweighted
distances elsewhere. The paper reports :math:`(\\log n / n)^{0.46}`.

With all slopes zero the gate is a constant :math:`\\sigma(\\beta_{0k}) /
\\sum_j \\sigma(\\beta_{0j})`: only the ratios of the
:math:`\\sigma(\\beta_{0k})` are identified, and EM is free to move the
intercepts (and slopes that keep a sigmoid saturated on ``[-3, 3]``) along
directions that leave the likelihood unchanged. ``"D3"`` charges those
moves at full price, so its mean over replications is dominated by the
fits that drifted; the regression distance is not affected. Measured on
``n`` = 100, 316, ..., 10000 with 12 replications
(``deepseek_study("c", ..., random_state=0)``): between 6 and 11 of the 12
fits per size ended with ``"D3"`` above 5 (medians from 1.4e5 at ``n = 100``
to 20 at ``n = 10000``), so no exponent of ``"D3"`` can be read off, while
the regression distance decays with exponent 0.61 (95% bootstrap interval
[0.53, 0.69]) on :math:`\\log(n) / n`.

``--top-k 2`` fits a sparse top-2 gate
(:class:`~skmoe.NormalizedSigmoidGating` ``(top_k=2)``) instead of the
dense one. The default grid is short; ``--full`` runs the paper's grid.
"""

# %%
# The study
# ---------
import argparse

import matplotlib.pyplot as plt

from skmoe import NormalizedSigmoidGating
from skmoe.convergence import DEEPSEEK_FULL_GRID, deepseek_report, deepseek_study

parser = argparse.ArgumentParser(
    description="DeepSeekMoE experiment (c), short or full grid")
parser.add_argument("--full", action="store_true", help="the paper's grid")
parser.add_argument("--top-k", type=int, default=None)
args, _ = parser.parse_known_args()

grid, reps = DEEPSEEK_FULL_GRID if args.full else ([100, 200, 400], 3)
study = deepseek_study("c", grid, reps, gating=NormalizedSigmoidGating(args.top_k),
                       n_jobs=-1 if args.full else 1, random_state=0,
                       verbose=5 if args.full else 0)
print(deepseek_report(study, "c"))

# %%
# Mean loss (± std) against ``n``, with the fitted ``(log n / n)^slope``
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for ax, loss in zip(axes, study.losses, strict=True):
    study.plot(ax=ax, loss=loss, scale="log_n_over_n")
fig.tight_layout()
plt.show()
