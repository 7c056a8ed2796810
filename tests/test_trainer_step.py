"""Exact tests of one in-the-loop iteration, ``InTheLoopTrainer.step()``.

The trainer talks to its network only through ``sizes``, ``unit_uS``, ``check_weights``,
``write_weights`` and ``run`` (trainer.py); a stand-in with that interface replaces the
spiking network, so no simulator runs and the "measured" activations are whatever the test
wants:

* measured == the software ReLU network on the written (quantised) weights: then one step
  must use exactly the software network's gradient (straight-through the 4-bit quantiser,
  through the readout scale beta) and apply exactly the Adam step derived by hand;
* crafted activations: one hidden unit is put in each case of the gate
  ``1[(a > 0 or z > 0) and a < a_sat]`` and the update of its incoming weights must be zero
  or the hand-derived value, as the gate says.

The update rule is in_the_loop_training.md 4.2 (steps 1-7):

    logits = beta * a_L;  delta_L = beta * (softmax(logits) - onehot(y)) / B
    grad_l = a_{l-1}^T delta_l                      (measured presynaptic activations)
    delta_{l-1} = (delta_l @ Q_l^T) * gate_{l-1}    (Q: the quantised weights written)
    shadow_l <- clip(shadow_l + adam_step(grad_l) * lsb_l, -15 lsb_l, +15 lsb_l)

with Adam's learning rate ``lr * lr_decay ** iteration`` (iteration counted from 0).

The optimiser is wrapped by a spy that records the gradients it receives (Adam is invariant
to a constant factor in the gradient, so the weight update alone could not pin beta or 1/B);
the shadow-weight update is compared with Adam computed by hand.
"""
from __future__ import annotations

import numpy as np
import pytest

from pyNN_bss_emu.training import Dataset, InTheLoopTrainer, Quantiser, ReLUNetwork, TrainerConfig

# ------------------------------------------------------------------ constants (literals)
#: 4-bit synapse weight 0..15, sign through the receptor type (brainscales1.md 1 table and
#: 4.3 "4-bit weight (0..15)"); the shadow weights are clipped to [-15 lsb, 15 lsb]
#: (in_the_loop_training.md 4.2 step 7).
LEVELS = 15
#: Adam's defaults (Kingma & Ba 2015): beta1, beta2, epsilon.
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


# ------------------------------------------------------------------ stand-ins
class StandInNetwork:
    """What the trainer needs of ``SpikingNetwork``; ``measure(x, q)`` returns the measured
    activations of every layer (hidden..., output) for inputs ``x`` and the weights ``q``
    last written."""

    def __init__(self, sizes, measure) -> None:
        self.sizes = tuple(sizes)
        self.unit_uS = np.full(len(self.sizes) - 1, 0.011)
        self.measure = measure
        self.writes: list[list[np.ndarray]] = []
        self.runs: list[np.ndarray] = []

    def check_weights(self, weights):
        return [np.asarray(w, dtype=float) for w in weights]

    def write_weights(self, weights) -> None:
        self.writes.append([np.array(w, dtype=float) for w in weights])

    def run(self, x, rng):
        self.runs.append(np.array(x, dtype=float))
        return [np.array(a, dtype=float) for a in self.measure(np.asarray(x), self.writes[-1])]


class GradientSpy:
    """Wraps the trainer's optimiser: records the gradients and the learning rate of every
    call of ``steps`` and passes them on unchanged."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.grads: list[list[np.ndarray]] = []
        self.lrs: list[float] = []

    @property
    def lr(self) -> float:
        return self.inner.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.inner.lr = value

    def steps(self, grads):
        self.grads.append([np.array(g, dtype=float) for g in grads])
        self.lrs.append(float(self.inner.lr))
        return self.inner.steps(grads)


# ------------------------------------------------------------------ hand references
def software_measure(x: np.ndarray, q: list[np.ndarray]) -> list[np.ndarray]:
    """The software network's activations on the written weights: ReLU hidden layers, a
    linear output (the trainer multiplies it by beta to get the logits)."""
    acts, h = [], x
    for i, w in enumerate(q):
        z = h @ w
        h = z if i == len(q) - 1 else np.maximum(z, 0.0)
        acts.append(h)
    return acts


def hand_quantise(w: np.ndarray, lsb: np.ndarray) -> np.ndarray:
    """q(w) = lsb * clip(round(w / lsb), -15, 15) (in_the_loop_training.md 4.4)."""
    return lsb * np.clip(np.rint(w / lsb), -LEVELS, LEVELS)


def hand_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hand_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy."""
    p = hand_softmax(logits)
    return float(-np.mean(np.log(p[np.arange(y.size), y])))


def hand_gradients(acts: list[np.ndarray], q: list[np.ndarray], y: np.ndarray, beta: float,
                   gates: list[np.ndarray]) -> list[np.ndarray]:
    """in_the_loop_training.md 4.2 steps 4-6 with the gates given by the test (one 0/1
    array per hidden layer), not evaluated here: acts = [x, a_1, ..., a_L] measured."""
    b = y.size
    onehot = np.eye(acts[-1].shape[1])[y]
    delta = beta * (hand_softmax(beta * acts[-1]) - onehot) / b
    grads = [None] * len(q)
    for i in range(len(q) - 1, -1, -1):
        grads[i] = acts[i].T @ delta
        if i:
            delta = (delta @ q[i].T) * gates[i - 1]
    return grads


def hand_adam(grad_history: list[list[np.ndarray]], lrs: list[float]) -> list[list[np.ndarray]]:
    """Adam's update directions (to be added, in LSB units) for a sequence of gradients:
    m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g^2, step_t = -lr_t m/(1-b1^t) /
    (sqrt(v/(1-b2^t)) + eps).  First step: -lr g / (|g| + eps)."""
    m = [np.zeros_like(g) for g in grad_history[0]]
    v = [np.zeros_like(g) for g in grad_history[0]]
    out = []
    for t, (grads, lr) in enumerate(zip(grad_history, lrs), start=1):
        steps = []
        for k, g in enumerate(grads):
            m[k] = BETA1 * m[k] + (1 - BETA1) * g
            v[k] = BETA2 * v[k] + (1 - BETA2) * g * g
            steps.append(-lr * (m[k] / (1 - BETA1 ** t))
                         / (np.sqrt(v[k] / (1 - BETA2 ** t)) + EPS))
        out.append(steps)
    return out


def batch_labels(x_batch: np.ndarray, data: Dataset) -> np.ndarray:
    """The labels of the batch the trainer ran (rows of x_train are unique)."""
    idx = [int(np.flatnonzero(np.all(data.x_train == row, axis=1))[0]) for row in x_batch]
    assert len(set(idx)) == len(idx)
    return data.y_train[idx]


# ------------------------------------------------------------------ 1. software == measured
def _software_setup(sizes, cfg: TrainerConfig, seed: int = 5, n_train: int = 10):
    """Random off-grid shadow weights, one LSB per presynaptic input (distinct per row and
    layer), a random data set whose rows are unique."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, np.sqrt(2.0 / a), (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    # per-input grid: largest magnitude of the row on level 12 (1.25 x max / 15)
    lsb = [1.25 * np.abs(w).max(axis=1, keepdims=True) / LEVELS for w in weights]
    data = Dataset("toy", rng.random((n_train, sizes[0])),
                   rng.integers(0, sizes[-1], n_train), rng.random((4, sizes[0])),
                   rng.integers(0, sizes[-1], 4), sizes[-1])
    net = StandInNetwork(sizes, software_measure)
    tr = InTheLoopTrainer(net, weights, data, cfg, quantiser=Quantiser(lsb, LEVELS),
                          data_seed=11)
    spy = GradientSpy(tr.optimiser)
    tr.optimiser = spy
    return tr, net, spy, weights, lsb, data


def _loss_of(q: list[np.ndarray], x: np.ndarray, y: np.ndarray, beta: float) -> float:
    return hand_loss(beta * software_measure(x, q)[-1], y)


@pytest.mark.parametrize("sizes", [(4, 5, 3), (4, 5, 4, 3)], ids=["4-5-3", "4-5-4-3"])
def test_step_uses_the_software_gradient_and_the_hand_adam_step(sizes):
    """Measured == software: the trainer's gradient is the ReLU network's gradient with
    respect to the *quantised* weights Q (straight-through), with logits = beta x output;
    the shadow weights move by the hand-derived Adam step times each row's LSB, first with
    lr, then with lr x lr_decay."""
    lr, decay, beta, batch = 0.3, 0.5, 4.0, 6
    cfg = TrainerConfig(lr=lr, lr_decay=decay, beta=beta, a_sat=2.5, batch_size=batch)
    tr, net, spy, w0, lsb, data = _software_setup(sizes, cfg, seed=2)
    shadow = [w.copy() for w in w0]
    lrs = [lr, lr * decay]             # lr * lr_decay ** iteration, iteration = 0, 1
    grad_history = []
    for it in range(2):
        rec = tr.step()
        # one run of the whole batch, with the hand-quantised shadow weights written
        x = net.runs[-1]
        assert x.shape == (batch, sizes[0])
        y = batch_labels(x, data)
        q = [hand_quantise(w, s) for w, s in zip(shadow, lsb)]
        for got, want in zip(net.writes[-1], q):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
        # the test is only meaningful if the shadow weights are off the grid (Q != W), some
        # hidden units are silent (the ReLU derivative matters) and none saturates (then the
        # gate is exactly the ReLU derivative 1[z > 0] of the software network)
        assert all(np.abs(a - b).max() > 1e-3 for a, b in zip(shadow, q))
        hidden = software_measure(x, q)[:-1]
        assert all(np.any(h == 0) and np.any(h > 0) for h in hidden)
        assert all(h.max() < cfg.a_sat for h in hidden)
        # ... and no pre-activation sits on the ReLU kink (z = 0 happens when a weight
        # rounds to 0 and the other inputs are silent), where the derivative is undefined
        z_min = min(np.abs(inp @ w).min() for inp, w in zip([x] + hidden, q[:-1]))
        assert z_min > 1e-3

        # (a) the software network's own gradient: ReLUNetwork with the readout scale in
        # its last layer, logits = h @ (beta Q_L); d/dQ_L = beta * d/d(beta Q_L)
        ann = ReLUNetwork(tuple(sizes), [*q[:-1], beta * q[-1]])
        ann_loss, ann_grads = ann.gradients(x, y)
        ann_grads[-1] = beta * ann_grads[-1]
        got = spy.grads[-1]
        assert len(got) == len(q)
        for g, want in zip(got, ann_grads):
            np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15)
        # (b) independent of ann.py: central differences of the cross-entropy written here
        h = 1e-6
        for layer, qq in enumerate(q):
            fd = np.zeros_like(qq)
            for idx in np.ndindex(qq.shape):
                plus = [a.copy() for a in q]
                minus = [a.copy() for a in q]
                plus[layer][idx] += h
                minus[layer][idx] -= h
                fd[idx] = (_loss_of(plus, x, y, beta) - _loss_of(minus, x, y, beta)) / (2 * h)
            np.testing.assert_allclose(got[layer], fd, rtol=0, atol=2e-8)
        assert np.abs(got[0]).max() > 1e-3            # a real gradient reaches layer 0

        # the record: loss of logits = beta x output, accuracy of the output counts
        out = software_measure(x, q)[-1]
        assert rec["loss"] == pytest.approx(hand_loss(beta * out, y), rel=1e-12)
        assert rec["loss"] == pytest.approx(ann_loss, rel=1e-12)
        assert rec["batch_accuracy"] == float(np.mean(np.argmax(out, axis=1) == y))
        assert rec["iteration"] == it + 1 == tr.iteration

        # the update: Adam (by hand) in LSB units of each row, added to the *shadow*
        # weights (not to Q), clipped to +-15 LSB (not reached here)
        grad_history.append(ann_grads)
        assert spy.lrs == pytest.approx(lrs[:it + 1], rel=1e-15)
        steps = hand_adam(grad_history, lrs[:it + 1])[-1]
        for layer in range(len(q)):
            want = np.clip(shadow[layer] + steps[layer] * lsb[layer],
                           -LEVELS * lsb[layer], LEVELS * lsb[layer])
            np.testing.assert_allclose(tr.shadow[layer], want, rtol=1e-13, atol=1e-16)
            if it == 0:
                # first step: -lr g/(|g| + eps) LSB: against the gradient's sign, at most
                # lr LSB, and zero where g = 0
                moved = (tr.shadow[layer] - shadow[layer]) / lsb[layer]
                np.testing.assert_array_equal(np.sign(moved), -np.sign(ann_grads[layer]))
                assert np.all(np.abs(moved) <= lr * (1 + 1e-12))
                big = np.abs(ann_grads[layer]) > 1e-4
                np.testing.assert_allclose(moved[big], -lr * np.sign(ann_grads[layer][big]),
                                           rtol=1e-4 * 1.01)      # eps / |g| <= 1e-4
        shadow = [w.copy() for w in tr.shadow]
    np.testing.assert_array_equal(net.unit_uS, 0.011)  # step() leaves the units alone
    assert tr.history["iteration"] == [1, 2]


def test_first_step_moves_every_weight_by_lr_lsb_against_the_gradient():
    """Adam's first step with bias correction is -lr g / (|g| + eps): with lr = 0.25 every
    weight with g != 0 moves by 0.25 LSB of its row against the sign of its gradient (up to
    eps / |g|), a weight with g = 0 does not move, whichever layer it is in."""
    cfg = TrainerConfig(lr=0.25, lr_decay=1.0, beta=2.0, a_sat=2.5, batch_size=10)
    tr, net, spy, w0, lsb, data = _software_setup((4, 5, 3), cfg, seed=9)
    tr.step()
    g = spy.grads[0]
    for layer in range(2):
        nz = np.abs(g[layer]) > 0
        assert nz.sum() >= g[layer].size // 2
        moved = tr.shadow[layer] - w0[layer]
        want = -0.25 * g[layer] / (np.abs(g[layer]) + EPS) * lsb[layer]
        np.testing.assert_allclose(moved, want, rtol=1e-12, atol=1e-18)
        np.testing.assert_array_equal(moved[~nz], 0.0)


def test_the_update_is_clipped_to_15_lsb_of_its_row():
    """Shadow weights placed at +-14.98 LSB (and a few inside): a step of 0.1 LSB outwards
    ends exactly on +-15 LSB of the row, inwards on +-14.88 LSB; weights well inside move
    freely."""
    lr = 0.1
    cfg = TrainerConfig(lr=lr, lr_decay=1.0, beta=3.0, a_sat=1e3, batch_size=8)
    sizes = (4, 5, 3)
    tr, net, spy, w0, lsb, data = _software_setup(sizes, cfg, seed=4)
    rng = np.random.default_rng(21)
    start = []
    for layer, s in enumerate(lsb):
        sign = rng.choice([-1.0, 1.0], size=w0[layer].shape)
        level = np.where(rng.random(w0[layer].shape) < 0.75, 14.98, 3.3)
        start.append(sign * level * s)
    tr.shadow = [w.copy() for w in start]
    tr.step()
    g = spy.grads[0]
    n_clipped = n_inward = 0
    for layer, s in enumerate(lsb):
        step = -lr * g[layer] / (np.abs(g[layer]) + EPS)          # first Adam step, LSB
        free = start[layer] + step * s
        want = np.clip(free, -LEVELS * s, LEVELS * s)
        np.testing.assert_allclose(tr.shadow[layer], want, rtol=1e-13, atol=1e-16)
        clipped = np.abs(free) > LEVELS * s
        np.testing.assert_array_equal(tr.shadow[layer][clipped],
                                      (np.sign(free) * LEVELS * s * np.ones_like(free))[clipped])
        n_clipped += int(clipped.sum())
        n_inward += int(np.sum((np.abs(start[layer]) > 14 * s) & ~clipped & (g[layer] != 0)))
    assert n_clipped >= 5 and n_inward >= 5                      # both cases occur


# ------------------------------------------------------------------ 2. the gate
# One hidden unit (the probe, unit 0 of its layer) in each case of the gate
# 1[(a > 0 or z > 0) and a < a_sat], a_sat = 2.5; z is the software pre-activation from the
# *measured* inputs of the layer.  (name, measured a, target z, gradient passes)
A_SAT = 2.5
GATE_CASES = [
    ("silent_but_driven", 0.0, 0.5, True),        # a = 0, z > 0: still learns
    ("silent_not_driven", 0.0, -0.5, False),      # a = 0, z < 0: blocked
    ("silent_zero_drive", 0.0, 0.0, False),       # z > 0 is strict
    ("saturated", 3.0, 0.5, False),               # a >= a_sat: blocked
    ("at_saturation", 2.5, 0.5, False),           # a < a_sat is strict
    ("saturated_not_driven", 3.0, -0.5, False),
    ("active", 0.7, 0.5, True),                   # the normal case
    ("active_not_driven", 0.7, -0.5, True),       # a > 0 alone suffices
]
#: columns w (on the 1/8 grid) with x . w = z for x = (1, 0.5, 0.25) (layer 1) and for
#: a_1 = (1, 0.5) (layer 2): exact in binary floating point.
PROBE_COLUMN_L1 = {0.5: [0.25, 0.25, 0.5], -0.5: [-0.25, -0.25, -0.5], 0.0: [0.25, -0.25, -0.5]}
PROBE_COLUMN_L2 = {0.5: [0.25, 0.5], -0.5: [-0.25, -0.5], 0.0: [0.25, -0.5]}


def _gate_trainer(layer: int, a_probe: float, z_probe: float, shadow_offset: float = 0.0):
    """A 3-2-3 (probe in hidden layer 1) or 3-2-2-3 (probe in hidden layer 2) network on
    one sample x = (1, 0.5, 0.25), label 0, grid 1/8 in every layer, weights on the grid
    (so Q = shadow).  Unit 1 of every hidden layer is an active control (a = 0.6, z > 0);
    in the 3-2-2-3 net the measured a_1 = (1, 0.5) differs from relu(x @ Q_0), and z of
    layer 2 must come from the measured a_1.  ``shadow_offset`` (< half an LSB) is added
    to the shadow weights into the probe's layer: they leave the grid, Q does not change."""
    x = np.array([[1.0, 0.5, 0.25]])
    lsb_value = 0.125
    control_l1 = [0.5, 0.25, 0.125]                  # z = 0.65625 > 0
    if layer == 1:
        sizes = (3, 2, 3)
        q = [np.array([PROBE_COLUMN_L1[z_probe], control_l1]).T,
             np.array([[0.5, -0.25, 0.125], [-0.125, 0.375, 0.25]])]
        hidden = [np.array([[a_probe, 0.6]])]
    else:
        sizes = (3, 2, 2, 3)
        # both layer-1 units driven (z > 0) and active: a mistaken z = x @ Q_0 for layer 2
        # would be positive for the probe whatever its real drive
        q = [np.array([[0.5, 0.25, 0.125], control_l1]).T,
             np.array([PROBE_COLUMN_L2[z_probe], [0.5, 0.25]]).T,   # control z2 = 0.625
             np.array([[0.5, -0.25, 0.125], [-0.125, 0.375, 0.25]])]
        hidden = [np.array([[1.0, 0.5]]), np.array([[a_probe, 0.6]])]
    out = np.array([[0.3, 0.9, 0.1]])
    acts = hidden + [out]
    data = Dataset("gate", x, np.array([0]), x, np.array([0]), 3)
    net = StandInNetwork(sizes, lambda xx, qq: [a.copy() for a in acts])
    cfg = TrainerConfig(lr=0.2, lr_decay=1.0, beta=3.0, a_sat=A_SAT, batch_size=1)
    lsb = [np.full((n, 1), lsb_value) for n in sizes[:-1]]
    shadow = [w + (shadow_offset if k == layer - 1 else 0.0) for k, w in enumerate(q)]
    tr = InTheLoopTrainer(net, shadow, data, cfg, quantiser=Quantiser(lsb, LEVELS))
    spy = GradientSpy(tr.optimiser)
    tr.optimiser = spy
    return tr, net, spy, x, q, acts, lsb


@pytest.mark.parametrize("layer", [1, 2])
@pytest.mark.parametrize("name, a_probe, z_probe, passes", GATE_CASES,
                         ids=[c[0] for c in GATE_CASES])
def test_gate_case(layer, name, a_probe, z_probe, passes):
    """The probe (unit 0 of hidden layer ``layer``) measured at ``a_probe`` with drive
    ``z_probe``: the gradient the trainer hands to Adam equals the hand back-propagation
    with the gate taken from the case table; the probe's incoming weights get exactly zero
    gradient and do not move when blocked, and move by -lr g/(|g| + eps) LSB when the
    gate passes."""
    tr, net, spy, x, q, acts, lsb = _gate_trainer(layer, a_probe, z_probe)
    # the hand-made z is what the gate will see: measured input of the layer @ Q
    inputs = [x] + acts[:-1]
    assert (inputs[layer - 1] @ q[layer - 1])[0, 0] == z_probe
    tr.step()
    np.testing.assert_array_equal(net.writes[-1][0], q[0])      # on the grid: Q = shadow
    # gates given by the case table (probe) and the controls (always open)
    gates = [np.array([[1.0, 1.0]]) for _ in range(len(q) - 1)]
    gates[layer - 1][0, 0] = 1.0 if passes else 0.0
    want = hand_gradients([x] + acts, q, np.array([0]), 3.0, gates)
    got = spy.grads[0]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
    # the probe's incoming weights: column 0 of Q_{layer-1}
    incoming = got[layer - 1][:, 0]
    moved = (tr.shadow[layer - 1] - q[layer - 1])[:, 0]
    if passes:
        assert np.all(np.abs(incoming) > 1e-3)
        # first Adam step: -lr g / (|g| + eps) LSB with lr = 0.2, LSB = 1/8
        np.testing.assert_allclose(moved, -0.2 * 0.125 * incoming / (np.abs(incoming) + EPS),
                                   rtol=1e-12)
        assert np.all(np.abs(moved) > 0.2 * 0.125 * 0.999)
    else:
        np.testing.assert_array_equal(incoming, 0.0)
        np.testing.assert_array_equal(moved, 0.0)
    # the control unit (column 1) always learns
    assert np.all(np.abs(got[layer - 1][:, 1]) > 1e-3)
    # the output layer never depends on the gate: a_{L-1}^T delta_L
    np.testing.assert_allclose(got[-1], want[-1], rtol=1e-12)


@pytest.mark.parametrize("layer", [1, 2])
def test_gate_drive_is_computed_with_the_written_weights(layer):
    """The probe is silent with z = 0 on the written grid Q; the shadow weights into its
    layer sit 0.05 above the grid (less than half the 1/8 LSB, so Q is unchanged) and
    would give z = 0.05 x sum(inputs) > 0.  The gate must use Q, as the backward pass
    does (straight-through: the network that ran is Q), so the probe stays blocked and its
    shadow weights do not move."""
    tr, net, spy, x, q, acts, lsb = _gate_trainer(layer, 0.0, 0.0, shadow_offset=0.05)
    inputs = [x] + acts[:-1]
    assert (inputs[layer - 1] @ (q[layer - 1] + 0.05))[0, 0] > 0.07    # shadow: driven
    tr.step()
    for got, want in zip(net.writes[-1], q):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(spy.grads[0][layer - 1][:, 0], 0.0)
    np.testing.assert_array_equal(tr.shadow[layer - 1][:, 0], q[layer - 1][:, 0] + 0.05)
    # the control unit's weights move from the shadow value (not from Q) by lr LSB
    g = spy.grads[0][layer - 1][:, 1]
    np.testing.assert_allclose(tr.shadow[layer - 1][:, 1],
                               q[layer - 1][:, 1] + 0.05 - 0.2 * 0.125 * g / (np.abs(g) + EPS),
                               rtol=1e-14)


def test_gate_hand_values_of_the_one_layer_probe():
    """The numbers behind the 3-2-3 gate cases, derived on paper: beta = 3, output
    a = (0.3, 0.9, 0.1), label 0 -> logits (0.9, 2.7, 0.3), p = softmax,
    delta_2 = 3 (p - e_0); back-propagated to the probe: delta_2 . (0.5, -0.25, 0.125);
    gradient of its incoming weights: x * that (x = (1, 0.5, 0.25))."""
    e = np.exp([0.9, 2.7, 0.3])
    p = e / e.sum()
    delta2 = 3.0 * (p - np.array([1.0, 0.0, 0.0]))
    back = float(delta2 @ np.array([0.5, -0.25, 0.125]))
    tr, net, spy, x, q, acts, lsb = _gate_trainer(1, 0.0, 0.5)       # silent but driven
    tr.step()
    np.testing.assert_allclose(spy.grads[0][0][:, 0], back * np.array([1.0, 0.5, 0.25]),
                               rtol=1e-12)
    # output layer: a_1^T delta_2 with a_1 = (0, 0.6)
    np.testing.assert_allclose(spy.grads[0][1], np.outer([0.0, 0.6], delta2), rtol=1e-12,
                               atol=1e-300)
    # numbers: p = (0.13161, 0.79617, 0.07223), delta_2 = (-2.60518, 2.38850, 0.21668),
    # back = -1.87263 < 0 -> the incoming weights grow by lr LSB = 0.2 / 8 (minus eps/|g|)
    assert back == pytest.approx(-1.87263229, abs=1e-8)
    g = back * np.array([1.0, 0.5, 0.25])
    np.testing.assert_allclose(tr.shadow[0][:, 0],
                               np.array([0.25, 0.25, 0.5]) + 0.2 * 0.125 * -g / (np.abs(g) + EPS),
                               rtol=1e-14)
    assert np.all(tr.shadow[0][:, 0] > np.array([0.25, 0.25, 0.5]) + 0.025 * (1 - 1e-7))
