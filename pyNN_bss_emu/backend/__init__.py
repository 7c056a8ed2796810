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


def defect_map(options: SetupOptions, wafer_seed: int | None = None):
    """The :class:`~pyNN_bss_emu.hardware.defects.DefectMap` of a wafer from the ``defects``
    option and its seed (default: ``wafer_seed``); a bad spec is a ValueError/OSError naming
    the option."""
    from ..hardware.defects import DefectMap
    spec = options.defects.spec
    seed = options.substrate.wafer_seed if wafer_seed is None else wafer_seed
    try:
        return DefectMap.from_spec(spec, seed)
    except (ValueError, OSError) as err:
        raise type(err)(f"setup(defects={spec!r}): {err}") from None


def make_backend(options: SetupOptions, dt: float, exchange=None) -> Backend:
    """The backend ``options`` ask for (``options.ideal``); the defect spec is validated in
    either case, so a script's bad option fails the same way in both modes.  Every wafer of
    the system (``setup(wafers=...)``) gets the defect map of its own seed.  ``exchange``:
    the spike exchange of a distributed run (:mod:`pyNN_bss_emu.engine.distributed`), None
    in one process."""
    seeds = options.system.wafer_seeds(options.substrate.wafer_seed)
    defects = [defect_map(options, seeds[0])]
    if not options.ideal:
        defects += [defect_map(options, s) for s in seeds[1:]]
    backend = IdealBackend(options, dt) if options.ideal else WaferBackend(options, dt, defects)
    if exchange is not None:
        backend.network.set_partition(exchange)
    return backend


def initial_backend(dt: float) -> Backend:
    """The backend before the first ``setup()`` (PyNN requires a state at import): the ideal
    engine with the default options; ``setup()`` replaces it."""
    return IdealBackend(SetupOptions(ideal=True), dt)
