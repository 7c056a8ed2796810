"""In-the-loop training (Schmitt et al. 2017; in_the_loop_training.md 4.2): the forward
pass runs on the PyNN backend (the emulated wafer, or any other), the backward pass in
numpy with the measured activations.

One iteration:

1. write the quantised shadow weights with ``Projection.set`` (no remapping);
2. run a batch and count the spikes of every layer;
3. logits = ``beta`` x measured output activation; delta_L = beta (softmax - onehot) / B;
4. backpropagate through the *software* weights with a gate evaluated on the measured
   activity: ``1[(a > 0 or z > 0) and a < a_sat]`` (z: software pre-activation from the
   measured inputs, so silent-but-driven neurons still learn; saturated ones do not);
5. gradient ``a_{l-1}^T delta_l`` with the measured presynaptic activations; Adam step of
   ``lr`` LSBs of the layer, decayed by ``lr_decay`` per iteration; clip to the quantiser's
   range.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from .ann import Adam, accuracy, cross_entropy, softmax
from .conversion import Quantiser
from .datasets import Dataset
from .spiking import SpikingNetwork

__all__ = ["TrainerConfig", "InTheLoopTrainer", "CheckpointError"]

CHECKPOINT_VERSION = 2     # 2: one LSB array per layer (per-input grids)


class CheckpointError(ValueError):
    """A checkpoint does not belong to this network / data set."""


@dataclass
class TrainerConfig:
    """Hyper-parameters of the in-the-loop loop.

    ``lr``: Adam step in units of each layer's LSB; ``lr_decay``: factor per iteration;
    ``beta``: readout scale (logits = beta x output activation); ``a_sat``: activation
    above which a neuron counts as saturated (no gradient); ``batch_size``: samples per
    hardware run; ``eval_batch``: samples per evaluation run (memory of spike data)."""
    lr: float = 0.1
    lr_decay: float = 0.98
    beta: float = 10.0
    a_sat: float = 2.5
    batch_size: int = 256
    eval_batch: int = 400

    def __post_init__(self) -> None:
        for name in ("lr", "beta", "a_sat"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f"TrainerConfig.{name} = {v!r} must be > 0")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"TrainerConfig.lr_decay = {self.lr_decay!r} must be in (0, 1]")
        for name in ("batch_size", "eval_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainerConfig.{name} = {getattr(self, name)!r} must be >= 1")


def _rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _set_rng_state(rng: np.random.Generator, state: str) -> None:
    rng.bit_generator.state = json.loads(state)


class InTheLoopTrainer:
    """Trains ``network`` in the loop, starting from the normalised ANN ``weights``.

    Seeds: ``stimulus_seed`` draws the input spike trains, ``data_seed`` the batches; the
    backend's own seeds (wafer, trial noise) are the backend's business.
    """

    def __init__(self, network: SpikingNetwork, weights: list[np.ndarray], data: Dataset,
                 config: TrainerConfig | None = None, quantiser: Quantiser | None = None,
                 stimulus_seed: int = 1, data_seed: int = 2) -> None:
        self.network = network
        self.config = config or TrainerConfig()
        self.shadow = [w.copy() for w in network.check_weights(weights)]
        if data.n_features != network.sizes[0]:
            raise ValueError(f"data set '{data.name}' has {data.n_features} features, the "
                             f"network {network.sizes[0]} inputs")
        if data.n_classes != network.sizes[-1]:
            raise ValueError(f"data set '{data.name}' has {data.n_classes} classes, the "
                             f"network {network.sizes[-1]} outputs")
        self.data = data
        self.quantiser = quantiser or Quantiser.for_weights(self.shadow)
        if len(self.quantiser.lsb) != len(self.shadow):
            raise ValueError(f"quantiser has {len(self.quantiser.lsb)} layers, the network "
                             f"{len(self.shadow)}")
        self.optimiser = Adam([w.shape for w in self.shadow], lr=self.config.lr)
        self.stimulus_rng = np.random.default_rng(stimulus_seed)
        self.data_rng = np.random.default_rng(data_seed)
        self.iteration = 0
        self.history: dict[str, list] = {"iteration": [], "loss": [], "batch_accuracy": [],
                                         "seconds": [], "eval_iteration": [],
                                         "eval_accuracy": []}
        self._written = None

    # ------------------------------------------------------------ hardware access
    def quantised(self) -> list[np.ndarray]:
        return self.quantiser.quantise_all(self.shadow)

    def _write(self) -> list[np.ndarray]:
        """Write the quantised shadow weights unless the backend already holds them (with
        the network's current conductance units)."""
        q = self.quantised()
        state = (q, self.network.unit_uS.copy())
        if self._written is None or not np.array_equal(state[1], self._written[1]) or any(
                not np.array_equal(a, b) for a, b in zip(q, self._written[0])):
            self.network.write_weights(q)
            self._written = state
        return q

    def forward(self, x: np.ndarray, batch: int | None = None) -> list[np.ndarray]:
        """Measured activations of every layer for the samples ``x`` (in runs of at most
        ``batch`` samples)."""
        self._write()
        return self._measure(x, batch or self.config.eval_batch)

    def _measure(self, x: np.ndarray, batch: int) -> list[np.ndarray]:
        """Run ``x`` with the weights the backend holds, in runs of at most ``batch``."""
        parts = [self.network.run(x[s:s + batch], self.stimulus_rng)
                 for s in range(0, x.shape[0], batch)]
        return [np.concatenate(p) for p in zip(*parts)]

    def evaluate(self, x: np.ndarray | None = None, y: np.ndarray | None = None) -> float:
        """Accuracy of the spiking network (argmax of output counts; ties -> lowest class).
        Defaults to the test set."""
        if x is None:
            x, y = self.data.x_test, self.data.y_test
        return accuracy(self.forward(x)[-1], y)

    def characterise(self, x: np.ndarray | None = None, rounds: int = 3,
                     damping: float = 0.8) -> np.ndarray:
        """Fit each layer's conductance unit so that the average neuron reproduces the
        normalised ANN gain on this backend (the ``measure_mock_parameter`` step of hxtorch;
        in_the_loop_training.md 4.1.4).  Per layer, gain = least-squares factor between the
        measured activation and relu(measured input @ W); the unit is divided by
        gain**damping.  Returns the final gains."""
        if x is None:
            x = self.data.x_train[:100]
        gains = np.ones(len(self.shadow))
        for _ in range(rounds):
            q = self._write()                   # the weights with the current units
            acts = [x] + self._measure(x, self.config.eval_batch)
            for i, w in enumerate(q):
                pred = np.maximum(acts[i] @ w, 0.0)
                den = float(np.sum(pred * pred))
                gains[i] = float(np.sum(acts[i + 1] * pred)) / den if den > 0 else 1.0
                gains[i] = float(np.clip(gains[i], 0.05, 20.0))
            self.network.unit_uS = self.network.unit_uS / gains ** damping
        return gains

    # ------------------------------------------------------------ one iteration
    def step(self) -> dict:
        """One in-the-loop iteration on a random training batch; returns its record."""
        t_start = time.perf_counter()
        cfg = self.config
        n = self.data.x_train.shape[0]
        idx = self.data_rng.choice(n, size=min(cfg.batch_size, n), replace=False)
        x, y = self.data.x_train[idx], self.data.y_train[idx]
        q = self._write()
        acts = [x] + self._measure(x, cfg.batch_size)
        logits = cfg.beta * acts[-1]
        loss = cross_entropy(logits, y)
        delta = softmax(logits)
        delta[np.arange(y.size), y] -= 1.0
        delta *= cfg.beta / y.size
        grads = [None] * len(q)
        for i in range(len(q) - 1, -1, -1):
            grads[i] = acts[i].T @ delta
            if i:
                z = acts[i - 1] @ q[i - 1]
                a = acts[i]
                gate = ((a > 0) | (z > 0)) & (a < cfg.a_sat)
                delta = (delta @ q[i].T) * gate
        self.optimiser.lr = cfg.lr * cfg.lr_decay ** self.iteration
        for i, d in enumerate(self.optimiser.steps(grads)):
            self.shadow[i] = self.quantiser.clip(self.shadow[i] + d * self.quantiser.lsb[i], i)
        self.iteration += 1
        rec = {"iteration": self.iteration, "loss": loss,
               "batch_accuracy": accuracy(acts[-1], y),
               "seconds": time.perf_counter() - t_start}
        for k, v in rec.items():
            self.history[k].append(v)
        return rec

    def train(self, iterations: int, eval_every: int = 10, callbacks=(),
              checkpoint: str | None = None, progress: bool = True) -> dict:
        """Run until ``iterations`` iterations in total (a resumed trainer continues where
        it stopped), evaluating on the test set every ``eval_every`` iterations and at the
        end.  ``callbacks``: callables ``f(trainer, record)`` after every iteration.
        ``checkpoint``: file written after every iteration (atomically)."""
        if iterations < 0:
            raise ValueError(f"iterations = {iterations} must be >= 0")
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=iterations, initial=min(self.iteration, iterations),
                       desc="in-the-loop", unit="it")
        try:
            while self.iteration < iterations:
                rec = self.step()
                if eval_every and (self.iteration % eval_every == 0
                                   or self.iteration == iterations):
                    rec["eval_accuracy"] = self.evaluate()
                    self.history["eval_iteration"].append(self.iteration)
                    self.history["eval_accuracy"].append(rec["eval_accuracy"])
                for cb in callbacks:
                    cb(self, rec)
                if checkpoint:
                    self.save_checkpoint(checkpoint)
                if bar is not None:
                    post = {"loss": f"{rec['loss']:.3f}", "batch": f"{rec['batch_accuracy']:.3f}"}
                    if self.history["eval_accuracy"]:
                        post["test"] = f"{self.history['eval_accuracy'][-1]:.3f}"
                    bar.set_postfix(post)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return self.history

    # ------------------------------------------------------------ checkpoints
    def _identity(self) -> dict:
        return {"sizes": list(self.network.sizes), "data": self.data.name,
                "n_train": int(self.data.x_train.shape[0]),
                "n_features": int(self.data.n_features), "n_classes": int(self.data.n_classes)}

    def save_checkpoint(self, path: str) -> None:
        """Everything needed to resume: shadow weights, optimiser state, quantiser, the
        layers' conductance units, RNG states, iteration, history.  Written atomically."""
        arrays = {f"shadow_{i}": w for i, w in enumerate(self.shadow)}
        opt = self.optimiser.state()
        arrays.update({f"adam_m_{i}": m for i, m in enumerate(opt["m"])})
        arrays.update({f"adam_v_{i}": v for i, v in enumerate(opt["v"])})
        arrays.update({f"lsb_{i}": x for i, x in enumerate(self.quantiser.lsb)})
        arrays["unit_uS"] = self.network.unit_uS
        meta = {"version": CHECKPOINT_VERSION, "identity": self._identity(),
                "iteration": self.iteration, "adam_t": opt["t"], "adam_lr": opt["lr"],
                "levels": self.quantiser.levels, "config": asdict(self.config),
                "stimulus_rng": _rng_state(self.stimulus_rng),
                "data_rng": _rng_state(self.data_rng), "history": self.history}
        arrays["meta"] = np.array(json.dumps(meta))
        tmp = f"{path}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    def load_checkpoint(self, path: str) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` for the same network and
        data set (else :class:`CheckpointError`)."""
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
        meta = json.loads(str(data["meta"]))
        if meta.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"checkpoint {path!r} has version {meta.get('version')}, "
                                  f"this trainer reads version {CHECKPOINT_VERSION}")
        mine = self._identity()
        if meta["identity"] != mine:
            diff = {k: (meta["identity"].get(k), v) for k, v in mine.items()
                    if meta["identity"].get(k) != v}
            raise CheckpointError(f"checkpoint {path!r} belongs to another network or data "
                                  f"set: (checkpoint, this trainer) = {diff}")
        n = len(self.shadow)
        self.shadow = [data[f"shadow_{i}"].astype(float) for i in range(n)]
        self.optimiser.load_state({"t": meta["adam_t"], "lr": meta["adam_lr"],
                                   "m": [data[f"adam_m_{i}"] for i in range(n)],
                                   "v": [data[f"adam_v_{i}"] for i in range(n)]})
        self.quantiser = Quantiser([data[f"lsb_{i}"].astype(float) for i in range(n)],
                                   int(meta["levels"]))
        self.network.unit_uS = data["unit_uS"].astype(float)
        self.config = TrainerConfig(**meta["config"])
        _set_rng_state(self.stimulus_rng, meta["stimulus_rng"])
        _set_rng_state(self.data_rng, meta["data_rng"])
        self.iteration = int(meta["iteration"])
        self.history = {k: list(v) for k, v in meta["history"].items()}
        self._written = None
