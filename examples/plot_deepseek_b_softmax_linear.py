"""
========================================================================
DeepSeekMoE experiment (b): softmax gate, linear experts, shared expert
========================================================================

Reproduces experiment (b) of Nguyen et al. (arXiv:2505.10860): one shared
linear expert :math:`2x` (variance 0.2) and two softmax-routed linear experts
:math:`8x + 2` and :math:`-6x + 1` (variance 0.4,
:func:`~skmoe.convergence.deepseek_truth`), ``X ~ U[-3, 3]``, fitted with two
shared and three routed linear experts started near the truth. Linear experts
are not strongly identifiable, so the loss is ``"D2"``, whose over-fitted
cells use the :math:`\\bar r` exponents. The paper reports
:math:`(\\log n / n)^{0.517}`.

As in (a), both true routed slopes are 5 and the true gate does not depend
on ``x``; ``--x-dependent-gate`` uses slopes ``(-5, 5)``.

The default grid is short; ``--full`` runs the paper's grid (``n`` from
``1e2`` to ``1e5``, 40 replications, ``tol=1e-6``, ``max_iter=1000``).
Measured on ``n`` = 100, 316, ..., 31623 with 20 replications
(``deepseek_study("b", ..., random_state=0)``): exponent 0.70 (95% bootstrap
interval [0.65, 0.75]) for ``"D2"``, steeper than the paper's. The local
exponent between neighbouring sizes falls from 0.89 to 0.44: at small ``n``
the over-fitted cells, whose terms carry the :math:`\\bar r` powers and
shrink fast, dominate the loss; at ``n = 31623`` it is mostly the mass term
and the exactly fitted cell (power 1), which decay like :math:`n^{-1/2}`.
"""

# %%
# The study
# ---------
import argparse

import matplotlib.pyplot as plt

from skmoe.convergence import DEEPSEEK_FULL_GRID, deepseek_report, deepseek_study

parser = argparse.ArgumentParser(
    description="DeepSeekMoE experiment (b), short or full grid")
parser.add_argument("--full", action="store_true", help="the paper's grid")
parser.add_argument("--x-dependent-gate", action="store_true")
args, _ = parser.parse_known_args()

grid, reps = DEEPSEEK_FULL_GRID if args.full else ([100, 300, 1000, 3000], 3)
study = deepseek_study("b", grid, reps, x_dependent_gate=args.x_dependent_gate,
                       n_jobs=-1 if args.full else 1, random_state=0,
                       verbose=5 if args.full else 0)
print(deepseek_report(study, "b"))

# %%
# Mean loss (± std) against ``n``, with the fitted ``(log n / n)^slope``
study.plot(scale="log_n_over_n")
plt.show()
