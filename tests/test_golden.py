"""Golden trajectories: internal refactorings reproduce the fits to round-off.

Every case of ``tests/golden/record.py`` (every gating and expert family,
both noise models, shared experts, every solver) was recorded before the
redesign of the internals (commit 4c808c9). The same algorithm must give the
same numbers: a changed order of summation moves the last bits, and after 15
iterations of a contraction those stay at a few hundred ulps of the values.
The tolerance ``rtol=1e-8`` (``atol=1e-10`` for entries near zero) allows
that and nothing that a real change of the algorithm would do (a different
step, start or convergence decision changes the history in the first
iterations by far more).
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from record import PATH, cases, fit_case  # noqa: E402

GOLDEN = json.loads(PATH.read_text())


@pytest.mark.parametrize("name, params, data", cases(), ids=[c[0] for c in cases()])
def test_golden_trajectory(name, params, data):
    got = fit_case(params, data)
    want = GOLDEN[name]
    assert got["n_iter"] == want["n_iter"]
    assert_allclose(got["history"], want["history"], rtol=1e-8, atol=1e-10)
    assert set(got["params"]) == set(want["params"])
    for field, value in want["params"].items():
        assert_allclose(np.asarray(got["params"][field]), np.asarray(value),
                        rtol=1e-8, atol=1e-10, err_msg=field)
