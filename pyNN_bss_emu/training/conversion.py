"""ANN -> rate-coded SNN conversion: data-based weight normalisation and the fixed-scale
4-bit signed quantiser (in_the_loop_training.md 4.1, 4.3, 4.4).

After normalisation every layer's activations lie in [0, ~1] on the calibration data, and
activation 1 is meant to become the layer's maximum rate ``r_max``.  Normalisation
preserves the network's function up to a positive factor per layer, so the ANN's
classification is unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_bool, check_int, check_real, shown
from .ann import ReLUNetwork, _check_features

__all__ = ["normalise_weights", "Quantiser"]

#: largest number of levels per sign a grid may have (more is no longer "a few bits" and
#: ``levels * lsb`` would lose its meaning as a hardware limit)
MAX_LEVELS = 2 ** 20


def normalise_weights(net: ReLUNetwork, x_calib: np.ndarray, percentile: float = 99.9,
                      output_percentile: float | None = 50.0
                      ) -> tuple[list[np.ndarray], np.ndarray]:
    """Rescale ``W_l <- W_l * lambda_{l-1} / lambda_l`` with ``lambda_l`` the
    ``percentile`` of layer l's (positive) activations on ``x_calib`` (Diehl et al. 2015,
    robust variant of Rueckauer et al. 2017); ``lambda_0`` = 1 (inputs in [0, 1]).

    The output layer decides by its winner only, so by default it is normalised on the
    ``output_percentile`` of every sample's largest logit: the typical winner then fires at
    ``r_max`` instead of a small fraction of it, and its count is less noisy (a 99.9-%
    normalisation left winners at ~25 % of r_max and cost 3 pp of accuracy in the ideal
    spiking network).  ``output_percentile=None`` treats it like the hidden layers.

    Returns the normalised weights and the ``lambda`` of every layer (input first).
    """
    if not isinstance(net, ReLUNetwork):
        raise TypeError(f"net must be a ReLUNetwork, got {type(net).__name__}")
    percentile = check_real(percentile, "percentile", 50.0, 100.0, low_open=False)
    if output_percentile is not None:
        output_percentile = check_real(output_percentile, "output_percentile", 0.0, 100.0)
    x_calib = _check_features(x_calib, net.sizes[0], "x_calib")
    acts = net.forward(x_calib)
    if acts[0].shape[0] < 1:
        raise ValueError("x_calib has no samples: the percentiles need at least one")
    lambdas = [1.0]
    for i, a in enumerate(acts[1:]):
        if i == len(acts) - 2 and output_percentile is not None:
            pos = a.max(axis=1)
            pos = pos[pos > 0]
            q = output_percentile
        else:
            pos = a[a > 0]
            q = percentile
        lam = float(np.percentile(pos, q)) if pos.size else 1.0
        lambdas.append(lam if lam > 0 else 1.0)
    ws = [w * lambdas[i] / lambdas[i + 1] for i, w in enumerate(net.weights)]
    return ws, np.array(lambdas)


@dataclass
class Quantiser:
    """Signed weights on a fixed grid of ``2 * levels + 1`` values:
    ``q(w) = lsb * clip(round(w / lsb), -levels, levels)``.

    ``lsb[l]`` is the grid of layer l: one value (``per_input=False``) or a column of one
    value per presynaptic unit, shape ``(n_in, 1)`` (``per_input=True``, the default): on
    BrainScaleS-1 the analog scale (V_gmax, gmax_div) is set per synapse row, i.e. per group
    of presynaptic sources, so a weak input need not share the grid of the strongest one.
    With only a few inputs of very different strength (Yin-Yang: 5 inputs) one grid per
    layer costs 9-24 pp of software accuracy (three seeds), one per input 2-6 pp.

    The grid is fixed once (``headroom`` x the largest magnitude / ``levels``; 1.25 puts the
    largest converted weight on level 12, not on a rounding tie) and never
    re-derived from the current weights: re-deriving it each step made in-the-loop training
    diverge in the prototype study (in_the_loop_training.md 8).  ``levels`` = 15 for the
    4-bit magnitude of BrainScaleS-1 synapses (sign via receptor).
    """
    lsb: list
    levels: int = 15

    @classmethod
    def for_weights(cls, weights: list[np.ndarray], levels: int = 15, headroom: float = 1.25,
                    per_input: bool = True) -> "Quantiser":
        levels = check_int(levels, "levels", 1, MAX_LEVELS)
        headroom = check_real(headroom, "headroom", None, None)
        if headroom < 1.0:
            raise ValueError(f"headroom = {headroom} must be >= 1 (weights would clip at once)")
        per_input = check_bool(per_input, "per_input")
        if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights must be a list of weight matrices, got "
                            f"{type(weights).__name__}")
        checked = []
        for i, w in enumerate(weights):
            arr = np.asarray(w)
            if arr.dtype.kind not in "iuf" or arr.ndim != 2 or arr.size == 0:
                raise ValueError(f"weights[{i}] must be a non-empty 2-D numeric matrix, got "
                                 f"dtype {arr.dtype}, shape {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"weights[{i}] has non-finite values")
            checked.append(arr.astype(float, copy=False))
        weights = checked
        if per_input:
            lsb = [headroom * np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12) / levels
                   for w in weights]
        else:
            lsb = [np.array(headroom * max(float(np.abs(w).max()), 1e-12) / levels)
                   for w in weights]
        return cls(lsb, levels)

    def __post_init__(self) -> None:
        self.levels = check_int(self.levels, "Quantiser.levels", 1, MAX_LEVELS)
        if isinstance(self.lsb, (np.ndarray, str, bytes)) or not isinstance(self.lsb,
                                                                             (list, tuple)):
            raise TypeError(f"Quantiser.lsb = {shown(self.lsb)} must be a list with one grid "
                            f"(array) per layer")
        lsb = []
        for i, x in enumerate(self.lsb):
            arr = np.asarray(x)
            if arr.dtype.kind not in "iuf":
                raise TypeError(f"Quantiser.lsb[{i}] must be numeric, got dtype {arr.dtype}")
            arr = arr.astype(float)
            if arr.ndim > 2 or arr.size == 0:
                raise ValueError(f"Quantiser.lsb[{i}] has shape {arr.shape}; allowed: a scalar "
                                 f"or an array broadcastable to the layer's (n_in, n_out)")
            bad = arr[~(np.isfinite(arr) & (arr > 0))]
            if bad.size:
                raise ValueError(f"Quantiser.lsb[{i}] must be finite and > 0 everywhere, it "
                                 f"holds {float(bad.flat[0])!r}")
            lsb.append(arr)
        self.lsb = lsb

    def check_layers(self, shapes: list[tuple[int, int]]) -> None:
        """A ``ValueError`` unless there is one grid per layer and each broadcasts to its
        layer's weight ``shapes[l]`` without changing it."""
        if len(self.lsb) != len(shapes):
            raise ValueError(f"quantiser has {len(self.lsb)} layers, the network "
                             f"{len(shapes)}")
        for i, (x, shape) in enumerate(zip(self.lsb, shapes)):
            try:
                ok = np.broadcast_shapes(x.shape, tuple(shape)) == tuple(shape)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"quantiser grid {i} has shape {x.shape}, which does not fit "
                                 f"layer {i}'s weights {tuple(shape)} (allowed: (), "
                                 f"({shape[0]}, 1), (1, {shape[1]}) or {tuple(shape)})")

    def limit(self, layer: int) -> np.ndarray:
        """Largest representable magnitude of ``layer`` (per input, or a scalar array)."""
        return self.levels * self.lsb[layer]

    def clip(self, w: np.ndarray, layer: int) -> np.ndarray:
        lim = self.limit(layer)
        return np.clip(w, -lim, lim)

    def digital(self, w: np.ndarray, layer: int) -> np.ndarray:
        """Signed integer levels ``-levels .. levels`` (round half to even, like numpy)."""
        return np.clip(np.rint(w / self.lsb[layer]), -self.levels, self.levels).astype(np.int64)

    def quantise(self, w: np.ndarray, layer: int) -> np.ndarray:
        return self.digital(w, layer) * self.lsb[layer]

    def quantise_all(self, weights: list[np.ndarray]) -> list[np.ndarray]:
        return [self.quantise(w, i) for i, w in enumerate(weights)]

    def statistics(self, weights: list[np.ndarray]) -> dict:
        """Fraction of weights clipped and of non-zero weights rounded to zero."""
        n = sum(w.size for w in weights)
        clipped = sum(int(np.sum(np.abs(w) > self.limit(i) * (1 + 1e-12)))
                      for i, w in enumerate(weights))
        zeroed = sum(int(np.sum((w != 0) & (self.digital(w, i) == 0)))
                     for i, w in enumerate(weights))
        return {"clipped": clipped / n, "rounded_to_zero": zeroed / n}
