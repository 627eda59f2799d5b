"""numpydoc validation of every public class, method and function."""

import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

import skmoe  # noqa: E402
import skmoe.datasets  # noqa: E402
import skmoe.diagnostics  # noqa: E402
import skmoe.experts  # noqa: E402
import skmoe.gating  # noqa: E402
import skmoe.metrics  # noqa: E402
import skmoe.model_selection  # noqa: E402
import skmoe.noise  # noqa: E402

# Ignored numpydoc codes, as in scikit-learn's and skglm's docstring tests:
IGNORED = {
    "GL01",  # summary may start on the line after the opening quotes
    "GL02",  # closing quotes placement
    "RT02",  # a named return value is fine
    "SA01",  # "See Also" is not required everywhere
    "EX01",  # examples are given on classes and top-level functions
    "ES01",  # extended summaries are optional
    "PR01", "PR02", "PR10",  # checked for public API below, not for inherited
    "GL08",  # dataclass fields and inherited sklearn methods
    "YD01",
}
# Parameter documentation is required: PR01 is re-enabled for our own code.
STRICT = {"PR01"}


def _public_objects():
    for module in (skmoe, skmoe.datasets, skmoe.metrics, skmoe.diagnostics,
                   skmoe.model_selection, skmoe.noise):
        names = getattr(module, "__all__", None) or [
            n for n, o in vars(module).items()
            if not n.startswith("_") and inspect.isfunction(o)
            and o.__module__ == module.__name__
        ]
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, Warning):
                yield f"{module.__name__}.{name}"
                continue
            if inspect.isclass(obj):
                yield f"{obj.__module__}.{obj.__name__}"
                for meth, member in vars(obj).items():
                    if meth.startswith("_") or not callable(member):
                        continue
                    yield f"{obj.__module__}.{obj.__name__}.{meth}"
            elif callable(obj):
                yield f"{obj.__module__}.{obj.__name__}"


def _column_families():
    """The column-selection families (public in skmoe.gating, skmoe.experts)."""
    for cls in (skmoe.gating.ColumnGating, skmoe.experts.ColumnExperts):
        yield f"{cls.__module__}.{cls.__name__}"
        for meth, member in vars(cls).items():
            if not meth.startswith("_") and callable(member):
                yield f"{cls.__module__}.{cls.__name__}.{meth}"


@pytest.mark.parametrize("name", sorted(set(_public_objects())
                                        | set(_column_families())))
def test_docstring(name):
    result = numpydoc_validate.validate(name)
    errors = [
        (code, msg) for code, msg in result["errors"]
        if code not in IGNORED or code in STRICT
    ]
    assert not errors, "\n".join(f"{c}: {m}" for c, m in errors)
