"""Cross-check of the ideal ``pyNN.bss_emu`` engine against NEST (``pyNN.nest``).

Every scenario is one PyNN function ``scenario(sim, ...) -> dict`` that is run unchanged on
``pyNN.nest`` (reference) and on ``pyNN.bss_emu``.  Requirement: spike counts within 2 % and
spike times within 0.2 ms where the dynamics are not chaotic.

Conventions that make the two simulators comparable:

* ``sim.setup(timestep=0.1, min_delay=0.1)`` with an *explicit* min_delay: with
  ``min_delay='auto'`` pyNN.nest 0.13 shifts SpikeSourceArray spikes by 0.9 ms.
* "Poisson input" is a set of numpy-generated Poisson trains (fixed seed, times rounded to
  the 0.1 ms grid) fed through ``SpikeSourceArray``: the simulators' own Poisson RNGs differ.
* "Step input" is a change of ``i_offset`` between two ``run()`` calls (bss_emu has no current
  sources).  Known pyNN.nest quirk: pyNN.nest always simulates one min_delay past the requested
  time, so a parameter set after ``run(50)`` takes effect at t = 50.1 ms in NEST but at
  t = 50.0 ms in bss_emu.  All spike times after a step are therefore expected one time step
  (0.1 ms) *later* in NEST; this is inside the 0.2 ms tolerance and
  ``test_step_offset_is_the_nest_run_quirk`` pins it down explicitly.
* Second pyNN.nest quirk: pyNN.nest feeds SpikeSourceArrays through parrot neurons and hands
  NEST's ``spike_generator`` the times ``t - min_delay``.  For a few grid times the floating
  point result lies just above the grid point (e.g. 65.4 - 0.1 = 65.30000000000001) and NEST's
  ``Time::ms_stamp`` rounds it *up* to the next step, so that spike arrives 0.1 ms late
  (in [0, 500] ms: 4.4 ms and every 0.5 ms from 64.4 to 76.4 ms).  bss_emu delivers those spikes
  on time.  The Poisson inputs therefore leave out the spike times NEST would misplace
  (``nest_misplaces``); ``test_spike_source_array_timing_on_grid`` checks the rule against
  NEST and that bss_emu delivers every grid time exactly.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyNN.nest")

import pyNN.bss_emu  # noqa: E402
import pyNN.nest  # noqa: E402
from pyNN.parameters import Sequence  # noqa: E402

pytestmark = pytest.mark.nest

DT = 0.1
T_STOP = 500.0
T_STEP = 50.0
SPIKE_TIME_TOL = 0.2      # ms
COUNT_REL_TOL = 0.02      # 2 %
V_TOL = 0.5               # mV, in windows without spikes

SIMULATORS = {"nest": pyNN.nest, "bss_emu": pyNN.bss_emu}


# ============================================================================ helpers
def nest_misplaces(t: float, min_delay: float = DT, dt: float = DT) -> bool:
    """True if pyNN.nest + NEST 3 would deliver a SpikeSourceArray spike at grid time ``t``
    one step late: NEST's ``Time::fromstamp`` applied to ``t - min_delay`` (1000 tics/ms)."""
    ts = t - min_delay
    n = int(ts * 1000.0)
    n -= n % int(round(dt * 1000.0))
    s = n // int(round(dt * 1000.0))
    if s * dt < ts:
        s += 1
    return s != int(round(ts / dt))


def ideal_for(sim) -> dict:
    """The cross-checks compare the ideal engine with NEST: no wafer mapping for bss_emu."""
    return {"ideal": True} if "bss_emu" in sim.__name__ else {}


def poisson_trains(rng: np.random.Generator, n: int, rate: float, t_stop: float,
                   t_start: float = 1.0) -> list[np.ndarray]:
    """``n`` Poisson trains (rate in Hz) on the 0.1 ms grid in [t_start, t_stop), duplicates
    within one train removed."""
    trains = []
    for _ in range(n):
        k = rng.poisson(rate * (t_stop - t_start) / 1000.0)
        t = np.sort(rng.uniform(t_start, t_stop, size=k))
        t = np.unique(np.round(t / DT) * DT)
        t = np.round(t[(t >= t_start) & (t < t_stop)], 1)
        trains.append(np.array([x for x in t if not nest_misplaces(x)]))
    return trains


def spike_source(sim, trains):
    return sim.Population(len(trains), sim.SpikeSourceArray(
        spike_times=[Sequence(t) for t in trains]))


def _spiketrains(segment, size: int) -> list[np.ndarray]:
    out = [np.zeros(0)] * size
    for st in segment.spiketrains:
        out[int(st.annotations["source_index"])] = np.asarray(st.rescale("ms").magnitude,
                                                              dtype=float)
    return out


def _signal(segment, name: str) -> np.ndarray:
    """Recorded signal ``name`` as (n_samples, n_channels), channels in population order."""
    sigs = segment.filter(name=name)
    assert len(sigs) == 1, f"expected one '{name}' signal, got {len(sigs)}"
    sig = sigs[0]
    assert abs(float(sig.sampling_period.rescale("ms").magnitude) - DT) < 1e-9
    values = np.asarray(sig.magnitude, dtype=float)
    order = np.argsort(np.asarray(sig.array_annotations["channel_index"]))
    return values[:, order]


def collect(pop, signals=()) -> dict:
    seg = pop.get_data().segments[0]
    data = {"spikes": _spiketrains(seg, pop.size)}
    for name in signals:
        data[name] = _signal(seg, name)
    return data


def run_both(scenario, *args, **kwargs) -> tuple[dict, dict]:
    """Run ``scenario`` on NEST (reference) and on bss_emu; returns (nest, bss_emu)."""
    return tuple(scenario(SIMULATORS[name], *args, **kwargs) for name in ("nest", "bss_emu"))


def assert_counts_close(ref: list[np.ndarray], emu: list[np.ndarray], what: str) -> int:
    n_ref = sum(len(t) for t in ref)
    n_emu = sum(len(t) for t in emu)
    assert n_ref > 0, f"{what}: the NEST reference produced no spikes (scenario too weak)"
    assert abs(n_emu - n_ref) <= COUNT_REL_TOL * n_ref, (
        f"{what}: spike count bss_emu={n_emu} vs NEST={n_ref} differs by more than "
        f"{COUNT_REL_TOL:.0%}")
    return n_emu - n_ref


def max_spike_time_deviation(ref: np.ndarray, emu: np.ndarray, what: str) -> float:
    """Match two spike trains one to one; they must have the same number of spikes."""
    assert len(ref) == len(emu), (
        f"{what}: {len(emu)} spikes in bss_emu vs {len(ref)} in NEST\n"
        f"NEST:    {np.round(ref, 2).tolist()}\nbss_emu: {np.round(emu, 2).tolist()}")
    if len(ref) == 0:
        return 0.0
    return float(np.abs(ref - emu).max())


def assert_spike_times_close(ref: np.ndarray, emu: np.ndarray, what: str,
                             tol: float = SPIKE_TIME_TOL) -> float:
    dev = max_spike_time_deviation(ref, emu, what)
    assert dev <= tol + 1e-9, (
        f"{what}: spike times differ by up to {dev:.3f} ms (> {tol} ms)\n"
        f"NEST:    {np.round(ref, 2).tolist()}\nbss_emu: {np.round(emu, 2).tolist()}")
    return dev


def assert_trace_close(ref: np.ndarray, emu: np.ndarray, tol: float, what: str,
                       mask: np.ndarray | None = None, t0: float = 0.0) -> float:
    """max |ref - emu| over ``mask`` (all samples if None) must be below ``tol``; the message
    names the worst sample time (``t0`` = time of the first sample)."""
    assert ref.shape == emu.shape, f"{what}: shapes {ref.shape} (NEST) vs {emu.shape}"
    diff = np.abs(ref - emu)
    if mask is not None:
        assert mask.any(), f"{what}: nothing to compare"
        diff = np.where(mask, diff, 0.0)
    k = int(np.argmax(diff))
    assert diff[k] < tol, (f"{what}: max |NEST - bss_emu| = {diff[k]:.4g} at t = "
                           f"{t0 + k * DT:.1f} ms (NEST {ref[k]:.6g}, bss_emu {emu[k]:.6g}); "
                           f"tolerance {tol:g}")
    return float(diff[k])


def quiet_mask(n_samples: int, spike_trains, before: float = 2.0, after: float = 3.0):
    """True for samples (t = k*dt) farther than ``before`` ms before / ``after`` ms after any
    spike of any of the given trains (upswing, reset and refractoriness excluded)."""
    t = np.arange(n_samples) * DT
    mask = np.ones(n_samples, dtype=bool)
    for train in spike_trains:
        for ts in train:
            mask &= ~((t > ts - before) & (t < ts + after))
    return mask


def cut_time(trains, t_nominal: float, margin: float = 0.5) -> float:
    """First time >= t_nominal with no spike of any train within +-margin (so that a spike
    jittered by <= 0.2 ms cannot fall on different sides of the cut)."""
    all_t = np.sort(np.concatenate([np.asarray(t) for t in trains] + [np.zeros(0)]))
    t = t_nominal
    while np.any(np.abs(all_t - t) < margin):
        t += DT
    return t


# ============================================================================ scenarios
def scenario_step(sim, celltype: str, amplitude: float, params: dict | None = None,
                  signals=("v",), t_step: float = T_STEP, t_stop: float = T_STOP) -> dict:
    """One neuron, i_offset = 0 until ``t_step``, then ``amplitude`` nA."""
    sim.setup(timestep=DT, min_delay=DT, **ideal_for(sim))
    pop = sim.Population(1, getattr(sim, celltype)(**(params or {})))
    pop.record(["spikes", *signals])
    if t_step > 0:
        sim.run(t_step)
    pop.set(i_offset=amplitude)
    sim.run(t_stop - t_step)
    data = collect(pop, signals)
    sim.end()
    return data


def scenario_poisson(sim, celltype: str, exc_trains, inh_trains, w_exc: float, w_inh: float,
                     params: dict | None = None, signals=("v", "gsyn_exc", "gsyn_inh"),
                     i_offset: float = 0.0, t_stop: float = T_STOP) -> dict:
    """One neuron driven by excitatory and inhibitory SpikeSourceArrays (all-to-all)."""
    sim.setup(timestep=DT, min_delay=DT, **ideal_for(sim))
    cell = sim.Population(1, getattr(sim, celltype)(i_offset=i_offset, **(params or {})))
    exc = spike_source(sim, exc_trains)
    inh = spike_source(sim, inh_trains)
    sim.Projection(exc, cell, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=w_exc, delay=1.0), receptor_type="excitatory")
    sim.Projection(inh, cell, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=w_inh, delay=1.5), receptor_type="inhibitory")
    cell.record(["spikes", *signals])
    sim.run(t_stop)
    data = collect(cell, signals)
    sim.end()
    return data


N_EXC, N_INH, N_EXT = 32, 8, 100


def network_definition(seed: int = 1234) -> dict:
    """Fixed random (numpy) connectivity and input of the recurrent network."""
    rng = np.random.default_rng(seed)
    n = N_EXC + N_INH

    def sparse(n_pre, p, weight, delays):
        conns = []
        for i in range(n_pre):
            for j in range(n):
                if rng.random() < p:
                    conns.append((i, j, weight, float(rng.choice(delays))))
        return conns

    ext = []
    for j in range(n):
        for i in rng.choice(N_EXT, size=30, replace=False):
            ext.append((int(i), j, 0.007, 1.0))
    return {
        "ext_trains": poisson_trains(rng, N_EXT, 20.0, T_STOP),
        "ext": ext,
        "exc": sparse(N_EXC, 0.15, 0.01, (1.0, 1.5, 2.0)),
        "inh": sparse(N_INH, 0.25, 0.04, (1.0, 1.2)),
    }


def scenario_network(sim, definition: dict, t_stop: float = T_STOP) -> dict:
    """40 IF_cond_exp (32 exc / 8 inh), sparse recurrent FromListConnector connectivity,
    driven by Poisson SpikeSourceArrays."""
    sim.setup(timestep=DT, min_delay=DT, **ideal_for(sim))
    net = sim.Population(N_EXC + N_INH, sim.IF_cond_exp(tau_refrac=2.0), label="net")
    ext = spike_source(sim, definition["ext_trains"])
    sim.Projection(ext, net, sim.FromListConnector(definition["ext"]),
                   sim.StaticSynapse(), receptor_type="excitatory")
    sim.Projection(net[:N_EXC], net, sim.FromListConnector(definition["exc"]),
                   sim.StaticSynapse(), receptor_type="excitatory")
    sim.Projection(net[N_EXC:], net, sim.FromListConnector(definition["inh"]),
                   sim.StaticSynapse(), receptor_type="inhibitory")
    net.record("spikes")
    net[0:1].record("v")
    sim.run(t_stop)
    data = collect(net, ("v",))
    sim.end()
    return data


# ============================================================================ tests
# ---------------------------------------------------------------- (0) input timing
def scenario_grid_timing(sim, trains, delay: float = 1.0) -> dict:
    """Source k excites neuron k only (weight 0.01 uS, spikes >= 2 ms apart): the samples
    where gsyn_exc jumps up are the arrival steps."""
    sim.setup(timestep=DT, min_delay=DT, **ideal_for(sim))
    n = len(trains)
    src = spike_source(sim, trains)
    tgt = sim.Population(n, sim.IF_cond_exp())
    sim.Projection(src, tgt, sim.FromListConnector([(i, i, 0.01, delay) for i in range(n)]),
                   sim.StaticSynapse(), receptor_type="excitatory")
    tgt.record("gsyn_exc")
    sim.run(max(t.max() for t in trains) + delay + 1.0)
    g = collect(tgt, ("gsyn_exc",))["gsyn_exc"]
    sim.end()
    return {"arrival_steps": [np.flatnonzero(np.diff(g[:, k]) > 0.005) + 1 for k in range(n)]}


def test_spike_source_array_timing_on_grid():
    """Every grid time 0.2 .. 100.1 ms, once: source k fires at 0.2 + 0.1 k + 2 m ms."""
    trains = [np.round(0.2 + DT * k + 2.0 * np.arange(50), 1) for k in range(20)]
    ref, emu = run_both(scenario_grid_timing, trains)
    n_late = 0
    for k, times in enumerate(trains):
        expected = np.rint(times / DT).astype(int) + 10    # delay 1.0 ms = 10 steps
        # bss_emu: every spike arrives exactly one delay after its time
        np.testing.assert_array_equal(emu["arrival_steps"][k], expected)
        # NEST agrees except where the pyNN.nest min_delay subtraction misplaces the time
        late = np.array([nest_misplaces(t) for t in times])
        np.testing.assert_array_equal(ref["arrival_steps"][k], expected + late)
        n_late += late.sum()
    assert n_late > 0


# ---------------------------------------------------------------- (1) IF_cond_exp, step
@pytest.fixture(scope="module")
def if_step():
    return run_both(scenario_step, "IF_cond_exp", 1.0)


def test_if_cond_exp_step_spikes(if_step):
    ref, emu = if_step
    assert len(ref["spikes"][0]) >= 10, "scenario must produce a regular spike train"
    assert_counts_close(ref["spikes"], emu["spikes"], "IF_cond_exp step")
    assert_spike_times_close(ref["spikes"][0], emu["spikes"][0], "IF_cond_exp step")


def test_if_cond_exp_step_membrane(if_step):
    ref, emu = if_step
    v_ref, v_emu = ref["v"][:, 0], emu["v"][:, 0]
    assert v_ref.shape == v_emu.shape == (int(round(T_STOP / DT)) + 1,)
    n_pre = int(round(T_STEP / DT))
    # before the step both sit at rest: identical
    assert_trace_close(v_ref[:n_pre], v_emu[:n_pre], 1e-6, "IF v before the step")
    mask = quiet_mask(v_ref.size, [ref["spikes"][0], emu["spikes"][0]])
    assert mask.sum() > 0.5 * mask.size
    assert_trace_close(v_ref, v_emu, V_TOL, "IF step v (no spike nearby)", mask)
    # the neuron really integrates and resets in both simulators
    assert v_emu.max() <= -50.0 + 1e-9 and v_emu[mask].max() > -55.0


def test_constant_current_spike_times_identical():
    """Without a step (i_offset from t = 0) there is no run-splitting quirk: identical."""
    ref, emu = run_both(scenario_step, "IF_cond_exp", 1.0, t_step=0.0, t_stop=300.0)
    assert len(ref["spikes"][0]) >= 8
    dev = assert_spike_times_close(ref["spikes"][0], emu["spikes"][0], "IF constant current",
                                   tol=1e-6)
    assert dev <= 1e-6


def test_step_offset_is_the_nest_run_quirk(if_step):
    """The 0.1 ms offset after a step comes from pyNN.nest applying the new i_offset one
    min_delay late (NEST simulates past the requested time).  Shifting the NEST trace by one
    sample, the membrane traces agree to numerical precision and the spikes exactly."""
    ref, emu = if_step
    n_pre = int(round(T_STEP / DT))
    v_ref, v_emu = ref["v"][:, 0], emu["v"][:, 0]
    assert_trace_close(v_ref[n_pre + 1:], v_emu[n_pre:-1], 1e-4,
                       "IF v, NEST shifted by one sample", t0=T_STEP)
    np.testing.assert_allclose(ref["spikes"][0] - DT, emu["spikes"][0], atol=1e-6)


# ---------------------------------------------------------------- (2) IF_cond_exp, Poisson
@pytest.fixture(scope="module")
def poisson_input():
    rng = np.random.default_rng(20240601)
    return {"exc": poisson_trains(rng, 100, 10.0, T_STOP),
            "inh": poisson_trains(rng, 25, 10.0, T_STOP)}


@pytest.fixture(scope="module")
def if_poisson(poisson_input):
    return run_both(scenario_poisson, "IF_cond_exp", poisson_input["exc"],
                    poisson_input["inh"], w_exc=0.006, w_inh=0.02)


def test_if_cond_exp_poisson_spikes(if_poisson):
    ref, emu = if_poisson
    assert len(ref["spikes"][0]) >= 10
    assert_counts_close(ref["spikes"], emu["spikes"], "IF_cond_exp Poisson")
    assert_spike_times_close(ref["spikes"][0], emu["spikes"][0], "IF_cond_exp Poisson")


def test_if_cond_exp_poisson_traces(if_poisson):
    ref, emu = if_poisson
    # conductances do not depend on the membrane: they must agree everywhere (µS)
    for name in ("gsyn_exc", "gsyn_inh"):
        g_ref, g_emu = ref[name][:, 0], emu[name][:, 0]
        assert g_ref.shape == g_emu.shape
        assert g_ref.max() > 0.01, f"{name}: the input must be visible"
        assert_trace_close(g_ref, g_emu, 1e-6 * max(1.0, g_ref.max()), f"IF Poisson {name}")
    v_ref, v_emu = ref["v"][:, 0], emu["v"][:, 0]
    mask = quiet_mask(v_ref.size, [ref["spikes"][0], emu["spikes"][0]])
    assert mask.sum() > 0.3 * mask.size
    assert_trace_close(v_ref, v_emu, V_TOL, "IF Poisson v (no spike nearby)", mask)


# ---------------------------------------------------------------- (3) EIF, step
EIF_VARIANTS = {
    "defaults": {},
    "delta_T=0": {"delta_T": 0.0},
}


@pytest.fixture(scope="module", params=sorted(EIF_VARIANTS))
def eif_step(request):
    return request.param, run_both(scenario_step, "EIF_cond_exp_isfa_ista", 1.0,
                                   params=EIF_VARIANTS[request.param], signals=("v", "w"))


def test_eif_step_spikes_and_adaptation(eif_step):
    variant, (ref, emu) = eif_step
    what = f"EIF_cond_exp_isfa_ista ({variant}) step"
    assert len(ref["spikes"][0]) >= 8
    assert_counts_close(ref["spikes"], emu["spikes"], what)
    assert_spike_times_close(ref["spikes"][0], emu["spikes"][0], what)
    # spike-frequency adaptation: the inter-spike intervals grow in both simulators
    for train in (ref["spikes"][0], emu["spikes"][0]):
        isi = np.diff(train)
        assert isi[-1] > 1.5 * isi[0], f"{what}: no adaptation visible, ISIs {isi}"


def test_eif_step_adaptation_current(eif_step):
    variant, (ref, emu) = eif_step
    w_ref, w_emu = ref["w"][:, 0], emu["w"][:, 0]
    assert w_ref.shape == w_emu.shape
    b = pyNN.nest.EIF_cond_exp_isfa_ista.default_parameters["b"]
    assert w_ref.max() > 3 * b, "adaptation current must build up"
    # w jumps by b at each spike; away from spikes the two traces agree closely (nA)
    mask = quiet_mask(w_ref.size, [ref["spikes"][0], emu["spikes"][0]], before=0.5,
                      after=0.5)
    assert_trace_close(w_ref, w_emu, 0.01 * w_ref.max() + 1e-4,
                       f"EIF ({variant}) step w (no spike nearby)", mask)
    # at the end (after the last spike) the accumulated adaptation is the same
    assert abs(w_ref[-1] - w_emu[-1]) < 0.01 * w_ref.max() + 1e-4
    v_ref, v_emu = ref["v"][:, 0], emu["v"][:, 0]
    mask = quiet_mask(v_ref.size, [ref["spikes"][0], emu["spikes"][0]])
    assert_trace_close(v_ref, v_emu, V_TOL, f"EIF ({variant}) step v (no spike nearby)", mask)


def test_eif_step_traces_aligned_for_nest_quirk(eif_step):
    """Compensating the one-step late i_offset step of pyNN.nest (see module docstring), the
    EIF spike trains and the v / w traces agree much more tightly than the 0.2 ms tolerance."""
    variant, (ref, emu) = eif_step
    n_pre = int(round(T_STEP / DT))
    ref_spikes = ref["spikes"][0] - DT
    assert_spike_times_close(ref_spikes, emu["spikes"][0], f"EIF ({variant}) aligned", tol=DT)
    mask = quiet_mask(emu["v"].shape[0], [ref_spikes, emu["spikes"][0]])[n_pre:-1]
    assert_trace_close(ref["v"][n_pre + 1:, 0], emu["v"][n_pre:-1, 0], 0.05,
                       f"EIF ({variant}) v aligned (no spike nearby)", mask, t0=T_STEP)
    assert_trace_close(ref["w"][n_pre + 1:, 0], emu["w"][n_pre:-1, 0], 1e-3,  # nA, w ~ 0.4
                       f"EIF ({variant}) w aligned", t0=T_STEP)


# ---------------------------------------------------------------- (4) EIF, Poisson
@pytest.fixture(scope="module")
def eif_poisson(poisson_input):
    return run_both(scenario_poisson, "EIF_cond_exp_isfa_ista", poisson_input["exc"],
                    poisson_input["inh"], w_exc=0.006, w_inh=0.02,
                    signals=("v", "w", "gsyn_exc"))


def test_eif_poisson_spikes(eif_poisson):
    ref, emu = eif_poisson
    assert len(ref["spikes"][0]) >= 10
    assert_counts_close(ref["spikes"], emu["spikes"], "EIF Poisson")
    assert_spike_times_close(ref["spikes"][0], emu["spikes"][0], "EIF Poisson")


def test_eif_poisson_traces(eif_poisson):
    ref, emu = eif_poisson
    g_ref, g_emu = ref["gsyn_exc"][:, 0], emu["gsyn_exc"][:, 0]
    assert g_ref.max() > 0.01
    assert_trace_close(g_ref, g_emu, 1e-6 * max(1.0, g_ref.max()), "EIF Poisson gsyn_exc")
    spikes = [ref["spikes"][0], emu["spikes"][0]]
    v_ref, v_emu = ref["v"][:, 0], emu["v"][:, 0]
    mask = quiet_mask(v_ref.size, spikes)
    assert_trace_close(v_ref, v_emu, V_TOL, "EIF Poisson v (no spike nearby)", mask)
    w_ref, w_emu = ref["w"][:, 0], emu["w"][:, 0]
    mask = quiet_mask(w_ref.size, spikes, before=0.5, after=0.5)
    assert w_ref.max() > 0.05, "adaptation current must build up"
    assert_trace_close(w_ref, w_emu, 0.01 * w_ref.max() + 1e-4, "EIF Poisson w", mask)


# ---------------------------------------------------------------- (5) recurrent network
@pytest.fixture(scope="module")
def network():
    definition = network_definition()
    return definition, run_both(scenario_network, definition)


def test_network_spike_counts(network):
    _, (ref, emu) = network
    n_ref = np.array([len(t) for t in ref["spikes"]])
    n_emu = np.array([len(t) for t in emu["spikes"]])
    assert (n_ref > 0).sum() >= 30, "most neurons must fire"
    assert n_ref.sum() >= 500, "the network must be active (here ~55 Hz)"
    assert_counts_close(ref["spikes"], emu["spikes"], "network (total)")
    # per neuron: loose bound (late divergence of a recurrent network is allowed)
    bound = np.maximum(2, 0.1 * n_ref)
    assert np.all(np.abs(n_emu - n_ref) <= bound), (n_ref.tolist(), n_emu.tolist())


def test_network_early_spike_times(network):
    """Before recurrent amplification can matter (first ~100 ms) every neuron's spike train
    matches spike for spike."""
    _, (ref, emu) = network
    t_cut = cut_time(ref["spikes"] + emu["spikes"], 100.0)
    n_compared = 0
    for i, (a, b) in enumerate(zip(ref["spikes"], emu["spikes"])):
        a, b = a[a < t_cut], b[b < t_cut]
        assert_spike_times_close(a, b, f"network neuron {i} (t < {t_cut:.1f} ms)")
        n_compared += len(a)
    assert n_compared >= 100


def test_network_membrane_trace(network):
    _, (ref, emu) = network
    v_ref, v_emu = ref["v"][:, 0], emu["v"][:, 0]
    assert v_ref.shape == v_emu.shape
    n = int(round(100.0 / DT))
    mask = quiet_mask(n, [ref["spikes"][0], emu["spikes"][0]])
    assert_trace_close(v_ref[:n], v_emu[:n], V_TOL, "network neuron 0 v (no spike nearby)",
                       mask)
