"""Argument checks shared by the training package: every public constructor and method
argument is checked with an error naming the parameter, the value and what is allowed
(``TypeError`` for a wrong type, ``ValueError`` for a value out of range).

Booleans are not numbers here (``True`` is no batch size), and integer parameters refuse
floats even when integral (``batch_size=2.5`` and ``2.0`` alike): a float in an integer
field is nearly always a mistake upstream.
"""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = ["shown", "check_int", "check_real", "check_bool", "check_seed", "check_path",
           "check_labels", "check_sizes", "check_weight_matrices"]


def shown(value: object) -> str:
    """``repr`` of a value for an error message, numpy scalars as plain numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_int(value: object, name: str, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` as a Python ``int`` (any integer type but ``bool``) within
    ``minimum .. maximum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        allowed = "an integer" + (f" >= {minimum}" if minimum is not None else "")
        raise TypeError(f"{name} = {shown(value)} must be {allowed} "
                        f"(got {type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} = {value} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} = {value} must be <= {maximum}")
    return value


def check_real(value: object, name: str, low: float | None = None, high: float | None = None,
               low_open: bool = True, high_open: bool = False) -> float:
    """``value`` as a finite Python ``float`` in the interval from ``low`` to ``high``
    (``low_open`` / ``high_open``: the end itself excluded; ``None``: unbounded).  The
    message of a value out of range is ``"{name} = {value} must be > low"`` (or ``>=``,
    or ``in (low, high]``, ...)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} = {shown(value)} must be a real number "
                        f"(got {type(value).__name__})")
    v = float(value)
    if low is not None and high is not None:
        rule = (f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}")
    elif low is not None:
        rule = f"{'>' if low_open else '>='} {low:g}"
    elif high is not None:
        rule = f"{'<' if high_open else '<='} {high:g}"
    else:
        rule = "finite"
    ok = math.isfinite(v)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        raise ValueError(f"{name} = {shown(value)} must be {rule}"
                         + (" and finite" if math.isinf(v) and rule != "finite" else ""))
    return v


def check_bool(value: object, name: str) -> bool:
    """``value`` as a ``bool`` (Python or numpy booleans only)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} = {shown(value)} must be True or False "
                        f"(got {type(value).__name__})")
    return bool(value)


def check_seed(value: object, name: str) -> int:
    """A seed for ``numpy.random.default_rng``: an integer >= 0."""
    return check_int(value, name, 0)


def check_path(value: object, name: str) -> str:
    """A file name: ``str`` or ``os.PathLike``, not empty."""
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} = {shown(value)} must be a file name (str or path-like, "
                        f"got {type(value).__name__})")
    path = os.fspath(value)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{name} = {shown(value)} must be a non-empty file name")
    return path


def check_labels(y: object, n_samples: int, n_classes: int, name: str = "y") -> np.ndarray:
    """Class labels: an integer array of shape ``(n_samples,)`` with values in
    ``0 .. n_classes - 1``, returned as int64 (a float or bool array is refused, even with
    integral values: it is usually a regression target or a mask passed by mistake)."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.shape != (n_samples,):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n_samples},) (one label "
                         f"per sample)")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} labels must be in 0..{n_classes - 1}, got "
                         f"{int(arr.min())}..{int(arr.max())}")
    return arr.astype(np.int64)


def check_sizes(sizes: object, name: str = "sizes") -> tuple[int, ...]:
    """Layer sizes (inputs, hidden..., outputs): a sequence of >= 2 integers >= 1."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{name} = {shown(sizes)} must be a sequence of layer sizes "
                        f"(inputs, hidden..., outputs)")
    sizes = list(sizes)
    out = tuple(check_int(s, f"{name}[{i}]", 1) for i, s in enumerate(sizes))
    if len(out) < 2:
        raise ValueError(f"{name} = {out}: need at least an input and an output layer, each "
                         f"of >= 1 unit")
    return out


def check_weight_matrices(weights, sizes: tuple[int, ...],
                          layer: str = "layer {i}") -> list[np.ndarray]:
    """Copies of ``weights`` as float matrices, one per layer of a network of ``sizes``, of
    shape (pre, post) and finite.  ``layer`` names layer ``i`` in the shape message (a
    format string with ``{i}``)."""
    n_layers = len(sizes) - 1
    if len(weights) != n_layers:
        raise ValueError(f"{len(weights)} weight matrices for a network of {n_layers} "
                         f"layers (sizes {tuple(sizes)})")
    out = []
    for i, w in enumerate(weights):
        w = np.array(w, dtype=float)
        shape = (sizes[i], sizes[i + 1])
        if w.shape != shape:
            raise ValueError(f"weight matrix {i} has shape {w.shape}; {layer.format(i=i)} "
                             f"needs {shape} (pre x post)")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"weight matrix {i} has non-finite values")
        out.append(w)
    return out
