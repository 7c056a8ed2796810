"""Sphinx configuration of the pyNN.bss_emu documentation.

Build (fails on any warning, as CI does through tests/test_docs.py)::

    python -m sphinx -W -b html docs docs/_build/html

Pages are MyST markdown; the API pages are reStructuredText because autodoc's generated
content is parsed as rst.  The tables of setup() options and neuron parameter ranges are
generated from the code by the local extension ``docs/_ext/bss_docs.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
try:                                  # the installed package (pip install ".[test]")
    import pyNN_bss_emu
except ImportError:                   # a bare checkout: document the working tree
    sys.path.insert(0, str(DOCS.parent))
    import pyNN_bss_emu

project = "pyNN.bss_emu"
author = "the pyNN.bss_emu developers"
copyright = "the pyNN.bss_emu developers; CeCILL-2.1"
release = pyNN_bss_emu.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    # docs/_ext/bss_docs.py: the generated tables, the benchmark README on its pages, the
    # docstring fixes (see below), cross-references by unique name, and a little CSS
    "bss_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- MyST ---------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3          # [text](page.md#a-heading) links to headings

# -- autodoc ------------------------------------------------------------------------------
# Docstrings are plain rst (sections inside function docstrings as ``.. rubric::``, fields
# as ``name : type`` definition lists); no warning type is silenced, so a docstring that is
# not valid rst fails the -W build (tests/test_docs.py).
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# A signature default that is a big object (the wafer tables, numpy arrays) is shown as the
# expression in the source rather than its repr.
autodoc_preserve_defaults = True
# Cross-references to names outside the documented set (numpy types, PyNN classes) are not
# checked: nitpicky mode would turn every unresolved type hint into a warning.
nitpicky = False

# -- HTML ---------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"pyNN.bss_emu {release}"
html_theme_options = {
    "description": "a PyNN backend emulating the BrainScaleS-1 wafer",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
