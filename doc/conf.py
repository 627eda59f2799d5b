"""Sphinx configuration of the skmoe documentation.

Build from the repository root with::

    python -m sphinx -W --keep-going -b html doc doc/_build/html

The build works offline: nothing is downloaded (no intersphinx inventories, no
version switcher, no analytics). Set ``SKMOE_DOC_INTERSPHINX=1`` on a machine
with internet access to link to the Python, NumPy, SciPy and scikit-learn
documentation.
"""

import os
import re
import sys
from datetime import date

# Import skmoe from this checkout even if it is not installed.
sys.path.insert(0, os.path.abspath(".."))

import skmoe  # noqa: E402

# -- Project information ------------------------------------------------------

project = "skmoe"
author = "The skmoe developers"
copyright = f"{date.today().year}, {author}"
version = skmoe.__version__
release = skmoe.__version__

# -- General configuration ----------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"

# autodoc / autosummary
autosummary_generate = True
# Document inherited methods (get_params, set_params, score, ...) except those
# of the built-in exception classes (add_note, with_traceback on warnings).
autodoc_default_options = {
    "members": True,
    "inherited-members": "object,BaseException",
}
autodoc_typehints = "none"

# numpydoc
numpydoc_show_class_members = False
# The "Parameters" types are plain text: cross-referencing every word of
# "array-like of shape (n_samples, n_features)" only produces broken links.
numpydoc_xref_param_type = False
numpydoc_class_members_toctree = False

# intersphinx: off unless asked for (the build machine has no internet, and a
# failed download is a warning, which -W turns into an error).
intersphinx_mapping = {}
if os.environ.get("SKMOE_DOC_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "scipy": ("https://docs.scipy.org/doc/scipy/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
    }

# -- sphinx-gallery -----------------------------------------------------------

# Examples run with the non-interactive backend, as in CI.
os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib  # noqa: E402

matplotlib.use("Agg")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("skmoe",),
    "backreferences_dir": "generated",
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    # the execution-time pages load DataTables, Bootstrap and jQuery from CDNs;
    # the build log prints the same timings
    "write_computation_times": False,
}

# -- HTML output --------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skmoe {release}"
html_static_path = []
html_theme_options = {
    # everything below works offline: no version switcher, no analytics
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_context = {"default_mode": "light"}


# -- Inherited scikit-learn docstrings ----------------------------------------

# Methods inherited from scikit-learn (``score``, ``get_params``, the metadata
# routing methods) have docstrings written for scikit-learn's own site: their
# :ref: and :term: roles name labels and glossary terms that exist only there.
# Without the scikit-learn inventory, render those roles as plain text; with it
# (SKMOE_DOC_INTERSPHINX=1) leave them alone so that they link.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if "sklearn" in intersphinx_mapping or not module.startswith("sklearn."):
        return
    for i, line in enumerate(lines):
        lines[i] = _SKLEARN_ROLE.sub(
            lambda m: (m.group(1) or m.group(2)).strip(), line
        )


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
