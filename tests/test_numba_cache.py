"""skmoe's kernels cache outside the package, and only skmoe's kernels do.

The bug this guards against (issue 18): with Numba's default cache next to
the source, running a kernel from a regular install writes ``*.nbi``/``*.nbc``
files into ``site-packages/skmoe/_kernels/__pycache__``. pip never removes
them, so after ``pip install -e .`` in the same environment the leftover
``site-packages/skmoe`` directory shadows the editable install.
"""

import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np

import skmoe
import skmoe._kernels as kernels
from skmoe.utils._numba_cache import kernel_cache_dir

PACKAGE_DIR = Path(skmoe.__file__).resolve().parent


def _dispatchers():
    for info in pkgutil.iter_modules(kernels.__path__):
        mod = importlib.import_module(f"skmoe._kernels.{info.name}")
        for name, obj in vars(mod).items():
            if (isinstance(obj, numba.core.registry.CPUDispatcher)
                    and obj.__module__ == mod.__name__):
                yield f"{mod.__name__}.{name}", obj


def _run(code, cwd, **env):
    # cwd outside the source tree: ``python -c`` puts it first on sys.path
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES",
                             "NUMBA_DISABLE_JIT")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, check=True, env=full_env, cwd=cwd).stdout


def test_every_kernel_caches_in_the_user_cache_dir():
    found = dict(_dispatchers())
    assert len(found) >= 10, found
    root = Path(kernel_cache_dir()).resolve()
    for name, disp in found.items():
        # Numba's default in-tree cache would be PACKAGE_DIR/_kernels/__pycache__
        path = Path(disp._cache.cache_path).resolve()
        assert PACKAGE_DIR not in path.parents, (name, path)
        assert root in path.parents, (name, path)


def test_installed_copy_gets_no_cache_files(tmp_path):
    # a regular install, as pip lays it out: the package copied to a site dir
    site = tmp_path / "site"
    shutil.copytree(PACKAGE_DIR, site / "skmoe",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import numpy as np\n"
        "import skmoe\n"
        "from skmoe._kernels._logspace import normalize_log_row_inplace\n"
        "A = np.log(np.array([[0.2, 0.3]]))\n"
        "print(normalize_log_row_inplace(A, 0, A.max()))\n"
        "print(skmoe.__file__)\n"
    )
    out = _run(code, tmp_path, PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1",
               XDG_CACHE_HOME=str(tmp_path / "cache")).split()
    assert abs(float(out[0]) - np.log(0.5)) < 1e-15  # log(0.2 + 0.3)
    assert Path(out[1]).resolve() == (site / "skmoe" / "__init__.py").resolve()
    left = [p for p in (site / "skmoe").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert left == [], left
    cached = list((tmp_path / "cache" / "skmoe" / "numba").rglob("*.nbi"))
    assert any("normalize_log_row_inplace" in p.name for p in cached), cached


def test_numba_cache_dir_is_honoured(tmp_path):
    code = (
        "from skmoe._kernels._logspace import normalize_log_row_inplace as f\n"
        "print(f._cache.cache_path)\n"
    )
    path = Path(_run(code, tmp_path, NUMBA_CACHE_DIR=str(tmp_path)).strip())
    assert tmp_path.resolve() in path.resolve().parents


def test_numba_settings_for_other_code_unchanged(tmp_path):
    # a user's own cached function still caches where Numba puts it by
    # default (next to its source): skmoe changed no global Numba setting
    (tmp_path / "usermod.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef f(x):\n    return x + 1\n")
    code = (
        "import numba.core.caching as c\n"
        "before = list(c.CompileResultCacheImpl._locator_classes)\n"
        "import skmoe, skmoe._kernels._logspace, numba\n"
        "import usermod\n"
        "assert c.CompileResultCacheImpl._locator_classes == before\n"
        "print(repr(numba.config.CACHE_DIR))\n"
        "print(usermod.f._cache.cache_path)\n"
    )
    out = _run(code, tmp_path, PYTHONPATH=str(tmp_path)).splitlines()
    assert out[0] == "''"
    assert Path(out[1]).resolve() == (tmp_path / "__pycache__").resolve()


def test_unwritable_cache_dir_falls_back_to_no_disk_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = (
        "import numpy as np\n"
        "from skmoe._kernels._logspace import normalize_log_row_inplace as f\n"
        "print(type(f._cache).__name__)\n"
        "print(f(np.zeros((1, 2)), 0, 0.0))\n"
    )
    out = _run(code, tmp_path, XDG_CACHE_HOME=str(blocker)).split()
    assert out[0] == "NullCache"
    assert abs(float(out[1]) - np.log(2.0)) < 1e-15


def test_cache_invalidated_when_a_callee_in_another_file_changes(tmp_path):
    # sigmoid_log_weights (_sigmoid.py) calls log_sigmoid (_logspace.py);
    # Numba compiles the callee into the caller, so with Numba's per-file
    # stamp the caller's cache entry outlived a change of the callee's file
    # (a stale result). The stamp now covers the kernel's whole folder.
    site = tmp_path / "site"
    shutil.copytree(PACKAGE_DIR, site / "skmoe",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import numpy as np\n"
        "from skmoe._kernels._sigmoid import sigmoid_log_weights\n"
        "print(repr(float(sigmoid_log_weights(np.array([[0.3, -1.0]]), 2)[0, 0])))\n"
    )
    env = dict(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1",
               NUMBA_CACHE_DIR=str(tmp_path / "cache"))

    def log_weight(log_sigmoid):
        logs = np.array([log_sigmoid(0.3), log_sigmoid(-1.0)])
        return logs[0] - np.logaddexp(*logs)

    before = float(_run(code, tmp_path, **env))
    np.testing.assert_allclose(
        before, log_weight(lambda x: -np.log1p(np.exp(-x)) if x >= 0
                           else x - np.log1p(np.exp(x))), rtol=1e-14)
    source = site / "skmoe" / "_kernels" / "_logspace.py"
    text = source.read_text()
    old = "return -np.log1p(np.exp(-x))"
    assert text.count(old) == 1
    source.write_text(text.replace(old, "return -2.0 * np.log1p(np.exp(-x))"))
    after = float(_run(code, tmp_path, **env))
    # log_sigmoid(0.3) doubled, log_sigmoid(-1.0) (the other branch) unchanged
    np.testing.assert_allclose(
        after, log_weight(lambda x: -2.0 * np.log1p(np.exp(-x)) if x >= 0
                          else x - np.log1p(np.exp(x))), rtol=1e-14)
    assert after != before
