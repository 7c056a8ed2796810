"""The software network: a bias-free ReLU multilayer perceptron in numpy, softmax
cross-entropy, Adam (in_the_loop_training.md 4.1: no biases, or a bias input column).

Weights are a list of (n_in, n_out) float64 matrices; activations are row vectors, so a
layer computes ``h_out = relu(h_in @ W)`` (the output layer is linear: logits).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._checks import check_int, check_labels, check_real, check_seed, check_sizes

__all__ = ["ReLUNetwork", "Adam", "softmax", "cross_entropy", "accuracy", "train_ann"]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy of ``logits`` (samples, classes) against labels ``y``."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(y.size), y].mean())


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples whose highest score is the label (ties -> lowest class, as
    ``argmax``)."""
    return float(np.mean(np.argmax(scores, axis=1) == y))


def _check_features(x: np.ndarray, n_inputs: int, what: str = "x") -> np.ndarray:
    """``x`` as a finite float (samples, n_inputs) array, or an error naming ``what``."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must be a numeric array (samples, features) ({err})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be a numeric array (samples, features), got dtype "
                        f"{arr.dtype}")
    arr = arr.astype(float, copy=False)
    if arr.ndim != 2 or arr.shape[1] != n_inputs:
        raise ValueError(f"{what} has shape {arr.shape}; the network needs (samples, "
                         f"{n_inputs})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} has non-finite values")
    return arr


@dataclass
class ReLUNetwork:
    """Bias-free ReLU MLP.  ``sizes`` = (inputs, hidden..., classes); ``weights``: one
    finite (n_in, n_out) matrix per layer, or empty (then :meth:`initialise` is the way to
    get a network that computes)."""
    sizes: tuple
    weights: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sizes = check_sizes(self.sizes, "ReLUNetwork.sizes")
        if isinstance(self.weights, np.ndarray) or not isinstance(self.weights, (list, tuple)):
            raise TypeError(f"ReLUNetwork.weights must be a list of weight matrices, got "
                            f"{type(self.weights).__name__}")
        weights = list(self.weights)
        if weights and len(weights) != len(self.sizes) - 1:
            raise ValueError(f"ReLUNetwork.weights has {len(weights)} matrices, sizes "
                             f"{self.sizes} need {len(self.sizes) - 1}")
        for i, w in enumerate(weights):
            arr = np.asarray(w)
            if arr.dtype.kind not in "iuf":
                raise TypeError(f"ReLUNetwork.weights[{i}] must be a numeric matrix, got "
                                f"dtype {arr.dtype}")
            arr = arr.astype(float, copy=False)
            shape = (self.sizes[i], self.sizes[i + 1])
            if arr.shape != shape:
                raise ValueError(f"ReLUNetwork.weights[{i}] has shape {arr.shape}, sizes "
                                 f"{self.sizes} need {shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"ReLUNetwork.weights[{i}] has non-finite values")
            weights[i] = arr
        self.weights = weights

    @classmethod
    def initialise(cls, sizes, seed: int = 0) -> "ReLUNetwork":
        """He-normal initialisation N(0, 2/n_in) from ``seed``."""
        sizes = check_sizes(sizes)
        rng = np.random.default_rng(check_seed(seed, "seed"))
        ws = [rng.normal(0.0, np.sqrt(2.0 / a), (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        return cls(sizes, ws)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Activations of every layer, input first; the last entry are the logits."""
        if not self.weights:
            raise ValueError("the network has no weights yet (ReLUNetwork.initialise makes "
                             "them)")
        acts = [_check_features(x, self.sizes[0])]
        for i, w in enumerate(self.weights):
            z = acts[-1] @ w
            acts.append(z if i == len(self.weights) - 1 else np.maximum(z, 0.0))
        return acts

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Mean cross-entropy and its gradient with respect to every weight matrix."""
        acts = self.forward(x)
        n = acts[0].shape[0]
        y = check_labels(y, n, self.sizes[-1])
        delta = softmax(acts[-1])
        delta[np.arange(n), y] -= 1.0
        delta /= n
        grads = [None] * len(self.weights)
        for i in range(len(self.weights) - 1, -1, -1):
            grads[i] = acts[i].T @ delta
            if i:
                delta = (delta @ self.weights[i].T) * (acts[i] > 0)
        return cross_entropy(acts[-1], y), grads


class Adam:
    """Adam (Kingma & Ba) on a list of arrays; state is plain arrays (checkpointable)."""

    def __init__(self, shapes, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        lr = check_real(lr, "learning rate lr", 0.0)
        beta1 = check_real(beta1, "Adam beta1", 0.0, 1.0, low_open=False, high_open=True)
        beta2 = check_real(beta2, "Adam beta2", 0.0, 1.0, low_open=False, high_open=True)
        eps = check_real(eps, "Adam eps", 0.0)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros(s) for s in shapes]
        self.v = [np.zeros(s) for s in shapes]
        self.t = 0

    def steps(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        """Update directions (to be *added* to the parameters) for ``grads``."""
        self.t += 1
        out = []
        for i, g in enumerate(grads):
            self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * g
            self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * g * g
            m_hat = self.m[i] / (1 - self.beta1 ** self.t)
            v_hat = self.v[i] / (1 - self.beta2 ** self.t)
            out.append(-self.lr * m_hat / (np.sqrt(v_hat) + self.eps))
        return out

    def state(self) -> dict:
        return {"t": self.t, "m": [a.copy() for a in self.m], "v": [a.copy() for a in self.v],
                "lr": self.lr}

    def load_state(self, state: dict) -> None:
        """Restore :meth:`state` (same number and shapes of arrays; ``t`` >= 0, ``lr`` > 0,
        finite ``m``, finite ``v`` >= 0).  Everything is checked before anything changes."""
        if not isinstance(state, dict) or set(state) != {"t", "m", "v", "lr"}:
            raise ValueError(f"Adam state must be a dict with keys t, m, v, lr, got "
                             f"{sorted(state) if isinstance(state, dict) else type(state)}")
        t = check_int(state["t"], "Adam state t", 0)
        lr = check_real(state["lr"], "Adam state lr", 0.0)
        new = {}
        for key in ("m", "v"):
            arrays = list(state[key])
            if len(arrays) != len(self.m):
                raise ValueError(f"Adam state {key} has {len(arrays)} arrays, the optimiser "
                                 f"{len(self.m)}")
            out = []
            for i, (a, mine) in enumerate(zip(arrays, self.m)):
                a = np.array(a, dtype=float)
                if a.shape != mine.shape:
                    raise ValueError(f"Adam state {key}[{i}] has shape {a.shape}, the "
                                     f"optimiser {mine.shape}")
                if not np.all(np.isfinite(a)) or (key == "v" and np.any(a < 0)):
                    raise ValueError(f"Adam state {key}[{i}] must be finite"
                                     + (" and >= 0" if key == "v" else ""))
                out.append(a)
            new[key] = out
        self.t, self.lr, self.m, self.v = t, lr, new["m"], new["v"]


def train_ann(net: ReLUNetwork, x: np.ndarray, y: np.ndarray, epochs: int = 150,
              batch_size: int = 32, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Mini-batch Adam on the cross-entropy; returns the mean loss per epoch.  Deterministic
    for a given ``seed`` (the shuffling)."""
    if not isinstance(net, ReLUNetwork):
        raise TypeError(f"net must be a ReLUNetwork, got {type(net).__name__}")
    x = np.asarray(x) if isinstance(x, (list, tuple)) else x
    if getattr(x, "ndim", 0) == 2 and x.shape[1] != net.sizes[0]:
        raise ValueError(f"x has {x.shape[1]} features, the network {net.sizes[0]} inputs")
    x = _check_features(x, net.sizes[0])
    y = check_labels(y, x.shape[0], net.sizes[-1])
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    lr = check_real(lr, "lr", 0.0)
    rng = np.random.default_rng(check_seed(seed, "seed"))
    opt = Adam([w.shape for w in net.weights], lr=lr)
    losses = []
    n = x.shape[0]
    for _ in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for s in range(0, n, batch_size):
            idx = order[s:s + batch_size]
            loss, grads = net.gradients(x[idx], y[idx])
            for w, d in zip(net.weights, opt.steps(grads)):
                w += d
            total += loss * idx.size
        losses.append(total / n)
    return losses
