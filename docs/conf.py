"""Sphinx configuration: ``pip install -e ".[docs]" && sphinx-build docs docs/_build``."""

import skhier

project = "skhier"
author = "skhier developers"
release = version = skhier.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "results/*"]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
}
html_theme = "alabaster"
suppress_warnings = ["myst.header"]
