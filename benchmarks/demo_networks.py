"""The two public BrainScaleS-1 demo networks, built with the PyNN API as the demos built them.

Source: electronicvisions/brainscales1-demos @55e80dc (2022 cortical microcircuit, 2023
balanced random network): ``cortical_microcircuit.rst`` and ``random_network.rst`` (class
``par``), ``_static/*/experiment_code/experiment_description.py`` and
``_static/network_helper/execution_helpers.py``.  Numbers and random streams are taken from
there; the code is ours and vectorised (one draw per projection where the demo's streams allow
it, checked in ``tests/test_demo_networks.py``).

Each builder takes a PyNN simulator module on which ``setup()`` has already been called (with
:func:`microcircuit_setup_kwargs` / :func:`brunel_setup_kwargs`) and a ``target``:

* ``"hardware"``: what the demo handed to the wafer (pyhmf): mean neuron parameters, the
  hardware weights, multapses split into extra projections (one ``FromListConnector`` per
  occurrence of a (pre, post) pair, the demo's ``split_multapses``);
* ``"nest"``: what the demo simulated in NEST to compare with the wafer: the per-neuron
  parameter variations derived from wafer-30 calibration data, weight jitter, initial membrane
  potentials (microcircuit) and the calibrated route delays.

Two things differ from the demos, both because a file is missing or unusable:

* The demos' NEST runs loaded the *realised* connections of the wafer (pickled routing
  results, ``implemented_routes*.pickle``; not in the public mirror, and a pickle would not be
  unpickled at run time anyway).  Here NEST gets the *requested* connections, drawn with the
  same seeds as the hardware build, and delays from the demos' delay calibration
  ``0.0397 ms * n_hicanns + 0.6444 ms`` (sigma 0.1 ms) with a route length ``route_hicanns``
  that the caller chooses (defaults :data:`MICROCIRCUIT_ROUTE_HICANNS`,
  :data:`BRUNEL_ROUTE_HICANNS`).
* The microcircuit text says 7,712 neurons; the demo's code, ``int(num * scale)`` per
  population, gives 7,713 (the sum of the truncated sizes).  The builders follow the code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyNN.random import NumpyRNG, RandomDistribution

TARGETS = ("hardware", "nest")

#: the demos' delay calibration on wafer 30: bio delay (ms) = slope * n_hicanns + offset
DELAY_CALIB_MS = (0.0397, 0.6444)
#: Gaussian spread of a route's delay around the calibration line (ms)
DELAY_CALIB_SIGMA_MS = 0.1
#: HICANNs on a typical route, for the NEST variants' delays without the routing results: the
#: mean routed delay of pyNN.bss_emu's mapping of each network with the demo's settings
#: (microcircuit 1.13 ms on 138 HICANNs, Brunel 0.93 ms on 58 HICANNs) read back through the
#: calibration line, rounded.
MICROCIRCUIT_ROUTE_HICANNS = 12.0
BRUNEL_ROUTE_HICANNS = 7.0


# ==================================================================================== helpers
def bio_to_hw_voltage_trafo(max_bio_mv: float, min_bio_mv: float, max_hw_v: float,
                            min_hw_v: float) -> tuple[float, float]:
    """marocco's ``ParamTrafo.set_trafo_with_bio_to_hw_ratio``: the bio voltage span
    [min_bio_mv, max_bio_mv] (mV) onto the hardware span [min_hw_v, max_hw_v] (V).

    Returns ``(alpha, shift)`` for ``V_hw [V] = alpha * V_bio [mV] * 1e-3 + shift [V]``, i.e.
    ``setup(voltage_alpha=alpha, voltage_shift=shift)`` (alpha is dimensionless, V per V)."""
    if not max_bio_mv > min_bio_mv:
        raise ValueError(f"max_bio_mv={max_bio_mv} must exceed min_bio_mv={min_bio_mv}")
    if not max_hw_v > min_hw_v:
        raise ValueError(f"max_hw_v={max_hw_v} must exceed min_hw_v={min_hw_v}")
    span_bio = max_bio_mv - min_bio_mv
    alpha = 1000.0 * (max_hw_v - min_hw_v) / span_bio
    shift = (max_bio_mv * min_hw_v - min_bio_mv * max_hw_v) / span_bio
    return alpha, shift


def multapse_occurrence(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """For every connection, how many earlier connections (in list order) join the same
    (pre, post) pair: 0 for the first occurrence, 1 for the second, ...

    The demo's ``split_multapses`` puts the first occurrences into one projection, the
    second occurrences into the next and so on, each keeping list order; so projection k
    holds exactly the connections whose occurrence index is k."""
    pre = np.asarray(pre, dtype=np.int64)
    post = np.asarray(post, dtype=np.int64)
    if pre.shape != post.shape:
        raise ValueError(f"pre and post differ in shape: {pre.shape} != {post.shape}")
    if pre.size == 0:
        return np.zeros(0, dtype=np.int64)
    key = pre * (int(post.max()) + 1) + post
    order = np.argsort(key, kind="stable")          # stable: equal pairs keep list order
    sorted_key = key[order]
    new_group = np.ones(order.size, dtype=bool)
    new_group[1:] = sorted_key[1:] != sorted_key[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(order.size), 0))
    occurrence = np.empty(order.size, dtype=np.int64)
    occurrence[order] = np.arange(order.size) - group_start
    return occurrence


def split_multapses(conn: np.ndarray) -> list[np.ndarray]:
    """The demo's ``split_multapses``: the rows (pre, post, weight, delay) of ``conn`` as a
    list of connection lists without repeated (pre, post) pairs, one per occurrence."""
    conn = np.asarray(conn)
    if conn.size == 0:
        return []
    occurrence = multapse_occurrence(conn[:, 0], conn[:, 1])
    return [conn[occurrence == k] for k in range(int(occurrence.max()) + 1)]


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"target={target!r}: expected one of {', '.join(TARGETS)}")
    return target


def _check_positive(name: str, value: float) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value}: expected a finite number > 0")
    return float(value)


def calibrated_delay_mean(route_hicanns: float) -> float:
    """Mean bio delay (ms) of a route across ``route_hicanns`` HICANNs (the calibration line)."""
    if not np.isfinite(route_hicanns) or route_hicanns < 0:
        raise ValueError(f"route_hicanns={route_hicanns}: expected a finite number >= 0")
    return DELAY_CALIB_MS[0] * route_hicanns + DELAY_CALIB_MS[1]


def calibrated_delays(rng: NumpyRNG, n: int, route_hicanns: float) -> np.ndarray:
    """Delays (ms) of ``n`` connections on routes across ``route_hicanns`` HICANNs, as the
    demos' ``apply_delay_calib``: calibration line plus N(0, 0.1 ms), redrawn below 0.1 ms
    (one vectorised draw gives the demos' per-connection stream: numpy caches its Gaussians
    in the generator state, not per call)."""
    mean = calibrated_delay_mean(route_hicanns)
    return rng.next(n, "normal_clipped",
                    {"mu": mean, "sigma": DELAY_CALIB_SIGMA_MS, "low": 0.1, "high": np.inf})


@dataclass
class DemoNetwork:
    """A demo network as built on one simulator.

    * ``populations``: the recorded neuron populations by the demo's labels;
    * ``sources``: spike-source populations (Brunel's external pool), not recorded;
    * ``projections``: (source label, target label) -> list of projections (several when the
      multapses were split);
    * ``requested_synapses``: connections the demo asks for (internal, plus external where
      the demo has an external pool);
    * ``setup_kwargs``: the ``setup()`` keywords this build assumes (the demo's settings);
    * ``multapse_projections``: projections per (source, target) after the split (1 = no
      multapse)."""
    name: str
    target: str
    populations: dict[str, Any]
    projections: dict[tuple[str, str], list[Any]]
    requested_synapses: int
    setup_kwargs: dict[str, Any]
    sources: dict[str, Any] = field(default_factory=dict)
    multapse_projections: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def neurons(self) -> int:
        """Number of neurons (spike sources excluded)."""
        return int(sum(p.size for p in self.populations.values()))


def _project(sim, pre_pop, post_pop, conn: np.ndarray, receptor: str, split: bool) -> list:
    """One ``FromListConnector`` projection of rows (pre, post, weight uS, delay ms), or one
    per multapse occurrence when ``split`` (the hardware could not hold multapses in one
    projection)."""
    chunks = split_multapses(conn) if split else ([conn] if len(conn) else [])
    return [sim.Projection(pre_pop, post_pop, sim.FromListConnector(chunk),
                           sim.StaticSynapse(), receptor_type=receptor)
            for chunk in chunks]


# ========================================================================= cortical microcircuit
MICROCIRCUIT_LABELS = ("23e", "23i", "4e", "4i", "5e", "5i", "6e", "6i")
#: full-scale population sizes (Potjans & Diesmann 2014)
MICROCIRCUIT_FULL_SIZE = {"23e": 20683, "23i": 5834, "4e": 21915, "4i": 5479,
                          "5e": 4850, "5i": 1065, "6e": 14395, "6i": 2948}
#: probability of >= 1 connection; row: target, column: source (MICROCIRCUIT_LABELS order)
MICROCIRCUIT_CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0., 0.0076, 0.],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0., 0.0042, 0.],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0., 0.1057, 0.],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443]])
#: IF_cond_exp parameters (nF, mV, ms, nA) before the per-population resting potentials
MICROCIRCUIT_NEURON = {"cm": 0.25, "e_rev_E": 50.0, "e_rev_I": -150.0, "tau_m": 10.0,
                       "i_offset": 0.0, "tau_refrac": 2.0, "tau_syn_E": 2.2, "tau_syn_I": 2.2,
                       "v_reset": -65.0, "v_rest": -65.0, "v_thresh": -50.0}
#: resting potentials (mV) that replace the external Poisson drive of the full model
MICROCIRCUIT_V_REST = {"23e": -42.52, "23i": -43.93, "4e": -35.5, "4i": -38.31,
                       "5e": -36.9, "5i": -38.31, "6e": -24.26, "6i": -35.5}
#: conductances (uS) by source type, target layer and target type, before the factors
MICROCIRCUIT_WEIGHTS = {
    "e": {"23": {"e": 0.00303139, "i": 0.00321473}, "4": {"e": 0.00334374, "i": 0.00325535},
          "5": {"e": 0.00330689, "i": 0.00336596}, "6": {"e": 0.00341609, "i": 0.00342977}},
    "i": {"23": {"e": 0.02265111, "i": 0.02112101}, "4": {"e": 0.02024846, "i": 0.02083072},
          "5": {"e": 0.0204834, "i": 0.02011174}, "6": {"e": 0.01981637, "i": 0.01973876}}}
#: excitatory weight factor: "a factor of 1 on the BrainScaleS system corresponds
#: approximately to a 'real' weight factor of 0.1" (the demo)
MICROCIRCUIT_EXC_FACTOR = {"hardware": 1.0, "nest": 0.1}
#: NEST weight jitter, sigma / mean (the wafer's own spread replaces it on hardware)
MICROCIRCUIT_WEIGHT_JITTER = {"hardware": 0.0, "nest": 0.1}
#: per-neuron variations for NEST.  The demo's comment calls them relative (% of the mean),
#: but ``_apply_variations`` passes them as ``sigma``: absolute ms / mV.  Dict order is the
#: demo's draw order.
MICROCIRCUIT_VARIATION = {"e_rev_E": 11.1, "e_rev_I": 1.6, "tau_m": 8.0, "tau_refrac": 1.5,
                          "tau_syn_E": 0.6, "tau_syn_I": 0.4, "v_rest": 2.0, "v_thresh": 1.1,
                          "v_reset": 1.6}
#: open intervals of the varied parameters: values on or outside are redrawn
MICROCIRCUIT_VARIATION_BOUNDS = {
    "e_rev_E": (-np.inf, np.inf), "e_rev_I": (-np.inf, np.inf), "tau_m": (3.0, np.inf),
    "tau_refrac": (0.0, np.inf), "tau_syn_E": (1.8, 4.0), "tau_syn_I": (1.9, 6.0),
    "v_rest": (-np.inf, np.inf), "v_thresh": (-np.inf, np.inf),
    "v_reset": (-np.inf, 0.9 * MICROCIRCUIT_NEURON["v_thresh"])}
#: requested delays (ms) of the hardware build (mean, sigma), ignored by the wafer
MICROCIRCUIT_DELAY = {"e": (1.5, 0.75), "i": (0.8, 0.4)}
MICROCIRCUIT_SEEDS = {"kernel": 123456, "weight": 234567, "init": 345678, "delay": 24639,
                      "variation": 6627}
#: the hardware run: wafer 30, small capacitors, slow leak, neuron size 8, e_rev_I..e_rev_E
#: onto 0.4..1.3 V
MICROCIRCUIT_HARDWARE = {"neuron_size": 8, "big_capacitors": False, "leak_mode": "slow",
                         "max_hw_v": 1.3, "min_hw_v": 0.4}
#: what the demo reports for the wafer: internal synapses realised
MICROCIRCUIT_REALISED_ON_WAFER = 2_373_933


def microcircuit_sizes(scale: float = 0.1) -> dict[str, int]:
    """Population sizes as the demo computes them, ``int(full_size * scale)``."""
    _check_positive("scale", scale)
    return {label: int(MICROCIRCUIT_FULL_SIZE[label] * scale) for label in MICROCIRCUIT_LABELS}


def microcircuit_in_degrees() -> np.ndarray:
    """Full-scale in-degrees K[target, source] from the connection probabilities (van Albada
    et al. 2015, as the demo's ``_get_indegrees``)."""
    n = np.array([MICROCIRCUIT_FULL_SIZE[label] for label in MICROCIRCUIT_LABELS], dtype=float)
    n_target, n_source = n[:, None], n[None, :]
    return (np.log(1.0 - MICROCIRCUIT_CONN_PROBS) / np.log(1.0 - 1.0 / (n_target * n_source))
            / n_target)


def microcircuit_connection_counts(scale: float = 0.1, k_scale: float = 0.1) -> np.ndarray:
    """Connections per (target, source): ``int(round(K * k_scale * target_size))``."""
    _check_positive("k_scale", k_scale)
    sizes = np.array(list(microcircuit_sizes(scale).values()), dtype=float)
    return np.rint(microcircuit_in_degrees() * k_scale * sizes[:, None]).astype(np.int64)


def microcircuit_connections(scale: float = 0.1, k_scale: float = 0.1,
                             seed: int = MICROCIRCUIT_SEEDS["kernel"]
                             ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(source, target) -> (pre, post) indices, drawn as the demo's fixed-total-number
    connector: targets outer, sources inner; per pair ``randint`` for all pre indices, then
    for all post indices, from one NumpyRNG (autapses and multapses allowed)."""
    rng = NumpyRNG(seed=seed, parallel_safe=True)
    sizes = microcircuit_sizes(scale)
    counts = microcircuit_connection_counts(scale, k_scale)
    out = {}
    for t, target in enumerate(MICROCIRCUIT_LABELS):
        for s, source in enumerate(MICROCIRCUIT_LABELS):
            n = int(counts[t, s])
            if n == 0:          # the demo skips the pair without drawing
                continue
            pre = rng.randint(0, sizes[source], n)
            post = rng.randint(0, sizes[target], n)
            out[(source, target)] = (pre, post)
    return out


def microcircuit_weight_matrix(target: str = "hardware") -> np.ndarray:
    """Mean weight (uS) per (target, source), the demo's ``_calculate_weights``."""
    _check_target(target)
    w = np.zeros((len(MICROCIRCUIT_LABELS),) * 2)
    for s, source in enumerate(MICROCIRCUIT_LABELS):
        factor = MICROCIRCUIT_EXC_FACTOR[target] if source.endswith("e") else 1.0
        for t, post in enumerate(MICROCIRCUIT_LABELS):
            w[t, s] = MICROCIRCUIT_WEIGHTS[source[-1]][post[:-1]][post[-1]] * factor
    return w


def microcircuit_setup_kwargs(target: str = "hardware") -> dict[str, Any]:
    """``setup()`` keywords of the demo's run on ``target``: for ``"hardware"`` the
    pyNN.bss_emu keywords of the wafer-30 settings (neuron size 8, small capacitors, slow
    leak, e_rev_I..e_rev_E onto 0.4..1.3 V, speed-up 1e4, run despite synapse loss); for
    ``"nest"`` the demo's ``set_nest`` (0.1 ms step, delays 0.1..15 ms, kernel seed)."""
    if _check_target(target) == "nest":
        return {"timestep": 0.1, "min_delay": 0.1, "max_delay": 15.0,
                "rng_seed": MICROCIRCUIT_SEEDS["kernel"]}
    hw = MICROCIRCUIT_HARDWARE
    alpha, shift = bio_to_hw_voltage_trafo(MICROCIRCUIT_NEURON["e_rev_E"],
                                           MICROCIRCUIT_NEURON["e_rev_I"],
                                           hw["max_hw_v"], hw["min_hw_v"])
    return {"timestep": 0.1, "neuron_size": hw["neuron_size"],
            "big_capacitors": hw["big_capacitors"], "leak_mode": hw["leak_mode"],
            "voltage_alpha": alpha, "voltage_shift": shift, "speedup": 1e4,
            "continue_despite_synapse_loss": True}


def _clipped_normal_strict(rng: NumpyRNG, mean: float, sigma: float, n: int,
                           bounds: tuple[float, float]) -> np.ndarray:
    """The demo's variation draw: PyNN's ``normal_clipped`` (redraws outside [low, high]),
    then redraws of values *on* a bound (its ``_redraw`` wants the open interval)."""
    low, high = bounds
    dist = RandomDistribution("normal_clipped", mu=mean, sigma=sigma, low=low, high=high,
                              rng=rng)
    values = np.asarray(dist.next(n), dtype=float)
    for _ in range(200):            # the demo's MaxRedraw
        bad = np.flatnonzero((values <= low) | (values >= high))
        if bad.size == 0:
            return values
        values[bad] = dist.next(bad.size)
    raise RuntimeError(f"variation N({mean}, {sigma}) within {bounds}: more than 200 redraws")


def _apply_microcircuit_variations(pops: dict, rng: NumpyRNG) -> dict[str, dict[str, float]]:
    """NEST only: per-neuron parameters drawn around the population's value (absolute sigma,
    parameters outer and populations inner, as the demo).  Returns the drawn means of
    v_rest and v_thresh per population (the initial membrane potentials need them)."""
    means: dict[str, dict[str, float]] = {label: {} for label in pops}
    for param, sigma in MICROCIRCUIT_VARIATION.items():
        for label, pop in pops.items():
            mean = MICROCIRCUIT_V_REST[label] if param == "v_rest" else MICROCIRCUIT_NEURON[param]
            values = _clipped_normal_strict(rng, mean, sigma, pop.size,
                                            MICROCIRCUIT_VARIATION_BOUNDS[param])
            pop.set(**{param: values})
            means[label][param] = float(values.mean())
    return means


def _init_microcircuit_membranes(pops: dict, means: dict, rng: NumpyRNG) -> None:
    """NEST only: v(0) ~ N((v_thresh + v_rest)/2, |v_thresh - v_rest|/3) per population."""
    for label, pop in pops.items():
        v_thresh, v_rest = means[label]["v_thresh"], means[label]["v_rest"]
        values = rng.next(pop.size, "normal", {"mu": (v_thresh + v_rest) / 2,
                                               "sigma": abs(v_thresh - v_rest) / 3})
        pop.initialize(v=values)


def build_microcircuit(sim, *, target: str = "hardware", scale: float = 0.1,
                       k_scale: float = 0.1, exc_factor: float | None = None,
                       inh_factor: float = 1.0,
                       route_hicanns: float = MICROCIRCUIT_ROUTE_HICANNS,
                       seeds: dict[str, int] | None = None, record: bool = True) -> DemoNetwork:
    """The 10 % Potjans-Diesmann microcircuit of the 2022 demo on ``sim`` (``setup()`` done).

    * ``target``: ``"hardware"`` (mean parameters, exc weight factor 1, multapses split into
      extra projections) or ``"nest"`` (exc factor 0.1, 10 % weight jitter, per-neuron
      variations, initial v, calibrated delays over ``route_hicanns`` HICANNs);
    * ``scale`` / ``k_scale``: neuron-number and in-degree scaling (0.1 each in the demo;
      other values only for quick tests, the demo's weights belong to 0.1);
    * ``exc_factor`` / ``inh_factor``: weight factors (default: the demo's for ``target``);
    * ``seeds``: overrides of :data:`MICROCIRCUIT_SEEDS`;
    * ``record``: record spikes of every population."""
    _check_target(target)
    seeds = {**MICROCIRCUIT_SEEDS, **(seeds or {})}
    exc_factor = MICROCIRCUIT_EXC_FACTOR[target] if exc_factor is None else exc_factor
    _check_positive("exc_factor", exc_factor)
    _check_positive("inh_factor", inh_factor)
    weight_rng = NumpyRNG(seed=seeds["weight"], parallel_safe=True)
    delay_rng = NumpyRNG(seed=seeds["delay"], parallel_safe=True)

    pops = {label: sim.Population(size, sim.IF_cond_exp(**MICROCIRCUIT_NEURON), label=label)
            for label, size in microcircuit_sizes(scale).items()}
    weights = microcircuit_weight_matrix("hardware")           # exc factor 1, scaled below
    connections = microcircuit_connections(scale, k_scale, seeds["kernel"])
    projections: dict[tuple[str, str], list] = {}
    for (source, post), (pre_idx, post_idx) in connections.items():
        t, s = MICROCIRCUIT_LABELS.index(post), MICROCIRCUIT_LABELS.index(source)
        mean_w = weights[t, s] * (exc_factor if source.endswith("e") else inh_factor)
        w = weight_rng.next(pre_idx.size, "normal_clipped",
                            {"mu": mean_w, "sigma": MICROCIRCUIT_WEIGHT_JITTER[target] * mean_w,
                             "low": 0.0, "high": np.inf})
        if target == "hardware":
            mu, sigma = MICROCIRCUIT_DELAY[source[-1]]
            d = delay_rng.next(pre_idx.size, "normal_clipped",
                               {"mu": mu, "sigma": sigma, "low": 0.1, "high": 15.0})
        else:
            d = calibrated_delays(delay_rng, pre_idx.size, route_hicanns)
        conn = np.column_stack([pre_idx, post_idx, w, d])
        receptor = "excitatory" if source.endswith("e") else "inhibitory"
        projections[(source, post)] = _project(sim, pops[source], pops[post], conn, receptor,
                                               split=(target == "hardware"))

    for label, pop in pops.items():        # the resting potentials replacing the external drive
        pop.set(v_rest=MICROCIRCUIT_V_REST[label])
    if target == "nest":
        means = _apply_microcircuit_variations(
            pops, NumpyRNG(seed=seeds["variation"], parallel_safe=True))
        _init_microcircuit_membranes(pops, means, NumpyRNG(seed=seeds["init"],
                                                           parallel_safe=True))
    if record:
        for pop in pops.values():
            pop.record("spikes")
    requested = int(sum(pre.size for pre, _ in connections.values()))
    return DemoNetwork("microcircuit", target, pops, projections, requested,
                       microcircuit_setup_kwargs(target),
                       multapse_projections={k: len(v) for k, v in projections.items()})


# ====================================================================== balanced random network
BRUNEL_N_FULL = 12500
BRUNEL_SCALE = 6.0
BRUNEL_EPSILON = 0.1
BRUNEL_C_EXT = 200
BRUNEL_ORIG_WEIGHT = 1.2        # the demo's extra weight factor
BRUNEL_MAPPING_G = 8.0          # g of the wafer's mapping; the demo's sweep set g and eta around it
BRUNEL_ETA = 0.8                # the 'all neurons' mapping covered g >= 7 at eta <= 1.2
BRUNEL_SWEEP = {"g": (1.0, 4.0, 8.0, 10.0), "eta": (0.8, 1.6, 2.4, 3.2)}
#: mean IF_cond_exp parameters (nF, mV, ms, nA); the model's shifted voltage scale: rest 0 mV
BRUNEL_NEURON = {"tau_m": 10.0, "tau_syn_E": 3.0, "tau_syn_I": 3.0, "tau_refrac": 2.0,
                 "cm": 1.0, "v_rest": 0.0, "v_reset": 10.0, "i_offset": 0.0, "v_thresh": 20.0,
                 "e_rev_E": 140.0, "e_rev_I": -140.0}
#: NEST's per-neuron spread (absolute sigma, ms / mV), in the demo's dict order
BRUNEL_VARIATION = {"tau_m": 2.0, "tau_syn_E": 0.4, "tau_syn_I": 0.2, "tau_refrac": 1.0,
                    "cm": 0.0, "v_rest": 1.96, "v_reset": 4.2, "i_offset": 0.0,
                    "v_thresh": 1.12, "e_rev_E": 14.0, "e_rev_I": 1.96}
#: bounds of those normal_clipped draws (i_offset is a plain normal)
BRUNEL_VARIATION_BOUNDS = {"v_reset": (-np.inf, 0.9 * BRUNEL_NEURON["v_thresh"]),
                           "v_rest": (-np.inf, np.inf), "v_thresh": (-np.inf, np.inf),
                           "e_rev_E": (-np.inf, np.inf), "e_rev_I": (-np.inf, np.inf)}
#: NEST weight jitter sigma / mean
BRUNEL_WEIGHT_JITTER = {"hardware": 0.0, "nest": 0.5}
BRUNEL_DELAY_MS = 1.5           # requested (hardware build; the wafer routes its own)
BRUNEL_SEEDS = {"network": 1234, "kernel": 100, "variation": 200, "delay": 300, "weight": 400}
#: the hardware run: wafer 30, big capacitors, normal leak, neuron size 8, e_rev_I..e_rev_E
#: onto 0.45..1.3 V
BRUNEL_HARDWARE = {"neuron_size": 8, "big_capacitors": True, "leak_mode": "normal",
                   "max_hw_v": 1.3, "min_hw_v": 0.45}
#: what the demo reports for the wafer: synapses realised (internal and external)
BRUNEL_REALISED_ON_WAFER = 690_157


@dataclass(frozen=True)
class BrunelSizes:
    """Neuron numbers and in-degrees of the 1/6 network (the demo's ``par``)."""
    n_exc: int
    n_inh: int
    n_ext: int
    c_exc: int
    c_inh: int
    c_ext: int

    @property
    def requested_synapses(self) -> int:
        """Internal plus external connections."""
        n = self.n_exc + self.n_inh
        return n * (self.c_exc + self.c_inh) + n * self.c_ext


def brunel_sizes(scale: float = BRUNEL_SCALE) -> BrunelSizes:
    """``Neff = int(12500 / scale)``, 80 % excitatory, in-degrees ``int(0.1 * N)``, 200
    external inputs from a pool of ``Neff`` sources."""
    _check_positive("scale", scale)
    n = int(BRUNEL_N_FULL / scale)
    n_exc = int(n * 0.8)
    n_inh = n - n_exc
    return BrunelSizes(n_exc, n_inh, n, int(BRUNEL_EPSILON * n_exc), int(BRUNEL_EPSILON * n_inh),
                       BRUNEL_C_EXT)


def brunel_rates(eta: float, scale: float = BRUNEL_SCALE) -> tuple[float, float]:
    """(nu_thresh, rate of one external source) in Hz: nu_thresh = (v_thresh - v_rest) /
    (dV * tau_m) with dV = 0.1 mV * scale; each of the 200 pooled inputs fires at
    eta * nu_thresh / 200."""
    _check_positive("eta", eta)
    dv = 0.1 * scale
    nu_thresh = ((BRUNEL_NEURON["v_thresh"] - BRUNEL_NEURON["v_rest"])
                 / (dv * BRUNEL_NEURON["tau_m"]) * 1000.0)
    return nu_thresh, nu_thresh * eta / BRUNEL_C_EXT


def brunel_conductances(scale: float = BRUNEL_SCALE) -> tuple[float, float]:
    """(excitatory, inhibitory per unit g) conductances in uS: the current w = 1.2 * dV * cm /
    tau_syn (nA), divided by the driving force from the mean potential 0 mV."""
    w = BRUNEL_ORIG_WEIGHT * (0.1 * scale * BRUNEL_NEURON["cm"]) / BRUNEL_NEURON["tau_syn_E"]
    v_mean = BRUNEL_NEURON["v_rest"]
    return w / (BRUNEL_NEURON["e_rev_E"] - v_mean), -w / (BRUNEL_NEURON["e_rev_I"] - v_mean)


def brunel_connections(sizes: BrunelSizes, seed: int = BRUNEL_SEEDS["network"]
                       ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(source, target) -> (pre, post), the demo's ``get_matrix``/``generate_matrix``: for
    exc then inh sources, exc then inh targets, then the external pool onto all neurons (exc
    followed by inh), every target draws its in-degree of pre indices with ``randint``.  One
    ``randint`` per matrix gives the same stream as the demo's one per target (legacy numpy
    draws bounded integers word by word without carrying a buffer between calls)."""
    rng = NumpyRNG(seed=seed, parallel_safe=True)
    size = {"exc": sizes.n_exc, "inh": sizes.n_inh, "all": sizes.n_exc + sizes.n_inh,
            "ext": sizes.n_ext}
    plan = [("exc", "exc", sizes.c_exc), ("exc", "inh", sizes.c_exc),
            ("inh", "exc", sizes.c_inh), ("inh", "inh", sizes.c_inh),
            ("ext", "all", sizes.c_ext)]
    out = {}
    for source, target, k in plan:
        pre = rng.randint(0, size[source], size[target] * k)
        post = np.repeat(np.arange(size[target]), k)
        out[(source, target)] = (pre, post)
    return out


def brunel_setup_kwargs(target: str = "hardware") -> dict[str, Any]:
    """``setup()`` keywords of the 2023 run: for ``"hardware"`` neuron size 8, big
    capacitors, normal leak, e_rev_I..e_rev_E (-140..140 mV) onto 0.45..1.3 V, speed-up 1e4,
    run despite synapse loss; for ``"nest"`` 0.1 ms step and the kernel seed 100."""
    if _check_target(target) == "nest":
        return {"timestep": 0.1, "min_delay": 0.1, "max_delay": 15.0,
                "rng_seed": BRUNEL_SEEDS["kernel"]}
    hw = BRUNEL_HARDWARE
    alpha, shift = bio_to_hw_voltage_trafo(BRUNEL_NEURON["e_rev_E"], BRUNEL_NEURON["e_rev_I"],
                                           hw["max_hw_v"], hw["min_hw_v"])
    return {"timestep": 0.1, "neuron_size": hw["neuron_size"],
            "big_capacitors": hw["big_capacitors"], "leak_mode": hw["leak_mode"],
            "voltage_alpha": alpha, "voltage_shift": shift, "speedup": 1e4,
            "continue_despite_synapse_loss": True}


def _brunel_cell_parameters(target: str, rng: NumpyRNG) -> dict[str, Any]:
    """Mean parameters (hardware) or the demo's RandomDistributions sharing one RNG (NEST;
    PyNN draws them when it creates the cells, as in the demo)."""
    if target == "hardware":
        return dict(BRUNEL_NEURON)
    params: dict[str, Any] = {}
    for name, sigma in BRUNEL_VARIATION.items():
        mu = BRUNEL_NEURON[name]
        if name == "i_offset":
            params[name] = RandomDistribution("normal", mu=mu, sigma=sigma, rng=rng)
            continue
        low, high = BRUNEL_VARIATION_BOUNDS.get(name, (0.0, np.inf))
        params[name] = RandomDistribution("normal_clipped", mu=mu, sigma=sigma, low=low,
                                          high=high, rng=rng)
    return params


def build_brunel(sim, *, target: str = "hardware", g: float = BRUNEL_MAPPING_G,
                 eta: float = BRUNEL_ETA, scale: float = BRUNEL_SCALE,
                 route_hicanns: float = BRUNEL_ROUTE_HICANNS,
                 seeds: dict[str, int] | None = None, record: bool = True) -> DemoNetwork:
    """The 2023 balanced random network (Brunel 2000 scaled by 1/6) on ``sim`` (``setup()``
    done): 1666 excitatory and 417 inhibitory ``IF_cond_exp``, in-degrees 166 / 41, and 200
    inputs per neuron from a pool of 2083 ``SpikeSourcePoisson`` at eta * nu_thresh / 200.

    * ``target``: ``"hardware"`` (mean parameters, exact weights, multapses split) or
      ``"nest"`` (the demo's parameter spreads, 50 % weight jitter, calibrated delays over
      ``route_hicanns`` HICANNs, drawn per projection in the order of the demo's NEST run);
    * ``g``: relative inhibitory weight (the wafer's mapping was made for 8; the demo's
      hardware sweep rescaled the inhibitory weights from there, which is the same network);
    * ``eta``: external rate relative to nu_thresh;
    * ``scale``: 6 in the demo (smaller networks for quick tests with larger values)."""
    _check_target(target)
    _check_positive("g", g)
    seeds = {**BRUNEL_SEEDS, **(seeds or {})}
    sizes = brunel_sizes(scale)
    _, ext_rate = brunel_rates(eta, scale)
    g_exc, g_inh = brunel_conductances(scale)
    mean_w = {"exc": g_exc, "inh": g_inh * g, "ext": g_exc}
    weight_rng = NumpyRNG(seed=seeds["weight"], parallel_safe=True)
    delay_rng = NumpyRNG(seed=seeds["delay"], parallel_safe=True)

    params = _brunel_cell_parameters(target, NumpyRNG(seed=seeds["variation"],
                                                      parallel_safe=True))
    pops = {"exc": sim.Population(sizes.n_exc, sim.IF_cond_exp(**params), label="exc"),
            "inh": sim.Population(sizes.n_inh, sim.IF_cond_exp(**params), label="inh")}
    ext = sim.Population(sizes.n_ext, sim.SpikeSourcePoisson(rate=ext_rate), label="ext")
    cells = {"exc": pops["exc"], "inh": pops["inh"], "ext": ext,
             "all": pops["exc"] + pops["inh"]}
    projections: dict[tuple[str, str], list] = {}
    for (source, post), (pre_idx, post_idx) in brunel_connections(sizes,
                                                                 seeds["network"]).items():
        mu = mean_w[source]
        w = weight_rng.next(pre_idx.size, "normal_clipped",
                            {"mu": mu, "sigma": BRUNEL_WEIGHT_JITTER[target] * mu,
                             "low": 0.0, "high": np.inf})
        if target == "hardware":
            d = np.full(pre_idx.size, BRUNEL_DELAY_MS)
        else:       # the demo's apply_delay_calib: a plain normal around the line
            d = delay_rng.normal(calibrated_delay_mean(route_hicanns), DELAY_CALIB_SIGMA_MS,
                                 pre_idx.size)
            d = np.maximum(d, sim.get_time_step())    # NEST refuses delays below the step
        conn = np.column_stack([pre_idx, post_idx, w, d])
        receptor = "inhibitory" if source == "inh" else "excitatory"
        projections[(source, post)] = _project(sim, cells[source], cells[post], conn, receptor,
                                               split=(target == "hardware"))
    if record:
        for pop in pops.values():
            pop.record("spikes")
    return DemoNetwork("brunel", target, pops, projections, sizes.requested_synapses,
                       brunel_setup_kwargs(target), sources={"ext": ext},
                       multapse_projections={k: len(v) for k, v in projections.items()})
