"""One pass of partial_fit (online EM) against batch EM on the same data.

For every seed the data are ``make_moe_regression(n, d, K, random_state=seed)``;
batch EM is ``MixtureOfExpertsRegressor(K, random_state=0).fit(X, y)`` and the
stream is the same estimator's ``partial_fit`` on ``n_chunks`` consecutive
chunks (one pass). Reported per seed: the per-sample log-likelihood on all
the data of batch EM, of the model after the first chunk and after the pass,
the relative gaps ``(L_batch - L) / |L_batch|``, and the wall times of the
batch fit and of the pass. The two fits alternate ``--repeats`` times in one
process (after a warm-up that compiles the kernels) and the median times are
reported, so that their ratio is meaningful on a loaded machine.

Usage::

    python benchmarks/bench_partial_fit.py                        # n=20000, 3 seeds
    python benchmarks/bench_partial_fit.py --n 200000 --chunks 20 --seeds 1
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression


def one_pass(K, X, y, n_chunks):
    est = MixtureOfExpertsRegressor(K, random_state=0)
    first = None
    for i, (Xc, yc) in enumerate(zip(np.array_split(X, n_chunks),
                                     np.array_split(y, n_chunks), strict=True)):
        est.partial_fit(Xc, yc)
        if i == 0:
            first = est.params_
    return est, first


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--K", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    Xw, yw, _ = make_moe_regression(400, args.d, args.K, random_state=0)
    one_pass(args.K, Xw, yw, 2)  # compile the kernels before timing
    MixtureOfExpertsRegressor(args.K, random_state=0).fit(Xw, yw)
    print(f"n={args.n} d={args.d} K={args.K} chunks={args.chunks}")
    print("seed  L_batch    L_first    L_pass     gap_first  gap_pass   "
          "t_batch  t_pass  ratio")
    for seed in range(args.seeds):
        X, y, _ = make_moe_regression(args.n, args.d, args.K, random_state=seed)
        t_batch, t_pass = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            batch = MixtureOfExpertsRegressor(args.K, random_state=0).fit(X, y)
            t_batch.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            online, first = one_pass(args.K, X, y, args.chunks)
            t_pass.append(time.perf_counter() - t0)
        lb = batch.log_density(X, y).mean()
        lf = first.log_density(X, y).mean()
        lo = online.log_density(X, y).mean()
        tb, tp = np.median(t_batch), np.median(t_pass)
        print(f"{seed:4d}  {lb: .5f}  {lf: .5f}  {lo: .5f}  "
              f"{(lb - lf) / abs(lb):9.2e}  {(lb - lo) / abs(lb):9.2e}  "
              f"{tb:7.3f}  {tp:6.3f}  {tb / tp:5.2f}")


if __name__ == "__main__":
    main()
