"""Alias package: ``pyNN.bss_emu`` is the very same module object as ``pyNN_bss_emu``.

PyNN selects backends by the dotted name ``pyNN.<name>`` (``pyNN.utility.get_simulator``), so our
distribution installs this one file into PyNN's package directory.  It registers ``pyNN_bss_emu``
and each of its submodules under the ``pyNN.bss_emu`` prefix in ``sys.modules``, so there is one
``simulator.state`` whichever name a script imports.
"""
import importlib
import pkgutil
import sys

import pyNN_bss_emu as _real


def _alias_all() -> None:
    sys.modules[__name__] = _real
    for info in pkgutil.walk_packages(_real.__path__, prefix=_real.__name__ + "."):
        module = importlib.import_module(info.name)
        sys.modules["pyNN.bss_emu" + info.name[len(_real.__name__):]] = module


_alias_all()
