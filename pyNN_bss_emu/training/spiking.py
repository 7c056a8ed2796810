"""The rate-coded spiking network, built and run with standard PyNN calls only, so it runs
on any PyNN backend (``pyNN.bss_emu``, ``pyNN.nest``, ...).

Layout (in_the_loop_training.md 4.1, 4.3):

* inputs: one ``SpikeSourceArray`` per input feature; a sample's value x in [0, 1] becomes a
  train of rate ``x * r_in_max`` during ``t_present`` (Poisson or regular with a random
  phase), then ``t_pause`` of silence so that activity dies out; a batch is presented back
  to back in one ``run()``;
* layers: ``IF_cond_exp`` populations (the AdEx circuit with the exponential and adaptation
  terms off, as in Schmitt et al. 2017), spikes recorded;
* signed weights: per layer one all-to-all excitatory and one all-to-all inhibitory
  projection, holding ``max(w, 0)`` and ``max(-w, 0)`` times the layer's conductance unit;
  zero weights stay synapses, so a weight may change sign with ``Projection.set`` and no
  remapping;
* readout: a neuron's activation is its spike count in the sample's window divided by
  ``r_max * t_present`` (activation 1 = ``r_max``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ._checks import check_real, check_sizes, check_weight_matrices, shown
from .datasets import check_inputs

__all__ = ["SpikingConfig", "SpikingNetwork", "BackendError", "DEFAULT_CELL_PARAMS"]

#: IF_cond_exp parameters inside the wafer's ranges at speed-up 1e4 (brainscales1.md 10.3):
#: a long membrane time constant and a 10 mV threshold gap keep the f-I curve close to a
#: rectifier up to r_max; tau_refrac 1 ms puts saturation (1 kHz) well above r_max.
DEFAULT_CELL_PARAMS = {"cm": 0.2, "tau_m": 20.0, "v_rest": -65.0, "v_reset": -65.0,
                       "v_thresh": -55.0, "tau_refrac": 1.0, "tau_syn_E": 5.0,
                       "tau_syn_I": 5.0, "e_rev_E": 0.0, "e_rev_I": -100.0, "i_offset": 0.0}

#: what the network needs from a PyNN backend
REQUIRED_CALLS = ("Population", "Projection", "IF_cond_exp", "SpikeSourceArray",
                  "AllToAllConnector", "StaticSynapse", "run", "get_current_time",
                  "get_time_step")


class BackendError(TypeError):
    """The PyNN backend lacks a call the training network needs."""


@dataclass
class SpikingConfig:
    """Presentation and rate coding (times in ms, rates in Hz, conductances in µS).

    Defaults: 100 Hz at activation 1 keeps a layer of 64 neurons within one HICANN link's
    recording bandwidth (1.78 kHz at 10^4) and the L1 buses uncongested; 500 ms of
    presentation gives ~50 spikes at activation 1.  Regular trains (random phase) carry
    less noise than Poisson trains (SNABSuite uses them on BSS-1 too).

    ``unit_uS``: initial conductance per unit of normalised weight (per layer it is then
    fitted by :meth:`InTheLoopTrainer.characterise`); ``delay``: synaptic delay requested
    (a wafer replaces it by the routed delay)."""
    t_present: float = 500.0
    t_pause: float = 50.0
    r_in_max: float = 100.0
    r_max: float = 100.0
    input_coding: str = "regular"
    unit_uS: float = 0.011
    delay: float = 1.0
    cell_params: dict = field(default_factory=lambda: dict(DEFAULT_CELL_PARAMS))

    def __post_init__(self) -> None:
        for name in ("t_present", "r_in_max", "r_max", "unit_uS", "delay"):
            setattr(self, name, check_real(getattr(self, name), f"SpikingConfig.{name}", 0.0))
        self.t_pause = check_real(self.t_pause, "SpikingConfig.t_pause", 0.0, low_open=False)
        if not isinstance(self.input_coding, str) or \
                self.input_coding not in ("poisson", "regular"):
            raise ValueError(f"SpikingConfig.input_coding = {shown(self.input_coding)}; choose "
                             f"'poisson' or 'regular'")
        if not isinstance(self.cell_params, dict):
            raise TypeError(f"SpikingConfig.cell_params must be a dict of IF_cond_exp "
                            f"parameters, got {type(self.cell_params).__name__}")
        for key, value in self.cell_params.items():
            if not isinstance(key, str):
                raise TypeError(f"SpikingConfig.cell_params key {shown(key)} must be a str")
            check_real(value, f"SpikingConfig.cell_params[{key!r}]")

    @property
    def period(self) -> float:
        """Time per sample (presentation + pause), ms."""
        return self.t_present + self.t_pause

    @property
    def full_count(self) -> float:
        """Spike count that means activation 1."""
        return self.r_max * self.t_present / 1000.0

    def to_dict(self) -> dict:
        return asdict(self)


def _check_backend(sim) -> None:
    missing = [name for name in REQUIRED_CALLS if not hasattr(sim, name)]
    if missing:
        raise BackendError(f"the PyNN backend {getattr(sim, '__name__', sim)!r} lacks "
                           f"{', '.join(missing)}, which the training network needs")


class SpikingNetwork:
    """A feed-forward rate-coded network of ``sizes`` = (inputs, hidden..., outputs) on the
    PyNN backend ``sim`` (``sim.setup()`` must have been called).

    ``place``: optional ``place(sim, populations)`` hook for backend-specific placement
    (e.g. ``sim.set_neuron_size`` / ``sim.place_on_hicann`` on ``pyNN.bss_emu``), called once
    after the populations exist; the network itself uses standard PyNN calls only.
    """

    def __init__(self, sim, sizes, config: SpikingConfig | None = None, place=None) -> None:
        _check_backend(sim)
        self.sim = sim
        self.sizes = check_sizes(sizes)
        if config is not None and not isinstance(config, SpikingConfig):
            raise TypeError(f"config must be a SpikingConfig or None, got "
                            f"{type(config).__name__}")
        if place is not None and not callable(place):
            raise TypeError(f"place = {shown(place)} must be callable place(sim, populations) "
                            f"or None")
        self.config = config or SpikingConfig()
        cfg = self.config
        self.dt = float(sim.get_time_step())
        if cfg.t_present <= self.dt:
            raise ValueError(f"SpikingConfig.t_present = {cfg.t_present} ms must be longer "
                             f"than the time step {self.dt} ms")
        self.inputs = sim.Population(self.sizes[0], sim.SpikeSourceArray(spike_times=[]),
                                     label="input")
        cell = sim.IF_cond_exp(**cfg.cell_params)
        self.layers = []
        for i, n in enumerate(self.sizes[1:]):
            label = "output" if i == len(self.sizes) - 2 else f"hidden{i + 1}"
            pop = sim.Population(n, cell, label=label)
            pop.record("spikes")
            self.layers.append(pop)
        self.excitatory, self.inhibitory = [], []
        pres = [self.inputs] + self.layers[:-1]
        for pre, post in zip(pres, self.layers):
            for receptor, store in (("excitatory", self.excitatory),
                                    ("inhibitory", self.inhibitory)):
                store.append(sim.Projection(
                    pre, post, sim.AllToAllConnector(),
                    sim.StaticSynapse(weight=0.0, delay=cfg.delay), receptor_type=receptor,
                    label=f"{pre.label}->{post.label} ({receptor[:3]})"))
        if place is not None:
            place(sim, [self.inputs] + self.layers)
        self.unit_uS = np.full(len(self.layers), cfg.unit_uS)
        self._weights = None

    # ------------------------------------------------------------ weights
    def check_weights(self, weights: list[np.ndarray]) -> list[np.ndarray]:
        return check_weight_matrices(weights, tuple(self.sizes),
                                     layer="layer {i} of the spiking network")

    def write_weights(self, weights: list[np.ndarray]) -> None:
        """Write signed weights (normalised units) with ``Projection.set``: the positive
        part to the excitatory, the negative part to the inhibitory projection."""
        weights = self.check_weights(weights)
        for i, w in enumerate(weights):
            g = w * self.unit_uS[i]
            self.excitatory[i].set(weight=np.maximum(g, 0.0))
            self.inhibitory[i].set(weight=np.maximum(-g, 0.0))
        self._weights = [w.copy() for w in weights]

    @property
    def written_weights(self) -> list[np.ndarray] | None:
        """The signed weights (normalised units) last written with :meth:`write_weights`."""
        return None if self._weights is None else [w.copy() for w in self._weights]

    def realised_weights(self) -> list[np.ndarray]:
        """The signed weights the backend reports (normalised units; on a wafer: after
        4-bit quantisation and mismatch, NaN where a synapse was lost)."""
        out = []
        for i in range(len(self.layers)):
            e = np.asarray(self.excitatory[i].get("weight", format="array"), dtype=float)
            h = np.asarray(self.inhibitory[i].get("weight", format="array"), dtype=float)
            out.append((e - h) / self.unit_uS[i])
        return out

    # ------------------------------------------------------------ stimulus
    def spike_trains(self, x: np.ndarray, t0: float, rng: np.random.Generator
                     ) -> list[np.ndarray]:
        """Input spike times (ms, on the time grid, sorted, unique) of every input for the
        samples ``x`` presented from ``t0`` on."""
        cfg = self.config
        b, n_in = x.shape
        rate = x * cfg.r_in_max / 1000.0                      # spikes per ms
        start = t0 + np.arange(b) * cfg.period
        if cfg.input_coding == "poisson":
            counts = rng.poisson(rate * cfg.t_present)        # (b, n_in)
            total = int(counts.sum())
            sample = np.repeat(np.repeat(np.arange(b), n_in), counts.ravel())
            neuron = np.repeat(np.tile(np.arange(n_in), b), counts.ravel())
            # a spike rounded onto the grid must stay inside the presentation window
            times = start[sample] + rng.random(total) * (cfg.t_present - self.dt)
        else:
            phase = rng.random((b, n_in))
            counts = np.floor(rate * cfg.t_present + phase).astype(np.int64)
            sample = np.repeat(np.repeat(np.arange(b), n_in), counts.ravel())
            neuron = np.repeat(np.tile(np.arange(n_in), b), counts.ravel())
            first = np.repeat(((1.0 - phase) / np.maximum(rate, 1e-300)).ravel(),
                              counts.ravel())
            k = np.arange(neuron.size) - np.repeat(np.cumsum(counts.ravel()) - counts.ravel(),
                                                   counts.ravel())
            r = np.repeat(rate.ravel(), counts.ravel())
            times = start[sample] + np.minimum(first + k / r, cfg.t_present - self.dt)
        # on the time grid, strictly after t0, at most one spike per input and step
        steps = np.maximum(np.rint(times / self.dt), np.rint(t0 / self.dt) + 1).astype(np.int64)
        # sorted, duplicates dropped (np.unique's hash table costs ~4x this sort here)
        key = np.sort(neuron.astype(np.int64) * (1 << 40) + steps)
        key = key[np.concatenate([[True], key[1:] != key[:-1]])] if key.size else key
        neuron_of = key >> 40
        t = (key & ((1 << 40) - 1)) * self.dt
        bounds = np.searchsorted(neuron_of, np.arange(n_in + 1))
        return [np.round(t[bounds[i]:bounds[i + 1]], 6) for i in range(n_in)]

    # ------------------------------------------------------------ running
    def run(self, x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Present the samples ``x`` (samples, inputs) back to back and return the measured
        activation of every layer (spike count / full count), each (samples, neurons)."""
        from pyNN.parameters import Sequence
        x = check_inputs(x, self.sizes[0])
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        cfg = self.config
        b = x.shape[0]
        now = float(self.sim.get_current_time())
        t0 = (np.ceil(now / self.dt) + max(1, int(round(1.0 / self.dt)))) * self.dt
        trains = self.spike_trains(x, t0, rng)
        self.inputs.set(spike_times=[Sequence(t) for t in trains])
        self.sim.run(t0 + b * cfg.period - now)
        return [self._counts(pop, t0, b) / cfg.full_count for pop in self.layers]

    def _counts(self, pop, t0: float, b: int) -> np.ndarray:
        counts = np.zeros((b, pop.size))
        block = pop.get_data("spikes", clear=True)
        to_ms: dict[str, float] = {}     # per unit: quantities' rescale parses it every time
        for seg in block.segments:
            for st in seg.spiketrains:
                idx = int(st.annotations["source_index"])
                unit = st.units.dimensionality.string
                if unit not in to_ms:
                    to_ms[unit] = float(st.units.rescale("ms").magnitude)
                t = np.asarray(st.magnitude) * to_ms[unit]
                k = np.floor((t - t0) / self.config.period).astype(np.int64)
                k = k[(k >= 0) & (k < b)]
                counts[:, idx] += np.bincount(k, minlength=b)
        return counts
