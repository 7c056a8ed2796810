"""The software network: a bias-free ReLU multilayer perceptron in numpy, softmax
cross-entropy, Adam (in_the_loop_training.md 4.1: no biases, or a bias input column).

Weights are a list of (n_in, n_out) float64 matrices; activations are row vectors, so a
layer computes ``h_out = relu(h_in @ W)`` (the output layer is linear: logits).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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


@dataclass
class ReLUNetwork:
    """Bias-free ReLU MLP.  ``sizes`` = (inputs, hidden..., classes)."""
    sizes: tuple
    weights: list = field(default_factory=list)

    @classmethod
    def initialise(cls, sizes, seed: int = 0) -> "ReLUNetwork":
        """He-normal initialisation N(0, 2/n_in) from ``seed``."""
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes = {sizes}: need at least an input and an output layer, "
                             f"each of >= 1 unit")
        rng = np.random.default_rng(seed)
        ws = [rng.normal(0.0, np.sqrt(2.0 / a), (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        return cls(sizes, ws)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Activations of every layer, input first; the last entry are the logits."""
        acts = [np.asarray(x, dtype=float)]
        for i, w in enumerate(self.weights):
            z = acts[-1] @ w
            acts.append(z if i == len(self.weights) - 1 else np.maximum(z, 0.0))
        return acts

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Mean cross-entropy and its gradient with respect to every weight matrix."""
        acts = self.forward(x)
        n = x.shape[0]
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
        if lr <= 0:
            raise ValueError(f"learning rate lr = {lr} must be > 0")
        self.lr, self.beta1, self.beta2, self.eps = float(lr), beta1, beta2, eps
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
        self.t = int(state["t"])
        self.m = [np.array(a, dtype=float) for a in state["m"]]
        self.v = [np.array(a, dtype=float) for a in state["v"]]
        self.lr = float(state["lr"])


def train_ann(net: ReLUNetwork, x: np.ndarray, y: np.ndarray, epochs: int = 150,
              batch_size: int = 32, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Mini-batch Adam on the cross-entropy; returns the mean loss per epoch.  Deterministic
    for a given ``seed`` (the shuffling)."""
    if x.shape[1] != net.sizes[0]:
        raise ValueError(f"x has {x.shape[1]} features, the network {net.sizes[0]} inputs")
    rng = np.random.default_rng(seed)
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
