"""The Sphinx documentation builds without a single warning.

This is how CI builds the docs: ``python -m pytest -q`` runs this test, which runs
``sphinx-build -W -b html docs <tmp>`` in-process.  Sphinx and myst-parser come with the
``test`` extra (``pip install ".[test]"``).
"""
from __future__ import annotations

from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.slow
# deprecation notices that myst-parser triggers in newer Sphinx versions are not doc warnings
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_sphinx_build_without_warnings(tmp_path, capsys):
    pytest.importorskip("sphinx", reason="Sphinx is not installed (it comes with the test "
                                         "extra: pip install '.[test]')")
    pytest.importorskip("myst_parser", reason="myst-parser is not installed (it comes with the "
                                              "test extra: pip install '.[test]')")
    from sphinx.cmd.build import build_main

    out = tmp_path / "html"
    # -W: warnings are errors; --keep-going: report all of them; -E/-a: no cached state;
    # -q: only warnings and errors on stderr
    status = build_main(["-W", "--keep-going", "-E", "-a", "-q", "-b", "html",
                         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)])
    stderr = capsys.readouterr().err
    assert status == 0, f"sphinx-build -W failed (exit {status}):\n{stderr}"
    assert (out / "index.html").is_file()
    for page in ("api/index.html", "api/surface.html", "api/training.html",
                 "setup_options.html"):
        assert (out / page).is_file(), f"{page} was not built"
    # the generated options table lists every setup() option
    from pyNN_bss_emu.control import SETUP_OPTIONS
    options_html = (out / "setup_options.html").read_text(encoding="utf-8")
    missing = [name for name in SETUP_OPTIONS if f">{name}<" not in options_html]
    assert not missing, f"setup() options missing from setup_options.html: {missing}"
