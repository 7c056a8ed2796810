"""The builders of the two public BrainScaleS-1 demos (benchmarks/demo_networks.py) against the
demos' own numbers (electronicvisions/brainscales1-demos @55e80dc): neuron and synapse counts,
the multapse split, the random streams, parameters and the hardware settings."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from pyNN.random import NumpyRNG

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import demo_networks as dn  # noqa: E402

import pyNN.bss_emu as sim  # noqa: E402


# ------------------------------------------------------------------ the demo's split, verbatim
def _demo_split_multapses(matrix: list) -> list[list]:
    """execution_helpers.split_multapses as the demo wrote it (Python loops), the reference
    for the vectorised split."""
    def split(elements):
        added, res, remaining = set(), [], []
        for elem in elements:
            idx = (elem[0], elem[1])
            if idx in added:
                remaining.append(elem)
            else:
                res.append(elem)
                added.add(idx)
        return res, remaining
    out = []
    result, remaining = split(matrix)
    out.append(result)
    while remaining:
        result, remaining = split(remaining)
        out.append(result)
    return out


# ------------------------------------------------------------------------------- microcircuit
def test_microcircuit_population_sizes_follow_the_demos_int_of_num_times_scale():
    sizes = dn.microcircuit_sizes(0.1)
    assert sizes == {"23e": 2068, "23i": 583, "4e": 2191, "4i": 547, "5e": 485, "5i": 106,
                     "6e": 1439, "6i": 294}
    # the demo's text says 7,712; its code (int per population) gives one more
    assert sum(sizes.values()) == 7713


def test_microcircuit_requests_the_issues_2987316_internal_synapses():
    counts = dn.microcircuit_connection_counts(0.1, 0.1)
    assert counts.sum() == 2_987_316
    # pairs with connection probability 0 get no connection (and the demo draws nothing)
    assert np.all(counts[dn.MICROCIRCUIT_CONN_PROBS == 0] == 0)
    # 23e -> 23e: K = ln(1 - 0.1009) / ln(1 - 1/20683^2) / 20683 ~ -ln(1 - 0.1009) * 20683
    # = 2199.9 full-scale inputs
    k = dn.microcircuit_in_degrees()
    assert k[0, 0] == pytest.approx(-np.log(1 - 0.1009) * 20683, rel=1e-6)
    assert counts[0, 0] == round(k[0, 0] * 0.1 * 2068)
    # the wafer realised 2,373,933 of them: 20.5 % lost
    assert 1 - dn.MICROCIRCUIT_REALISED_ON_WAFER / counts.sum() == pytest.approx(0.2053,
                                                                                  abs=1e-4)


def test_microcircuit_connections_are_the_demos_randint_stream():
    conns = dn.microcircuit_connections(0.1, 0.1)
    rng = np.random.RandomState(dn.MICROCIRCUIT_SEEDS["kernel"])
    # the first pair drawn (target 23e, source 23e): all pre, then all post indices
    n = int(dn.microcircuit_connection_counts()[0, 0])
    pre, post = conns[("23e", "23e")]
    assert np.array_equal(pre, rng.randint(0, 2068, n))
    assert np.array_equal(post, rng.randint(0, 2068, n))
    assert len(conns) == int((dn.microcircuit_connection_counts() > 0).sum()) == 64 - 9


def test_microcircuit_weights_and_factors():
    hw, nest = dn.microcircuit_weight_matrix("hardware"), dn.microcircuit_weight_matrix("nest")
    lab = dn.MICROCIRCUIT_LABELS
    # weights[source type][target layer][target type]; row = target, column = source
    assert hw[lab.index("4i"), lab.index("23e")] == 0.00325535
    assert hw[lab.index("6e"), lab.index("5i")] == 0.0198163 + 7e-8
    assert nest[lab.index("4i"), lab.index("23e")] == pytest.approx(0.000325535)
    assert nest[lab.index("6e"), lab.index("5i")] == hw[lab.index("6e"), lab.index("5i")]


# ------------------------------------------------------------------------------ multapses
def test_vectorised_split_equals_the_demos_split():
    rng = np.random.RandomState(5)
    pre, post = rng.randint(0, 6, 300), rng.randint(0, 5, 300)     # many repeats
    matrix = [[int(a), int(b), float(i), 1.0] for i, (a, b) in enumerate(zip(pre, post))]
    expected = _demo_split_multapses(matrix)
    got = dn.split_multapses(np.array(matrix))
    assert len(got) == len(expected) > 3
    for chunk, ref in zip(got, expected):
        assert np.array_equal(chunk, np.array(ref))
        assert len({(int(a), int(b)) for a, b in chunk[:, :2]}) == len(chunk)


def test_multapse_occurrence_counts_earlier_repeats_in_list_order():
    occ = dn.multapse_occurrence(np.array([3, 1, 3, 3, 1, 2]), np.array([0, 0, 0, 0, 1, 0]))
    assert occ.tolist() == [0, 0, 1, 2, 0, 0]
    assert dn.split_multapses(np.zeros((0, 4))) == []


def test_hardware_microcircuit_projections_hold_each_pair_once_and_every_connection():
    sim.setup(ideal=True)
    net = dn.build_microcircuit(sim, target="hardware", scale=0.01, k_scale=0.01)
    assert {k: p.size for k, p in net.populations.items()} == dn.microcircuit_sizes(0.01)
    conns = dn.microcircuit_connections(0.01, 0.01)
    assert net.requested_synapses == sum(p.size for p, _ in conns.values())
    for key, projs in net.projections.items():
        pre, post = conns[key]
        assert len(projs) == dn.multapse_occurrence(pre, post).max() + 1
        got = []
        for p in projs:
            c = np.asarray(p.get([], format="list"), dtype=float)[:, :2].astype(int)
            assert len({tuple(r) for r in c}) == len(c)       # no repeated pair
            got.append(c)
        got = np.concatenate(got)
        ref = np.column_stack([pre, post])
        assert sorted(map(tuple, got)) == sorted(map(tuple, ref))
    assert sum(len(v) for v in net.projections.values()) > len(net.projections)
    sim.end()


def test_hardware_microcircuit_parameters_are_the_demos_means():
    sim.setup(ideal=True)
    net = dn.build_microcircuit(sim, target="hardware", scale=0.01, k_scale=0.01)
    for label, pop in net.populations.items():
        assert np.all(pop.get("v_rest") == dn.MICROCIRCUIT_V_REST[label])
        assert np.all(pop.get("tau_syn_E") == 2.2)
        assert np.all(pop.get("e_rev_I") == -150.0)
    w = net.projections[("4e", "4i")][0].get("weight", format="array")
    assert np.nanmax(w) == np.nanmin(w) == pytest.approx(0.00325535)     # no jitter
    sim.end()


def test_nest_variant_draws_absolute_sigmas_within_the_demos_bounds():
    sim.setup(ideal=True)
    net = dn.build_microcircuit(sim, target="nest", scale=0.05, k_scale=0.002)
    v_rest = np.concatenate([p.get("v_rest") - dn.MICROCIRCUIT_V_REST[k]
                             for k, p in net.populations.items()])
    tau_m = np.concatenate([p.get("tau_m") for p in net.populations.values()])
    e_rev_e = np.concatenate([p.get("e_rev_E") for p in net.populations.values()])
    tau_syn_e = np.concatenate([p.get("tau_syn_E") for p in net.populations.values()])
    # sigma 2 mV (not 2 % of -42 mV = 0.85 mV), 8 ms (clipped at 3 ms), 11.1 mV
    assert np.std(v_rest) == pytest.approx(2.0, rel=0.1)
    assert np.std(e_rev_e) == pytest.approx(11.1, rel=0.1)
    assert tau_m.min() > 3.0 and np.std(tau_m) > 6.0
    assert tau_syn_e.min() > 1.8 and tau_syn_e.max() < 4.0
    # the first values are the demo's stream: e_rev_E of 23e first, seed 6627
    first = NumpyRNG(6627).next(5, "normal_clipped", {"mu": 50.0, "sigma": 11.1,
                                                      "low": -np.inf, "high": np.inf})
    assert np.allclose(net.populations["23e"].get("e_rev_E")[:5], first)
    # weights: exc factor 0.1 with 10 % jitter
    w = net.projections[("23e", "23e")][0].get("weight", format="array")
    w = w[np.isfinite(w)]
    assert np.mean(w) == pytest.approx(0.000303139, rel=0.03)
    assert np.std(w) / np.mean(w) == pytest.approx(0.1, rel=0.2)
    assert len(net.projections[("23e", "23e")]) == 1       # NEST keeps multapses together
    sim.end()


def test_calibrated_delay_is_the_demos_line():
    d = dn.calibrated_delays(NumpyRNG(1), 20000, 10.0)
    assert np.mean(d) == pytest.approx(0.0397 * 10 + 0.6444, abs=0.003)
    assert np.std(d) == pytest.approx(0.1, rel=0.05)


# ---------------------------------------------------------------------------------- Brunel
def test_brunel_sizes_in_degrees_and_847781_requested_synapses():
    s = dn.brunel_sizes()
    assert (s.n_exc, s.n_inh, s.n_ext) == (1666, 417, 2083)
    assert (s.c_exc, s.c_inh, s.c_ext) == (166, 41, 200)
    assert s.requested_synapses == 847_781
    assert 2083 * (166 + 41) == 431_181                     # internal
    # 18.6 % of them lost on the wafer: 690,157 realised
    assert 1 - dn.BRUNEL_REALISED_ON_WAFER / 847_781 == pytest.approx(0.186, abs=5e-4)


def test_brunel_rates_and_conductances():
    nu_thresh, nu_source = dn.brunel_rates(0.8)
    assert nu_thresh == pytest.approx(20.0 / (0.6 * 10.0) * 1000)        # 3333 Hz
    assert nu_source == pytest.approx(0.8 * nu_thresh / 200)              # 13.3 Hz
    g_exc, g_inh = dn.brunel_conductances()
    assert g_exc == pytest.approx(1.2 * 0.6 / 3.0 / 140.0)                # 1.714 nS
    assert g_inh == pytest.approx(g_exc)


def test_brunel_one_randint_per_matrix_equals_the_demos_one_per_target():
    s = dn.brunel_sizes(60.0)
    conns = dn.brunel_connections(s, seed=1234)
    rng = np.random.RandomState(1234)
    for source, target, k in [("exc", "exc", s.c_exc), ("exc", "inh", s.c_exc),
                              ("inh", "exc", s.c_inh), ("inh", "inh", s.c_inh),
                              ("ext", "all", s.c_ext)]:
        n_source = {"exc": s.n_exc, "inh": s.n_inh, "ext": s.n_ext}[source]
        n_target = {"exc": s.n_exc, "inh": s.n_inh, "all": s.n_exc + s.n_inh}[target]
        per_target = np.concatenate([rng.randint(0, n_source, k) for _ in range(n_target)])
        pre, post = conns[(source, target)]
        assert np.array_equal(pre, per_target)
        assert np.array_equal(np.bincount(post), np.full(n_target, k))


def test_brunel_hardware_build_on_the_emulator():
    sim.setup(ideal=True)
    net = dn.build_brunel(sim, target="hardware", g=4.0, eta=1.6, scale=60.0)
    s = dn.brunel_sizes(60.0)
    assert net.populations["exc"].size == s.n_exc and net.populations["inh"].size == s.n_inh
    assert net.sources["ext"].size == s.n_ext
    assert sum(p.size() for v in net.projections.values() for p in v) == s.requested_synapses
    _, nu = dn.brunel_rates(1.6, 60.0)
    assert np.all(net.sources["ext"].get("rate") == pytest.approx(nu))
    g_exc, g_inh = dn.brunel_conductances(60.0)
    w_inh = net.projections[("inh", "exc")][0].get("weight", format="array")
    assert np.nanmax(w_inh) == pytest.approx(4.0 * g_inh)
    assert np.all(net.populations["inh"].get("v_reset") == 10.0)
    sim.end()


# ------------------------------------------------------------------------- hardware settings
def test_voltage_transform_is_marocco_set_trafo_with_bio_to_hw_ratio():
    alpha, shift = dn.bio_to_hw_voltage_trafo(50.0, -150.0, 1.3, 0.4)
    assert (alpha, shift) == (pytest.approx(4.5), pytest.approx(1.075))
    alpha, shift = dn.bio_to_hw_voltage_trafo(140.0, -140.0, 1.3, 0.45)
    assert alpha * 140.0e-3 + shift == pytest.approx(1.3)
    assert alpha * -140.0e-3 + shift == pytest.approx(0.45)
    with pytest.raises(ValueError, match="max_bio_mv"):
        dn.bio_to_hw_voltage_trafo(-150.0, 50.0, 1.3, 0.4)


@pytest.mark.parametrize("kwargs, expected", [
    (dn.microcircuit_setup_kwargs("hardware"),
     {"neuron_size": 8, "big_capacitors": False, "leak_mode": "slow", "speedup": 1e4,
      "continue_despite_synapse_loss": True}),
    (dn.brunel_setup_kwargs("hardware"),
     {"neuron_size": 8, "big_capacitors": True, "leak_mode": "normal", "speedup": 1e4,
      "continue_despite_synapse_loss": True}),
])
def test_hardware_setup_kwargs_are_accepted_by_the_emulator(kwargs, expected):
    assert {k: kwargs[k] for k in expected} == expected
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no keyword ignored
        sim.setup(**kwargs)
    sim.end()


def test_bad_target_is_refused_with_the_allowed_values():
    with pytest.raises(ValueError, match="target='wafer'.*hardware, nest"):
        dn.microcircuit_setup_kwargs("wafer")


# --------------------------------------------------------------- the benchmark's statistics
def test_rates_and_cv_count_spikes_after_the_warmup_and_cv_needs_three_spikes():
    import quantities as pq
    from neo import SpikeTrain
    import real_wafer as rw

    # neuron 0: one spike in the warm-up, then ISIs 100 and 200 ms
    trains = [SpikeTrain([500.0, 1100.0, 1200.0, 1400.0] * pq.ms, t_stop=2000 * pq.ms),
              SpikeTrain([1500.0, 1600.0] * pq.ms, t_stop=2000 * pq.ms),      # 2 spikes: no CV
              SpikeTrain([] * pq.ms, t_stop=2000 * pq.ms),
              SpikeTrain([1000.0, 1250.0, 1500.0, 1750.0] * pq.ms, t_stop=2000 * pq.ms)]
    s = rw.spike_statistics(trains, 1000.0, 2000.0)
    assert s["spikes"] == 3 + 2 + 0 + 4
    assert s["rate_hz"] == pytest.approx(9 / 4 / 1.0)       # every neuron, 1 s after warm-up
    assert s["cv_neurons"] == 2
    # neuron 0: ISIs 100, 200 ms -> std 50 / mean 150; neuron 3: regular -> 0
    assert s["cv"] == pytest.approx((50 / 150 + 0.0) / 2)
    assert rw.rate_ratio(3.0, 1.0) == (3.0, False)
    assert rw.rate_ratio(1.5, 1.0) == (1.5, True)
    assert rw.rate_ratio(1.0, 0.0)[1] is None


def test_recorded_missing_per_population_is_read_from_the_wafer_report():
    import real_wafer as rw

    line = ("recorded spikes missing for want of upward bandwidth (HICANN link 17.8 MHz, FPGA "
            "125 MHz): 1031 of 8642 (11.9 %) (in '6e: 643', '23e: 138', '4e: 76', '5e: 62', "
            "'23i: 60' and 2 more); the neurons fired them")
    missing, partial = rw.recorded_missing_by_population(["other line", line])
    assert missing == {"6e": 643, "23e": 138, "4e": 76, "5e": 62, "23i": 60}
    assert partial is True
    assert rw.recorded_missing_by_population([]) == ({}, False)


def test_benchmark_arguments_are_checked():
    import real_wafer as rw

    args = rw.parse_args([])
    assert args.brunel_points == [(8.0, 0.8), (1.0, 0.8)]
    assert args.duration > args.warmup == 1000.0
    with pytest.raises(SystemExit):
        rw.parse_args(["--duration", "500"])            # not longer than the warm-up
    with pytest.raises(SystemExit):
        rw.parse_args(["--simulators", "spinnaker"])
