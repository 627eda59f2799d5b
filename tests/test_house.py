"""The house rules of the package's layout, checked on its source.

- **No import circles**: the module-level imports of ``skmoe`` form a graph
  without cycles.
- **No upward imports**: every module belongs to a floor (below); a module
  imports only from its own floor or below, and the families (``gating/``,
  ``experts/``, ``noise/``) import only kernels, utilities and their own
  package, never each other.
- **No imports inside function bodies**, except the optional dependencies
  (pandas, matplotlib, dask) and the lazy imports listed in
  :data:`LAZY` with their reason.
- **No dispatch on concrete families outside their own files**: outside
  ``gating/``, ``experts/`` and ``noise/``, no ``isinstance`` test names a
  concrete family class and no code compares a noise model's ``name``;
  consumers ask abilities (``skmoe.utils._abilities``).
- **One check, one specification**: a fit checks its settings once
  (``check_spec``), and every solver entry point takes ``(X, y,
  sample_weight, spec)``.
"""

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import skmoe
from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.experts import EXPERTS
from skmoe.gating import GATINGS
from skmoe.noise import NOISES
from skmoe.solvers import SOLVERS
from skmoe.solvers import _dispatch as dispatch_module

ROOT = Path(skmoe.__file__).parent

#: floors, bottom to top: (name, module prefixes)
FLOORS = [
    ("kernels and utilities", ("skmoe._kernels", "skmoe.utils")),
    ("families", ("skmoe.gating", "skmoe.experts", "skmoe.noise")),
    ("the model container", ("skmoe._params",)),
    ("model-level tools", ("skmoe.datasets", "skmoe._real_data", "skmoe.metrics",
                           "skmoe.diagnostics")),
    ("solvers", ("skmoe.solvers",)),
    ("fit-level tools", ("skmoe.inference", "skmoe._dendrogram",
                         "skmoe.model_selection", "skmoe._summary")),
    ("the estimator", ("skmoe._estimator",)),
    ("applications", ("skmoe.convergence", "skmoe.__main__")),
]

FAMILY_PACKAGES = ("skmoe.gating", "skmoe.experts", "skmoe.noise")

#: imports inside function bodies that are allowed: optional dependencies
OPTIONAL = ("pandas", "matplotlib", "dask", "dask_ml", "joblib")
#: (module, imported module) -> why the import is lazy
LAZY = {
    ("skmoe._estimator", "skmoe.inference"): (
        "standard_errors: skmoe.inference imports scipy.stats, whose import "
        "costs more than the rest of skmoe; import skmoe stays fast"),
    ("skmoe._estimator", "skmoe._summary"): (
        "summary: skmoe._summary imports skmoe.inference (scipy.stats), as "
        "standard_errors above"),
    ("skmoe.__main__", "*"): (
        "the command line imports the package only for the subcommand it "
        "runs, so that --help answers at once"),
    ("skmoe.utils._threads", "numba"): (
        "Numba's thread count matters only to a fit with n_jobs > 1; "
        "import skmoe does not import Numba (the kernel modules load on "
        "first use, see skmoe._kernels)"),
    ("skmoe.solvers._starts", "sklearn.cluster"): (
        "k-means starts only: sklearn.cluster costs more to import than the "
        "rest of skmoe"),
    ("skmoe._estimator", "sklearn.metrics"): (
        "score only: sklearn.metrics is most of what import skmoe adds to "
        "import sklearn"),
}


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module, path, node):
    """The absolute name imported by an ``ImportFrom`` node (None: external)."""
    if node.level == 0:
        return node.module if (node.module or "").startswith("skmoe") else None
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _submodule_or_package(package, name):
    """``package.name`` if it is a module or a package of the source, else
    ``package`` (the name is an attribute of the package's namespace)."""
    parts = package.split(".")[1:] + [name]
    path = ROOT.joinpath(*parts)
    if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
        return f"{package}.{name}"
    return package


def _sources():
    return [(p, _module_name(p), ast.parse(p.read_text())) for p in
            sorted(ROOT.rglob("*.py"))]


def _graph():
    graph = {}
    for path, module, tree in _sources():
        deps = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                if target is not None and node.module is None:
                    # "from .. import _kernels": the package's submodules;
                    # a name that is no module ("from . import __version__")
                    # is the package itself
                    deps.update(_submodule_or_package(target, a.name)
                                for a in node.names)
                elif target is not None:
                    deps.add(target)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("skmoe"))
        graph[module] = deps
    return graph


def _floor(module):
    for i, (_, prefixes) in enumerate(FLOORS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    if module == "skmoe":
        return len(FLOORS) - 1  # the public namespace, with the applications
    raise AssertionError(f"module {module} belongs to no floor; add it to FLOORS")


def test_every_module_has_a_floor():
    for module in _graph():
        _floor(module)


def test_no_import_circles():
    graph = _graph()
    state = {}

    def visit(module, stack):
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            if dep not in graph:
                continue
            if state.get(dep) == "open":
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, stack + [dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_upward_imports():
    upward = []
    for module, deps in _graph().items():
        for dep in deps:
            if _floor(dep) > _floor(module):
                upward.append(f"{module} ({FLOORS[_floor(module)][0]}) imports "
                              f"{dep} ({FLOORS[_floor(dep)][0]})")
    assert not upward, "\n".join(upward)


def test_families_import_only_kernels_utilities_and_themselves():
    wrong = []
    for module, deps in _graph().items():
        family = next((p for p in FAMILY_PACKAGES
                       if module == p or module.startswith(p + ".")), None)
        if family is None:
            continue
        for dep in deps:
            if not (dep.startswith(("skmoe._kernels", "skmoe.utils"))
                    or dep == family or dep.startswith(family + ".")):
                wrong.append(f"{module} imports {dep}")
    assert not wrong, "\n".join(wrong)


def test_no_imports_in_function_bodies_except_optional_and_lazy():
    found = []
    for path, module, tree in _sources():
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [_resolve(module, path, node) or node.module]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in OPTIONAL:
                        continue
                    if (module, name) in LAZY or (module, "*") in LAZY:
                        continue
                    found.append(f"{module}.{func.name} imports {name}")
    assert not found, "\n".join(found)


def _concrete_family_names():
    classes = [*GATINGS.values(), *EXPERTS.values(), *NOISES.values()]
    names = set()
    for cls in classes:
        names.update(c.__name__ for c in cls.__mro__
                     if c.__module__.startswith(FAMILY_PACKAGES)
                     and not inspect.isabstract(c) and c.__name__[0] != "_")
    return names


def test_no_dispatch_on_concrete_families_outside_their_files():
    concrete = _concrete_family_names()
    found = []
    for _path, module, tree in _sources():
        if module.startswith(FAMILY_PACKAGES):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "isinstance" and len(node.args) == 2):
                classes = node.args[1]
                elts = classes.elts if isinstance(classes, ast.Tuple) else [classes]
                for elt in elts:
                    if isinstance(elt, ast.Name) and elt.id in concrete:
                        found.append(f"{module}:{node.lineno} isinstance(..., "
                                     f"{elt.id})")
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Attribute) and s.attr == "name"
                       and isinstance(s.value, ast.Attribute)
                       and s.value.attr == "noise" for s in sides):
                    found.append(f"{module}:{node.lineno} compares noise.name")
    assert not found, "\n".join(found)


def test_every_solver_entry_takes_the_fit_specification():
    for name, solver in SOLVERS.items():
        params = list(inspect.signature(solver.fit).parameters)
        assert params == ["X", "y", "sample_weight", "spec"], name


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["em", "lbfgs"])
def test_a_fit_checks_its_settings_once(monkeypatch, solver):
    calls = []
    original = dispatch_module.check_spec

    def counted(spec):
        calls.append(spec)
        return original(spec)

    monkeypatch.setattr(dispatch_module, "check_spec", counted)
    X, y, _ = make_moe_regression(200, 2, 2, random_state=0)
    MixtureOfExpertsRegressor(2, solver=solver, max_iter=3, tol=0.0,
                              random_state=0).fit(X, y)
    assert len(calls) == 1


def test_the_fit_specification_carries_the_estimator_settings():
    est = MixtureOfExpertsRegressor(3, gating="normalized_sigmoid", n_init=2,
                                    max_iter=7, tol=1e-3, noise="student_t",
                                    noise_df=5.0)
    spec = est._spec(var_floor=0.1, rng=np.random.RandomState(0))
    assert spec.n_experts == 3 and spec.n_init == 2 and spec.max_iter == 7
    assert type(spec.gating) is GATINGS["normalized_sigmoid"]
    assert type(spec.noise) is NOISES["student_t"] and spec.noise.df == 5.0
    assert spec.var_floor == 0.1 and spec.tol == 1e-3


# ------------------------------------------------------------------ figures
def _figures(root):
    """The house's figures for a source tree (``python tests/test_house.py``).

    Import circles and upward imports count every import of a ``skmoe``
    module, in function bodies too (they were what held the old circle).
    """
    global ROOT
    saved, ROOT = ROOT, Path(root)
    try:
        sources = _sources()
        graph = {}
        for path, module, tree in sources:
            deps = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    target = _resolve(module, path, node)
                    if target and node.module is None:
                        # "from .. import _kernels": the package's submodules
                        # (or the package, for a name that is no module)
                        deps.update(_submodule_or_package(target, a.name)
                                    for a in node.names)
                    elif target:
                        deps.add(target)
            graph[module] = {d for d in deps if d != module}
        # strongly connected components (Tarjan)
        index, low, on, stack, comps = {}, {}, set(), [], []

        def strong(v):
            index[v] = low[v] = len(index)
            stack.append(v)
            on.add(v)
            for w in graph.get(v, ()):
                if w not in graph:
                    w = w.rsplit(".", 1)[0] if w.rsplit(".", 1)[0] in graph else w
                if w not in graph:
                    continue
                if w not in index:
                    strong(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))

        for v in sorted(graph):
            if v not in index:
                strong(v)
        upward = sum(1 for m, deps in graph.items() for d in deps
                     if _floor_or_none(d) is not None and _floor_or_none(m) is not None
                     and _floor_or_none(d) > _floor_or_none(m))
        body_imports = 0
        largest_class = largest_function = ("", 0)
        for _path, module, tree in sources:
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    size = node.end_lineno - node.lineno + 1
                    if size > largest_function[1]:
                        largest_function = (f"{module}.{node.name}", size)
                    body_imports += sum(
                        isinstance(n, ast.ImportFrom) and (n.level or (
                            n.module or "").startswith("skmoe"))
                        for n in ast.walk(node))
                if isinstance(node, ast.ClassDef):
                    size = node.end_lineno - node.lineno + 1
                    if size > largest_class[1]:
                        largest_class = (f"{module}.{node.name}", size)
        return dict(circles=comps, upward_imports=upward,
                    package_imports_in_function_bodies=body_imports,
                    largest_class=largest_class,
                    largest_function=largest_function)
    finally:
        ROOT = saved


def _floor_or_none(module):
    try:
        return _floor(module)
    except AssertionError:
        return None


def _hooks(cls):
    """(required, optional) public methods of a family base class."""
    names = [n for n, v in vars(cls).items()
             if callable(v) and not n.startswith("_")]
    required = sorted(n for n in names if n in getattr(cls, "__abstractmethods__", ()))
    return required, sorted(set(names) - set(required))


if __name__ == "__main__":  # pragma: no cover - the report of the redesign
    import sys

    from skmoe.experts import Experts
    from skmoe.gating import Gating
    from skmoe.noise import NoiseModel

    for key, value in _figures(sys.argv[1] if len(sys.argv) > 1 else ROOT).items():
        print(f"{key}: {value}")
    for cls in (Gating, Experts, NoiseModel):
        required, optional = _hooks(cls)
        print(f"{cls.__name__}: {len(required)} required {required}, "
              f"{len(optional)} optional")
    for name, solver in SOLVERS.items():
        print(f"solver {name}: entry {solver.fit.__name__}"
              f"{inspect.signature(solver.fit)}")
