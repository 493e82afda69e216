"""Sphinx configuration of the skae documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` from the
repository root. The API reference lists whatever ``skae.__all__`` exports,
and the benchmarks page includes every ``docs/bench/*.rst``, both generated
at build time.
"""

import inspect
import os
import re
import sys
from pathlib import Path

import matplotlib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
matplotlib.use("Agg")
# The gallery runs every example during the build; fewer epochs keep it quick.
# Set SKAE_EXAMPLE_EPOCHS yourself (e.g. to 100) for the full pictures.
os.environ.setdefault("SKAE_EXAMPLE_EPOCHS", "30")

import skae  # noqa: E402

project = "skae"
author = "The skae developers"
copyright = "The skae developers"
release = skae.__version__
version = skae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = []
exclude_patterns = ["_build", "bench/*", "auto_examples/*.ipynb", "auto_examples/*.py"]
root_doc = "index"
html_theme = "alabaster"
html_static_path = []
html_title = f"skae {version}"

autodoc_default_options = {"member-order": "bysource"}
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": "/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
}

# ----------------------------------------------------------------------
# Generated pages
# ----------------------------------------------------------------------
# Members documented on the estimators: their own and skae's bases', not
# those of the scikit-learn mixins (whose docstrings refer to sklearn's docs).
_SKLEARN_BASES = (
    "BaseEstimator, TransformerMixin, ClassNamePrefixFeaturesOutMixin, "
    "OutlierMixin, ClassifierMixin, RegressorMixin, _SetOutputMixin, "
    "_MetadataRequester, object"
)


def _public(module):
    for name in getattr(module, "__all__", []):
        if not name.startswith("_"):
            yield name, getattr(module, name)


def _api_section(title, module_name, objects):
    lines = [title, "-" * len(title), "", f".. currentmodule:: {module_name}", ""]
    lines += [".. autosummary::", "   :nosignatures:", ""]
    lines += [f"   {name}" for name, _ in objects]
    lines.append("")
    for name, obj in objects:
        if inspect.isclass(obj):
            lines += [
                f".. autoclass:: {name}",
                "   :members:",
                f"   :inherited-members: {_SKLEARN_BASES}",
                "",
            ]
        else:
            lines += [f".. autofunction:: {name}", ""]
    return lines


def _api_reference():
    import skae.datasets
    import skae.plotting

    sections = [
        ("Estimators and tools", "skae", list(_public(skae))),
        ("Plotting", "skae.plotting", list(_public(skae.plotting))),
        ("Datasets", "skae.datasets", list(_public(skae.datasets))),
    ]
    lines = []
    for title, module_name, objects in sections:
        if objects:
            lines += _api_section(title, module_name, objects)
    return "\n".join(lines)


def _benchmarks():
    files = sorted((HERE / "bench").glob("*.rst"))
    if not files:
        return "No benchmark results have been recorded yet.\n"
    return "\n".join(f".. include:: bench/{f.name}\n" for f in files)


_GENERATED = {"api": ("API_LIST", _api_reference), "benchmarks": ("BENCH_LIST", _benchmarks)}


def _fill_generated(app, docname, source):
    if docname in _GENERATED:
        marker, make = _GENERATED[docname]
        source[0] = source[0].replace(f".. {marker}", make())


# "of shape (n_samples, n_components_)" in a docstring would read as an RST
# link to "n_components"; escape the trailing underscore of fitted names in
# shape descriptions (and nowhere else, so code examples stay as written).
_FITTED_NAME = re.compile(r"\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)_(?=[,)\]])")


def _escape_fitted_names(app, what, name, obj, options, lines):
    lines[:] = [_FITTED_NAME.sub(r"\1\\_", line) if "shape (" in line else line for line in lines]


def setup(app):
    app.connect("source-read", _fill_generated)
    app.connect("autodoc-process-docstring", _escape_fitted_names)
