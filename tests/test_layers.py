"""The package's layers (setup.cfg's import-linter contracts) hold, and the contracts bite.

Layers, top to bottom: the PyNN surface (control, simulator, populations, projections,
recording, ...) > ``backend`` > ``mapping`` | ``engine`` (independent) > ``hardware``; the
engine imports no wafer model and the trainer none of the package (it runs on pyNN.nest)
except the standalone safe archive reader.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter comes with the test extra")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "setup.cfg"


def _lint(package_parent: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(package_parent))
    return subprocess.run([sys.executable, "-c",
                           "import sys; from importlinter.cli import lint_imports; "
                           f"sys.exit(lint_imports({str(CONFIG)!r}))"],
                          cwd=package_parent, env=env, capture_output=True, text=True,
                          timeout=300)


def _copy_package(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "pyNN_bss_emu", tmp_path / "pyNN_bss_emu",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_import_contracts_are_kept():
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "5 kept, 0 broken" in res.stdout


@pytest.mark.parametrize("module, line, contract", [
    # the mapper asking the simulator state: an upward import (and a circle)
    ("mapping/placement.py", "from .. import simulator  # noqa\n",
     "PyNN surface above the backend"),
    # the backend reading a Projection
    ("backend/wafer.py", "from ..projections import Projection  # noqa\n",
     "PyNN surface above the backend"),
    # the engine using the wafer's tables
    ("engine/network.py", "from ..hardware import wafer  # noqa\n",
     "The engine knows arrays"),
    # the trainer reaching into the backend
    ("training/trainer.py", "from ..backend import progress  # noqa\n",
     "The trainer talks to the PyNN API only"),
])
def test_a_forbidden_import_breaks_the_contracts(tmp_path, module, line, contract):
    parent = _copy_package(tmp_path)
    path = parent / "pyNN_bss_emu" / module
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + rest)
    res = _lint(parent)
    assert res.returncode != 0
    assert f"{contract}" in res.stdout and "BROKEN" in res.stdout
