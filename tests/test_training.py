"""The in-the-loop training module (pyNN_bss_emu.training): data sets, software network,
conversion, the PyNN-level spiking network, the trainer, checkpoints, and the example.

References: in_the_loop_training.md 4.1-4.4 (algorithm), 5 (data sets), 7.1 (digits split
1437/360 with random_state 0; Yin-Yang seeds 42/40, radii 0.5/0.1).
"""
from __future__ import annotations

import importlib.util
import pathlib
import types
import warnings

import numpy as np
import pytest

import pyNN.bss_emu as bss
from pyNN_bss_emu.training import (BackendError, CheckpointError, Dataset, InTheLoopTrainer,
                                   Quantiser, ReLUNetwork, SpikingConfig, SpikingNetwork,
                                   TrainerConfig, accuracy, load_digits_dataset,
                                   normalise_weights, train_ann, yin_yang_dataset,
                                   yin_yang_samples)

ROOT = pathlib.Path(__file__).resolve().parents[1]
FAST = SpikingConfig(t_present=100.0, t_pause=30.0, r_in_max=200.0, r_max=200.0,
                     unit_uS=0.01)


@pytest.fixture(scope="module")
def digits():
    return load_digits_dataset()


@pytest.fixture(scope="module")
def small_ann(digits):
    """64-32-10 trained briefly: ~95 % test accuracy in about a second."""
    ann = ReLUNetwork.initialise((64, 32, 10), seed=0)
    train_ann(ann, digits.x_train, digits.y_train, epochs=40, seed=0)
    return ann


# ---------------------------------------------------------------- data sets
def test_digits_split_is_the_protocols(digits):
    assert digits.x_train.shape == (1437, 64) and digits.x_test.shape == (360, 64)
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 1.0
    # stratified: every class has 20 % of its samples in the test set, to one sample
    for c in range(10):
        n_te = np.sum(digits.y_test == c)
        n_tr = np.sum(digits.y_train == c)
        assert abs(n_te - 0.2 * (n_te + n_tr)) <= 1.0
    again = load_digits_dataset()
    np.testing.assert_array_equal(again.x_test, digits.x_test)


def test_yin_yang_geometry_balance_and_seeds():
    x, y = yin_yang_samples(3000, seed=42)
    assert x.shape == (3000, 5) and np.all(x[:, 4] == 1.0)
    np.testing.assert_allclose(x[:, 2], 1 - x[:, 0])
    assert np.bincount(y).tolist() == [1000, 1000, 1000]
    # every point inside the big circle; dots (class 2) within 0.1 of (0.25|0.75, 0.5)
    r = np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5)
    assert r.max() <= 0.5
    d = np.minimum(np.hypot(x[:, 0] - 0.25, x[:, 1] - 0.5), np.hypot(x[:, 0] - 0.75, x[:, 1] - 0.5))
    assert np.all(d[y == 2] <= 0.1) and np.all(d[y != 2] > 0.1)
    # the two big classes are point mirror images of each other through the centre
    m0 = np.mean(x[y == 0, :2], axis=0)
    m1 = np.mean(x[y == 1, :2], axis=0)
    np.testing.assert_allclose(m0 + m1, [1.0, 1.0], atol=0.03)
    x2, y2 = yin_yang_samples(3000, seed=42)
    np.testing.assert_array_equal(x, x2)
    data = yin_yang_dataset(300, 100)
    assert data.n_classes == 3 and data.x_test.shape == (100, 5)
    assert not np.any(np.all(np.isin(data.x_test[:, :2], data.x_train[:, :2]), axis=1))
    with pytest.raises(ValueError, match="train_seed and test_seed must differ"):
        yin_yang_dataset(train_seed=3, test_seed=3)


def test_dataset_rejects_wrong_shapes_and_ranges():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"y_train has shape \(3,\), expected \(4,\)"):
        Dataset("bad", x, np.zeros(3, int), x, np.zeros(4, int), 2)
    with pytest.raises(ValueError, match=r"in \[0, 1\].*got 0.0..2.0"):
        Dataset("bad", x + np.eye(4, 3) * 2, np.zeros(4, int), x, np.zeros(4, int), 2)
    with pytest.raises(ValueError, match="labels must be in 0..1"):
        Dataset("bad", x, np.full(4, 2), x, np.zeros(4, int), 2)
    with pytest.raises(ValueError, match="2-D array"):
        Dataset("bad", np.zeros(4), np.zeros(4, int), x, np.zeros(4, int), 2)


# ---------------------------------------------------------------- software network
def test_ann_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    net = ReLUNetwork.initialise((5, 7, 4, 3), seed=1)
    x = rng.random((6, 5))
    y = rng.integers(0, 3, 6)
    _, grads = net.gradients(x, y)
    for layer in range(3):
        for (i, j) in [(0, 0), (1, 2), (4 % net.weights[layer].shape[0], 1)]:
            w = net.weights[layer]
            old = w[i, j]
            w[i, j] = old + 1e-6
            lp, _ = net.gradients(x, y)
            w[i, j] = old - 1e-6
            lm, _ = net.gradients(x, y)
            w[i, j] = old
            assert grads[layer][i, j] == pytest.approx((lp - lm) / 2e-6, abs=1e-6)


def test_ann_learns_digits_deterministically(digits, small_ann):
    assert accuracy(small_ann.predict(digits.x_test), digits.y_test) > 0.93
    again = ReLUNetwork.initialise((64, 32, 10), seed=0)
    train_ann(again, digits.x_train, digits.y_train, epochs=40, seed=0)
    for a, b in zip(again.weights, small_ann.weights):
        np.testing.assert_array_equal(a, b)


def test_normalisation_keeps_predictions_and_scales_activations(digits, small_ann):
    w, lam = normalise_weights(small_ann, digits.x_train, percentile=99.9)
    norm = ReLUNetwork(small_ann.sizes, w)
    np.testing.assert_array_equal(np.argmax(norm.predict(digits.x_test), 1),
                                  np.argmax(small_ann.predict(digits.x_test), 1))
    acts = norm.forward(digits.x_train)
    for a in acts[1:-1]:
        assert np.percentile(a[a > 0], 99.9) == pytest.approx(1.0, rel=1e-9)
    # the output layer: the median winner sits at activation 1
    winners = acts[-1].max(axis=1)
    assert np.median(winners[winners > 0]) == pytest.approx(1.0, rel=1e-9)
    assert lam[0] == 1.0 and np.all(lam > 0)


def test_quantiser_has_a_fixed_grid_of_31_levels():
    w = [np.array([[0.5, -1.0], [0.26, 0.01]])]
    q = Quantiser.for_weights(w, per_input=False)      # one grid per layer, headroom 1.25
    assert float(q.lsb[0]) == pytest.approx(1.25 / 15)
    d = q.digital(w[0], 0)
    assert d.tolist() == [[6, -12], [3, 0]]
    assert np.abs(q.digital(np.array([5.0, -5.0]), 0)).max() == 15
    np.testing.assert_allclose(q.clip(np.array([2.0, -2.0]), 0), [1.25, -1.25])
    assert q.statistics(w) == {"clipped": 0.0, "rounded_to_zero": 0.25}
    q2 = Quantiser.for_weights([w[0] * 0.1], per_input=False)   # the grid never follows
    assert float(q2.lsb[0]) != float(q.lsb[0])
    with pytest.raises(ValueError, match="headroom"):
        Quantiser.for_weights(w, headroom=0.5)
    # one grid per presynaptic input (the default): the weak second input keeps its detail
    qi = Quantiser.for_weights(w)
    np.testing.assert_allclose(qi.lsb[0].ravel(), [1.25 / 15, 1.25 * 0.26 / 15])
    assert qi.digital(w[0], 0).tolist() == [[6, -12], [12, 0]]
    np.testing.assert_allclose(qi.clip(np.array([[2.0, -2.0], [2.0, -2.0]]), 0),
                               [[1.25, -1.25], [0.325, -0.325]])


# ---------------------------------------------------------------- spiking network
def test_backend_without_required_calls_is_rejected():
    fake = types.SimpleNamespace(__name__="pyNN.fake", Population=None, run=None)
    with pytest.raises(BackendError, match="lacks Projection, IF_cond_exp"):
        SpikingNetwork(fake, (4, 2))


def test_layer_size_and_weight_shape_errors(sim):
    net = SpikingNetwork(sim, (4, 3, 2), FAST)
    with pytest.raises(ValueError, match=r"weight matrix 1 has shape \(3, 3\).*needs \(3, 2\)"):
        net.write_weights([np.zeros((4, 3)), np.zeros((3, 3))])
    with pytest.raises(ValueError, match="1 weight matrices for a network of 2 layers"):
        net.write_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match="3 features per sample, the network has 4 inputs"):
        net.run(np.zeros((2, 3)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="SpikingConfig.r_max"):
        SpikingConfig(r_max=0.0)
    data = Dataset("d", np.zeros((2, 5)), np.zeros(2, int), np.zeros((2, 5)),
                   np.zeros(2, int), 2)
    with pytest.raises(ValueError, match="has 5 features, the network 4 inputs"):
        InTheLoopTrainer(net, [np.zeros((4, 3)), np.zeros((3, 2))], data)


@pytest.mark.parametrize("coding", ["poisson", "regular"])
def test_input_spike_trains_follow_the_pixels(sim, coding):
    cfg = SpikingConfig(t_present=100.0, t_pause=20.0, r_in_max=200.0, input_coding=coding)
    net = SpikingNetwork(sim, (3, 1), cfg)
    x = np.array([[0.0, 0.5, 1.0]] * 200)
    trains = net.spike_trains(x, t0=10.0, rng=np.random.default_rng(1))
    counts = np.array([t.size for t in trains]) / 200
    # expected 0, 10 and 20 spikes per 100 ms presentation (Poisson loses a few to the grid)
    assert counts[0] == 0
    assert counts[1] == pytest.approx(10.0, rel=0.05)
    assert counts[2] == pytest.approx(20.0, rel=0.05)
    for t in trains[1:]:
        assert np.all(np.diff(t) > 0) and t[0] > 10.0
        np.testing.assert_allclose(np.round(t / 0.1), t / 0.1, atol=1e-6)
        phase = (t - 10.0) % 120.0
        assert phase.max() < 100.0                      # nothing in the pause
    if coding == "regular":
        assert np.ptp(np.diff(trains[2])[np.diff(trains[2]) < 10]) <= 0.1 + 1e-9


def test_counts_follow_the_drive_and_characterise_fits_unit_gain(sim, digits, small_ann):
    w, _ = normalise_weights(small_ann, digits.x_train)
    net = SpikingNetwork(sim, small_ann.sizes, FAST)
    tr = InTheLoopTrainer(net, w, digits, stimulus_seed=5)
    tr.characterise(digits.x_train[:60], rounds=3)
    gains = tr.characterise(digits.x_train[60:120], rounds=1)
    np.testing.assert_allclose(gains, 1.0, atol=0.15)
    acts = tr.forward(digits.x_test[:100])
    q = tr.quantised()
    pred = np.maximum(digits.x_test[:100] @ q[0], 0)
    # measured hidden activation tracks the ReLU of the drive (rate code)
    assert np.corrcoef(pred.ravel(), acts[0].ravel())[0, 1] > 0.9


def _trainer(sim, digits, small_ann, n=200, **cfg):
    w, _ = normalise_weights(small_ann, digits.x_train)
    net = SpikingNetwork(sim, small_ann.sizes, FAST)
    data = digits.subset(n, 100)
    return InTheLoopTrainer(net, w, data, TrainerConfig(batch_size=64, lr=0.1, **cfg))


def test_in_the_loop_iterations_reduce_the_loss_on_a_perturbed_network(sim, digits, small_ann):
    """Scramble the converted weights (a stand-in for a bad chip); a few iterations must
    bring the spiking network's accuracy and loss back."""
    tr = _trainer(sim, digits, small_ann, n=300)
    tr.characterise(digits.x_train[:60], rounds=2)
    rng = np.random.default_rng(0)
    tr.shadow = [tr.quantiser.clip(w * rng.lognormal(0, 0.6, w.shape), i)
                 for i, w in enumerate(tr.shadow)]
    before = tr.evaluate()
    tr.train(12, eval_every=0, progress=False)
    after = tr.evaluate()
    losses = tr.history["loss"]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert after > before + 0.03


def test_updates_only_through_projection_set_and_weights_stay_on_the_grid(sim, digits,
                                                                          small_ann):
    tr = _trainer(sim, digits, small_ann)
    tr.train(2, eval_every=0, progress=False)
    q = tr.network.written_weights
    for i, w in enumerate(q):
        steps = w / tr.quantiser.lsb[i]
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
        assert np.abs(steps).max() <= 15
    # what the backend holds is exactly the written grid (ideal mode: no quantisation)
    for got, want in zip(tr.network.realised_weights(), q):
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_checkpoint_resume_continues_where_it_stopped(sim, digits, small_ann, tmp_path):
    path = str(tmp_path / "itl.npz")
    tr = _trainer(sim, digits, small_ann)

    class Interrupt(Exception):
        pass

    def stop_at_3(trainer, rec):
        if trainer.iteration == 3:
            trainer.save_checkpoint(path)
            raise Interrupt
    with pytest.raises(Interrupt):
        tr.train(5, eval_every=2, callbacks=[stop_at_3], checkpoint=path, progress=False)
    state = [w.copy() for w in tr.shadow]
    rng_next = tr.stimulus_rng.random()

    sim.setup(timestep=0.1)          # a new process would start here
    tr2 = _trainer(sim, digits, small_ann)
    tr2.load_checkpoint(path)
    assert tr2.iteration == 3 and tr2.history["eval_iteration"] == [2]
    for a, b in zip(tr2.shadow, state):
        np.testing.assert_array_equal(a, b)
    assert tr2.stimulus_rng.random() == rng_next
    np.testing.assert_array_equal(tr2.network.unit_uS, tr.network.unit_uS)
    tr2.train(5, eval_every=2, checkpoint=path, progress=False)
    assert tr2.history["iteration"] == [1, 2, 3, 4, 5]
    assert tr2.history["eval_iteration"] == [2, 4, 5]

    # a checkpoint of another network is refused with the difference named
    sim.setup(timestep=0.1)
    other = ReLUNetwork.initialise((64, 16, 10), seed=0)
    net = SpikingNetwork(sim, other.sizes, FAST)
    tr3 = InTheLoopTrainer(net, other.weights, digits.subset(200, 100))
    with pytest.raises(CheckpointError, match=r"sizes.*\[64, 32, 10\].*\[64, 16, 10\]"):
        tr3.load_checkpoint(path)


def test_same_seeds_give_identical_training(sim, digits, small_ann):
    runs = []
    for _ in range(2):
        sim.setup(timestep=0.1)
        tr = _trainer(sim, digits, small_ann)
        tr.train(2, eval_every=0, progress=False)
        runs.append((tr.history["loss"], [w.copy() for w in tr.shadow]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- on the wafer / on NEST
@pytest.mark.slow
def test_wafer_direct_transfer_differs_and_training_runs_without_remapping(digits, small_ann):
    w, _ = normalise_weights(small_ann, digits.x_train)
    results = {}
    for ideal in (True, False):
        bss.setup(timestep=0.1, ideal=ideal, neuron_size=8, driver_chain_length=20,
                  wafer_seed=3)
        net = SpikingNetwork(bss, small_ann.sizes, FAST)
        tr = InTheLoopTrainer(net, w, digits.subset(300, 200),
                              TrainerConfig(batch_size=64, lr=0.1), stimulus_seed=4)
        tr.characterise(digits.x_train[:60], rounds=2)
        acts = tr.forward(digits.x_test[:100])
        results[ideal] = acts
        if not ideal:
            stats = bss.get_mapping_statistics()
            assert stats.synapse_loss == 0.0
            realised = net.realised_weights()[0]
            q = tr.quantised()[0]
            # 4-bit rows and mismatch: realised differs from written; no sign flips (a weight
            # below the synaptic input's floor can become 0), and almost all stay non-zero
            assert not np.allclose(realised, q)
            nz = q != 0
            assert np.all(np.sign(realised[nz]) * np.sign(q[nz]) >= 0)
            assert np.mean(realised[nz] != 0) > 0.98
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)   # a remapping would warn
                tr.train(2, eval_every=0, progress=False)
    diff = np.abs(results[True][0] - results[False][0]).mean()
    assert diff > 0.02


@pytest.mark.slow
@pytest.mark.nest
def test_the_same_loop_runs_on_nest(digits, small_ann):
    nest_sim = pytest.importorskip("pyNN.nest")
    w, _ = normalise_weights(small_ann, digits.x_train)
    acts = {}
    for name, backend in (("nest", nest_sim), ("bss_emu", bss)):
        if name == "nest":
            backend.setup(timestep=0.1, min_delay=0.1)
        else:
            backend.setup(timestep=0.1, ideal=True)
        net = SpikingNetwork(backend, small_ann.sizes, FAST)
        net.unit_uS[:] = 0.01
        tr = InTheLoopTrainer(net, w, digits.subset(100, 100),
                              TrainerConfig(batch_size=50, lr=0.1), stimulus_seed=7)
        acts[name] = tr.forward(digits.x_test[:60])
        tr.train(1, eval_every=0, progress=False)
        assert tr.iteration == 1
        backend.end()
    # same spike trains, same weights, same neuron model: mean rates within 5 %
    for a, b in zip(acts["nest"], acts["bss_emu"]):
        assert a.mean() == pytest.approx(b.mean(), rel=0.05)
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


@pytest.mark.slow
def test_example_runs_with_short_settings(tmp_path):
    spec = importlib.util.spec_from_file_location("itl_example",
                                                  ROOT / "examples" / "in_the_loop_training.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    png = tmp_path / "curve.png"
    out = mod.main(["--iterations", "2", "--eval-every", "2", "--n-train", "200",
                    "--n-test", "60", "--epochs", "20", "--batch-size", "32",
                    "--plot", str(png), "--no-progress"])
    assert png.stat().st_size > 10_000
    assert 0.0 <= out["direct"] <= 1.0 and out["history"]["iteration"] == [1, 2]
