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

import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from ._checks import (check_bool, check_int, check_labels, check_path, check_real, check_seed,
                      check_weight_matrices, shown)
from .ann import Adam, accuracy, cross_entropy, softmax
from .checkpoint import CHECKPOINT_VERSION  # noqa: F401  (re-exported)
from .checkpoint import CheckpointError, CheckpointState, read_checkpoint, write_checkpoint
from .conversion import Quantiser
from .datasets import Dataset, check_inputs
from .spiking import SpikingNetwork

__all__ = ["TrainerConfig", "InTheLoopTrainer", "CheckpointError"]

#: the rule of every TrainerConfig field: (kind, low, high, low_open, high_open)
_CONFIG_RULES = {
    "lr": ("real", 0.0, None, True, False),
    "lr_decay": ("real", 0.0, 1.0, True, False),
    "beta": ("real", 0.0, None, True, False),
    "a_sat": ("real", 0.0, None, True, False),
    "batch_size": ("int", 1, None, False, False),
    "eval_batch": ("int", 1, None, False, False),
}


@dataclass
class TrainerConfig:
    """Hyper-parameters of the in-the-loop loop.

    ``lr``: Adam step in units of each layer's LSB (> 0); ``lr_decay``: factor per
    iteration, in (0, 1]; ``beta``: readout scale (logits = beta x output activation; > 0);
    ``a_sat``: activation above which a neuron counts as saturated (no gradient; > 0);
    ``batch_size``: samples per hardware run (integer >= 1); ``eval_batch``: samples per
    evaluation run (memory of spike data; integer >= 1).  Every field is checked when set,
    also after construction (``TypeError`` for a wrong type, ``ValueError`` out of range,
    both naming the field)."""
    lr: float = 0.1
    lr_decay: float = 0.98
    beta: float = 10.0
    a_sat: float = 2.5
    batch_size: int = 256
    eval_batch: int = 400

    def __setattr__(self, name: str, value: object) -> None:
        rule = _CONFIG_RULES.get(name)
        if rule is not None:
            kind, low, high, low_open, high_open = rule
            if kind == "int":
                value = check_int(value, f"TrainerConfig.{name}", low)
            else:
                value = check_real(value, f"TrainerConfig.{name}", low, high, low_open,
                                   high_open)
        elif not name.startswith("_"):
            raise AttributeError(f"TrainerConfig has no field {name!r} (fields: "
                                 f"{', '.join(_CONFIG_RULES)})")
        object.__setattr__(self, name, value)


class InTheLoopTrainer:
    """Trains ``network`` in the loop, starting from the normalised ANN ``weights``.

    Seeds: ``stimulus_seed`` draws the input spike trains, ``data_seed`` the batches; the
    backend's own seeds (wafer, trial noise) are the backend's business.
    """

    def __init__(self, network: SpikingNetwork, weights: list[np.ndarray], data: Dataset,
                 config: TrainerConfig | None = None, quantiser: Quantiser | None = None,
                 stimulus_seed: int = 1, data_seed: int = 2) -> None:
        if config is not None and not isinstance(config, TrainerConfig):
            raise TypeError(f"config must be a TrainerConfig or None, got "
                            f"{type(config).__name__}")
        if quantiser is not None and not isinstance(quantiser, Quantiser):
            raise TypeError(f"quantiser must be a Quantiser or None, got "
                            f"{type(quantiser).__name__}")
        if not isinstance(data, Dataset):
            raise TypeError(f"data must be a Dataset, got {type(data).__name__}")
        stimulus_seed = check_seed(stimulus_seed, "stimulus_seed")
        data_seed = check_seed(data_seed, "data_seed")
        self.network = network
        self.config = config or TrainerConfig()
        self.shadow = self._check_weights(network.check_weights(weights))
        if data.n_features != network.sizes[0]:
            raise ValueError(f"data set '{data.name}' has {data.n_features} features, the "
                             f"network {network.sizes[0]} inputs")
        if data.n_classes != network.sizes[-1]:
            raise ValueError(f"data set '{data.name}' has {data.n_classes} classes, the "
                             f"network {network.sizes[-1]} outputs")
        for part in ("train", "test"):
            if getattr(data, f"x_{part}").shape[0] < 1:
                raise ValueError(f"data set '{data.name}' has no {part}ing samples; the "
                                 f"trainer needs at least one")
        self.data = data
        self.quantiser = quantiser or Quantiser.for_weights(self.shadow)
        self.quantiser.check_layers([w.shape for w in self.shadow])
        self.optimiser = Adam([w.shape for w in self.shadow], lr=self.config.lr)
        self.stimulus_rng = np.random.default_rng(stimulus_seed)
        self.data_rng = np.random.default_rng(data_seed)
        self.iteration = 0
        self.history: dict[str, list] = {"iteration": [], "loss": [], "batch_accuracy": [],
                                         "seconds": [], "eval_iteration": [],
                                         "eval_accuracy": []}
        self._written = None

    def _check_weights(self, weights: list[np.ndarray]) -> list[np.ndarray]:
        """Copies of ``weights`` as float matrices: one per layer of the network, of shape
        (pre, post), finite (checked here too: the network object may not check)."""
        sizes = tuple(self.network.sizes)
        if isinstance(weights, np.ndarray):     # one stacked array is not a list of layers
            raise ValueError(f"{len(weights)} weight matrices for a network of "
                             f"{len(sizes) - 1} layers (sizes {sizes})")
        return check_weight_matrices(weights, sizes)

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
        ``batch`` samples; default ``config.eval_batch``)."""
        x = self._check_x(x)
        batch = self.config.eval_batch if batch is None else check_int(batch, "batch", 1)
        self._write()
        return self._measure(x, batch)

    def _check_x(self, x: np.ndarray, what: str = "x") -> np.ndarray:
        x = check_inputs(x, self.network.sizes[0], what)
        if x.shape[0] < 1:
            raise ValueError(f"{what} has no samples (shape {x.shape})")
        return x

    def _measure(self, x: np.ndarray, batch: int) -> list[np.ndarray]:
        """Run ``x`` with the weights the backend holds, in runs of at most ``batch``."""
        parts = [self.network.run(x[s:s + batch], self.stimulus_rng)
                 for s in range(0, x.shape[0], batch)]
        return [np.concatenate(p) for p in zip(*parts)]

    def evaluate(self, x: np.ndarray | None = None, y: np.ndarray | None = None) -> float:
        """Accuracy of the spiking network (argmax of output counts; ties -> lowest class).
        Defaults to the test set; ``y``: integer labels, one per sample of ``x``."""
        if x is None and y is None:
            x, y = self.data.x_test, self.data.y_test
        elif x is None or y is None:
            raise ValueError("evaluate needs both x and y (or neither: the test set)")
        x = self._check_x(x)
        y = check_labels(y, x.shape[0], self.network.sizes[-1], "y")
        return accuracy(self.forward(x)[-1], y)

    def characterise(self, x: np.ndarray | None = None, rounds: int = 3,
                     damping: float = 0.8) -> np.ndarray:
        """Fit each layer's conductance unit so that the average neuron reproduces the
        normalised ANN gain on this backend (the ``measure_mock_parameter`` step of hxtorch;
        in_the_loop_training.md 4.1.4).  Per layer, gain = least-squares factor between the
        measured activation and relu(measured input @ W); the unit is divided by
        gain**damping.  Returns the final gains."""
        x = self._check_x(self.data.x_train[:100] if x is None else x)
        rounds = check_int(rounds, "rounds", 1)
        damping = check_real(damping, "damping", 0.0, 1.0)
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
        ``checkpoint``: file written after every iteration (atomically).

        ``iterations`` and ``eval_every`` (0: no evaluation) are integers >= 0, ``progress``
        a bool; everything is checked before the first iteration."""
        iterations = check_int(iterations, "iterations", 0)
        eval_every = check_int(eval_every, "eval_every", 0)
        progress = check_bool(progress, "progress")
        if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
            raise TypeError(f"callbacks = {shown(callbacks)} must be a sequence of callables "
                            f"f(trainer, record)")
        callbacks = tuple(callbacks)
        for i, cb in enumerate(callbacks):
            if not callable(cb):
                raise TypeError(f"callbacks[{i}] = {shown(cb)} is not callable")
        if checkpoint is not None:
            checkpoint = check_path(checkpoint, "checkpoint")
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

    def _checkpoint_args(self) -> dict:
        return {"identity": self._identity(), "sizes": tuple(self.network.sizes),
                "make_config": TrainerConfig,
                "config_fields": tuple(f.name for f in fields(TrainerConfig)),
                "rngs": (self.stimulus_rng, self.data_rng)}

    def save_checkpoint(self, path: str) -> None:
        """Everything needed to resume: shadow weights, optimiser state, quantiser, the
        layers' conductance units, RNG states, iteration, history.  Checked by the rules
        of :meth:`load_checkpoint` (a state it would refuse is not written:
        :class:`CheckpointError`) and written atomically (temporary file + ``os.replace``;
        see :mod:`pyNN_bss_emu.training.checkpoint`)."""
        path = check_path(path, "path")
        opt = self.optimiser.state()
        state = CheckpointState(
            shadow=self.shadow, adam=opt, lsb=self.quantiser.lsb,
            levels=self.quantiser.levels, unit_uS=self.network.unit_uS,
            config=asdict(self.config), stimulus_rng=self.stimulus_rng.bit_generator.state,
            data_rng=self.data_rng.bit_generator.state, iteration=self.iteration,
            history=self.history)
        write_checkpoint(path, state, **self._checkpoint_args())

    def load_checkpoint(self, path: str) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` for the same network and
        data set.

        All or nothing: the whole file is read and checked first (members, sizes before
        inflating, dtypes, shapes equal to this network's, finite values, ranges of every
        field, well-formed random-number states; :mod:`pyNN_bss_emu.training.checkpoint`),
        and only then assigned.  Any problem raises :class:`CheckpointError` naming the file
        and leaves the trainer exactly as it was; a missing or unreadable file raises the
        ``OSError`` (naming the file), also with the trainer unchanged."""
        path = check_path(path, "path")
        st = read_checkpoint(path, **self._checkpoint_args())
        config = TrainerConfig(**st.config)
        quantiser = Quantiser(st.lsb, st.levels)
        old_opt = self.optimiser.state()
        # the only call into an object the trainer does not own completely comes first
        self.optimiser.load_state(st.adam)
        try:
            self.network.unit_uS = st.unit_uS
        except BaseException:
            self.optimiser.load_state(old_opt)
            raise
        self.shadow = st.shadow
        self.quantiser = quantiser
        self.config = config
        self.stimulus_rng.bit_generator.state = st.stimulus_rng
        self.data_rng.bit_generator.state = st.data_rng
        self.iteration = st.iteration
        self.history = st.history
        self._written = None
