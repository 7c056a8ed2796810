"""What runs the network, chosen once in ``setup()``: the ideal engine or the emulated wafer.

Both implement :class:`~.base.Backend`; the PyNN surface talks only to that interface.
"""
from __future__ import annotations

from ..engine.distributed import world_exchange
from .base import Backend, NotMappedError
from .ideal import IdealBackend
from .options import SetupOptions
from .wafer import WaferBackend

__all__ = ["Backend", "IdealBackend", "NotMappedError", "SetupOptions", "WaferBackend",
           "make_backend", "initial_backend", "world_exchange"]


def defect_map(options: SetupOptions):
    """The wafer's :class:`~pyNN_bss_emu.hardware.defects.DefectMap` from the ``defects``
    option and the wafer seed; a bad spec is a ValueError/OSError naming the option."""
    from ..hardware.defects import DefectMap
    spec = options.defects.spec
    try:
        return DefectMap.from_spec(spec, options.substrate.wafer_seed)
    except (ValueError, OSError) as err:
        raise type(err)(f"setup(defects={spec!r}): {err}") from None


def make_backend(options: SetupOptions, dt: float, exchange=None) -> Backend:
    """The backend ``options`` ask for (``options.ideal``); the defect spec is validated in
    either case, so a script's bad option fails the same way in both modes.  ``exchange``:
    the spike exchange of a distributed run (:mod:`pyNN_bss_emu.engine.distributed`), None
    in one process."""
    defects = defect_map(options)
    backend = IdealBackend(options, dt) if options.ideal else WaferBackend(options, dt, defects)
    if exchange is not None:
        backend.network.set_partition(exchange)
    return backend


def initial_backend(dt: float) -> Backend:
    """The backend before the first ``setup()`` (PyNN requires a state at import): the ideal
    engine with the default options; ``setup()`` replaces it."""
    return IdealBackend(SetupOptions(ideal=True), dt)
