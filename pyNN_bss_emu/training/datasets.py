"""Data sets that need no download: scikit-learn's bundled 8x8 digits and the procedural
Yin-Yang set (Kriener et al.; ``shared/reference/in_the_loop_training.md`` section 5).

Inputs are float arrays in [0, 1] of shape (samples, features); labels are int64 class
numbers.  Every function is deterministic for given seeds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_bool, check_int, check_labels, check_real, check_seed, shown

__all__ = ["Dataset", "load_digits_dataset", "yin_yang_dataset", "yin_yang_samples",
           "check_inputs"]


@dataclass
class Dataset:
    """A classification task split into training and test sets.

    ``x_*``: (samples, features) float64 in [0, 1]; ``y_*``: (samples,) int64 in
    ``0 .. n_classes - 1``.
    """
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Dataset.name = {shown(self.name)} must be a str")
        self.n_classes = check_int(self.n_classes, "Dataset.n_classes", 1)
        for part in ("train", "test"):
            x = check_inputs(getattr(self, f"x_{part}"), None, f"x_{part}")
            if x.shape[1] < 1:
                raise ValueError(f"x_{part} has shape {x.shape}: each sample needs >= 1 "
                                 f"feature")
            y = check_labels(getattr(self, f"y_{part}"), x.shape[0], self.n_classes,
                             f"y_{part}")
            setattr(self, f"x_{part}", x)
            setattr(self, f"y_{part}", y)
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(f"x_train has {self.x_train.shape[1]} features but x_test "
                             f"{self.x_test.shape[1]}")

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> "Dataset":
        """The first ``n_train`` / ``n_test`` samples (for quick runs; splits are already
        shuffled and stratified); ``None``: all of them."""
        if n_train is not None:
            n_train = check_int(n_train, "n_train", 0)
        if n_test is not None:
            n_test = check_int(n_test, "n_test", 0)
        return Dataset(self.name, self.x_train[:n_train], self.y_train[:n_train],
                       self.x_test[:n_test], self.y_test[:n_test], self.n_classes)


def check_inputs(x: np.ndarray, n_features: int | None, what: str = "x") -> np.ndarray:
    """``x`` as a float (samples, features) array with values in [0, 1], or a ValueError
    (TypeError for a non-numeric ``x``) naming the problem."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:        # ragged nested lists and the like
        raise TypeError(f"{what} must be a numeric array (samples, features), got "
                        f"{type(x).__name__} ({err})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be a numeric array (samples, features), got dtype "
                        f"{arr.dtype}")
    x = arr.astype(float, copy=False)
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (samples, features), got shape {x.shape}")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"{what} has {x.shape[1]} features per sample, the network has "
                         f"{n_features} inputs")
    finite = np.isfinite(x)
    if x.size and (not np.all(finite) or x.min() < 0.0 or x.max() > 1.0):
        seen = x[finite]
        span = f"{seen.min()}..{seen.max()}" if seen.size else "no finite value"
        n_bad = int(x.size - seen.size)
        raise ValueError(f"{what} values must be finite and in [0, 1] (they become input "
                         f"rates), got {span}"
                         + (f" and {n_bad} non-finite value(s)" if n_bad else ""))
    return x


def load_digits_dataset(test_size: float = 0.2, random_state: int = 0) -> Dataset:
    """scikit-learn's bundled handwritten digits (1797 images, 8x8, 10 classes), pixel
    values /16 -> [0, 1], stratified split (default 1437 training / 360 test samples, the
    protocol of in_the_loop_training.md 7.1)."""
    test_size = check_real(test_size, "test_size", 0.0, 1.0, high_open=True)
    random_state = check_seed(random_state, "random_state")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = digits.data.astype(float) / 16.0
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size,
                                              random_state=random_state, stratify=y)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, 10)


# ---------------------------------------------------------------- Yin-Yang
R_BIG = 0.5      # radius of the whole symbol
R_SMALL = 0.1    # radius of the two dots


def _yin_yang_class(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Class of points (x, y) inside the symbol centred at (0.5, 0.5): 0 yin, 1 yang,
    2 dot; -1 outside."""
    cx = cy = R_BIG
    d_right = np.hypot(x - (cx + R_BIG / 2), y - cy)
    d_left = np.hypot(x - (cx - R_BIG / 2), y - cy)
    inside = np.hypot(x - cx, y - cy) <= R_BIG
    dot = (d_right <= R_SMALL) | (d_left <= R_SMALL)
    # yang: upper half outside the left lobe, plus the right lobe; yin is the rest
    yang = ((y > cy) & (d_left > R_BIG / 2)) | (d_right <= R_BIG / 2)
    cls = np.where(dot, 2, np.where(yang, 1, 0))
    return np.where(inside, cls, -1)


def yin_yang_samples(n: int, seed: int, bias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Yin-Yang samples with balanced classes (rejection sampling).

    Features (x, y, 1 - x, 1 - y) and, with ``bias``, a constant 1 (the always-on input that
    replaces biases in a bias-free network).
    """
    n = check_int(n, "n", 0)
    seed = check_seed(seed, "seed")
    bias = check_bool(bias, "bias")
    rng = np.random.default_rng(seed)
    per_class = [n // 3 + (1 if c < n % 3 else 0) for c in range(3)]
    got = [np.zeros((0, 2)) for _ in range(3)]
    while any(g.shape[0] < k for g, k in zip(got, per_class)):
        pts = rng.random((4096, 2))
        cls = _yin_yang_class(pts[:, 0], pts[:, 1])
        for c in range(3):
            if got[c].shape[0] < per_class[c]:
                got[c] = np.concatenate([got[c], pts[cls == c]])[:per_class[c]]
    xy = np.concatenate(got)
    labels = np.repeat(np.arange(3), per_class)
    order = rng.permutation(n)
    xy, labels = xy[order], labels[order]
    cols = [xy[:, 0], xy[:, 1], 1.0 - xy[:, 0], 1.0 - xy[:, 1]]
    if bias:
        cols.append(np.ones(n))
    return np.stack(cols, axis=1), labels.astype(np.int64)


def yin_yang_dataset(n_train: int = 5000, n_test: int = 1000, train_seed: int = 42,
                     test_seed: int = 40, bias: bool = True) -> Dataset:
    """The Yin-Yang task with separate seeds for the training and test sets (the data set's
    README insists on that; defaults from in_the_loop_training.md 7.1)."""
    n_train = check_int(n_train, "n_train", 0)
    n_test = check_int(n_test, "n_test", 0)
    train_seed = check_seed(train_seed, "train_seed")
    test_seed = check_seed(test_seed, "test_seed")
    if train_seed == test_seed:
        raise ValueError(f"train_seed and test_seed must differ (both {train_seed}): the "
                         f"test set would repeat the training samples")
    x_tr, y_tr = yin_yang_samples(n_train, train_seed, bias)
    x_te, y_te = yin_yang_samples(n_test, test_seed, bias)
    return Dataset("yin_yang", x_tr, y_tr, x_te, y_te, 3)
