"""The first run compiles few kernels, each once (issue 16, target 3).

Not timed: compile times depend on the machine. What made the first ``skmoe
demo`` slow is checked instead on what a demo-sized fit compiles: a kernel
compiled for two signatures (an F-ordered, read-only or integer array
somewhere) compiles twice, and a start or a gate evaluation through a kernel
other than the compiled EM's own compiles a kernel the fit never needed.
"""

import os
import subprocess
import sys

import numpy as np

from skmoe.experts import _linear
from skmoe.solvers._em import FUSED_FROM_N

# the demo's model and steps at a size on the compiled path (the demo's
# 20000 rows take the same path), in a fresh interpreter with an empty cache
CODE = """
import numba
from numba.core import event
import numpy as np

# the kernels whose compilation a Python call starts (not those compiled
# inside another kernel's compilation), with how often
compiled, depth = {}, [0]


class Listener(event.Listener):
    def on_start(self, ev):
        depth[0] += 1
        func = ev.data["dispatcher"].py_func
        if depth[0] == 1 and func.__module__.startswith("skmoe._kernels"):
            compiled[func.__name__] = compiled.get(func.__name__, 0) + 1

    def on_end(self, ev):
        depth[0] -= 1


event.register("numba:compile", Listener())
from skmoe import GaussianGating, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
gating = GATING
X, y, truth = make_moe_regression(2000, 2, 3, gating=gating, random_state=0)
est = MixtureOfExpertsRegressor(n_experts=3, gating=gating, random_state=0).fit(X, y)
est.score(X, y)
est.predict(X)
for name, n in compiled.items():
    print(name, n)
"""


def _compiled(cache_dir, gating='"softmax"'):
    # an empty cache, as on the first run: every kernel the fit calls from
    # Python compiles (with a warm cache, none would, and nothing is seen)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", CODE.replace("GATING", gating)],
                         capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    return dict(zip(out[::2], map(int, out[1::2]), strict=True))


def test_a_demo_sized_fit_compiles_each_kernel_once_and_only_the_em_kernels(
        tmp_path):
    compiled = _compiled(tmp_path)
    assert compiled, "no kernel found"
    twice = {name: n for name, n in compiled.items() if n != 1}
    assert twice == {}, f"kernels compiled for several signatures: {twice}"
    # the start (experts fitted to the random gate's responsibilities, the
    # variances) and the data's gate weights reuse the compiled EM's kernels:
    # neither the statistics kernels of batch EM nor the separate
    # log-softmax of the logits compile, nor any parallel twin
    for name in ("linear_expert_suffstats", "log_softmax_rows", "wls_update",
                 "gaussian_estep"):
        assert name not in compiled, name
    assert not [name for name in compiled if name.endswith("_parallel")]
    for name in ("linear_wls_step", "softmax_newton_ascent",
                 "softmax_log_weights_into", "gaussian_variance_step"):
        assert name in compiled, name


def test_a_gaussian_gated_fit_compiles_each_kernel_once(tmp_path):
    # the Gaussian gate's update is one kernel on the compiled path (its
    # Newton step and objective compiled inside it): no parallel twin, no
    # statistics kernel, and the softmax step kernels are not compiled on
    # their own
    compiled = _compiled(tmp_path, "GaussianGating()")
    twice = {name: n for name, n in compiled.items() if n != 1}
    assert twice == {}, f"kernels compiled for several signatures: {twice}"
    assert "gaussian_gate_step" in compiled
    assert not [name for name in compiled if name.endswith("_parallel")]
    for name in ("linear_expert_suffstats", "softmax_gate_objective",
                 "softmax_newton_ascent", "gaussian_estep"):
        assert name not in compiled, name


def test_the_start_by_the_em_step_covers_the_compiled_path():
    # the linear experts' start takes the compiled EM's step exactly where
    # the fit runs on the compiled path (a rule on the number of rows, not
    # on threads)
    assert _linear._STEP_START_BELOW == FUSED_FROM_N


def test_the_start_by_the_em_step_equals_the_statistics_update():
    # the two routes of LinearExperts.init give the same rows to round-off
    # (they sum the statistics in a different order): the normal equations'
    # solution, checked against np.linalg.lstsq
    from skmoe import LinearExperts

    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 2))
    y = X @ np.array([1.5, -2.0]) + 0.5 + 0.1 * rng.standard_normal(300)
    R = rng.random((300, 3))
    got = LinearExperts().init(X, y, R, None)
    design = np.hstack([X, np.ones((300, 1))])
    for k in range(3):
        sw = np.sqrt(R[:, k])
        want = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)[0]
        # a 3x3 well-conditioned system: a few ulps of the entries
        np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-13)


def test_kernels_compiled_for_size_carry_optsize_and_keep_the_hot_loops():
    # the kernels whose loops run over parameters are compiled for size
    # (skmoe._kernels._codesize): their LLVM functions carry optsize and
    # noinline, while the gate objective's driver, into which its row loop
    # is inlined, is optimised as before. Uncached copies of the kernels are
    # compiled here (Numba does not show the IR of cached code).
    import numba

    from skmoe._kernels import _logspace, _softmax, _softmax_steps

    rng = np.random.default_rng(0)
    n, d, K = 60, 2, 3
    X = rng.standard_normal((n, d))
    R = rng.random((n, K))
    p = d + 1
    calls = {
        _softmax_steps.softmax_newton_ascent: (
            X, R, np.zeros((K, d)), np.zeros(K), 2, np.empty((0, K)),
            np.empty((0, K)), False),
        _softmax._gate_reduce: (
            K, p, True, np.zeros(16), np.zeros((16, (K - 1) * p)),
            np.zeros((16, (K - 1) * K // 2, p * (p + 1) // 2))),
        _logspace._log_normalize_infinite: (
            np.array([np.inf, 0.0, np.inf]), np.ones(K, dtype=np.bool_),
            np.empty(K), np.inf),
        _softmax.softmax_gate_objective: (
            X, np.zeros((K, d)), np.zeros(K), R, True),
    }

    def attributes(kernel, args):
        copy = numba.njit(kernel.py_func)
        copy(*args)
        (ir,) = copy.inspect_llvm().values()
        name = kernel.py_func.__name__
        line = next(line for line in ir.splitlines()
                    if line.startswith("define") and "@_ZN5skmoe" in line
                    and f"{len(name)}{name}B" in line)
        if "#" not in line:  # no attribute group
            return ""
        group = line.rsplit("#", 1)[1].split()[0]
        return next(line for line in ir.splitlines()
                    if line.startswith(f"attributes #{group} "))

    for kernel, args in calls.items():
        attrs = attributes(kernel, args)
        small = kernel is not _softmax.softmax_gate_objective
        assert ("optsize" in attrs and "noinline" in attrs) == small, (kernel, attrs)
    # the infinite row's limit: the weight shared by the infinite entries
    out = np.empty(K)
    _logspace.log_normalize_row(np.array([np.inf, 0.0, np.inf]),
                                np.ones(K, dtype=np.bool_), out)
    np.testing.assert_array_equal(out, [-np.log(2), -np.inf, -np.log(2)])
