"""What runs the network, chosen once in ``setup()``: the ideal engine or the emulated wafer.

Both implement :class:`~.base.Backend`; the PyNN surface talks only to that interface.
"""
from __future__ import annotations

from .base import Backend, NotMappedError
from .ideal import IdealBackend
from .options import SetupOptions
from .wafer import WaferBackend

__all__ = ["Backend", "IdealBackend", "NotMappedError", "SetupOptions", "WaferBackend",
           "make_backend"]


def make_backend(options: SetupOptions, dt: float, defects=None) -> Backend:
    """The backend ``options`` ask for (``options.ideal``), with the wafer's defect map."""
    if options.ideal:
        return IdealBackend(options, dt)
    return WaferBackend(options, dt, defects)
