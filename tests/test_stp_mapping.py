"""Short-term plasticity as a property of the synapse drivers in the mapper
(``mapping/stp.py``, ``mapping/synapse_drivers.py``, ``mapping/synapses.py``; brainscales1.md
4.6 and 14.8-14.10): a driver carries one STP setting (mode and 3-bit U cap), so drivers
needed = sum over STP settings of ceil(rows / 2); the STP time constant is shared per
floating-gate block (quadrant of a HICANN's drivers).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from pyNN_bss_emu import simulator
from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.hardware.parameter_transform import HardwareParameterWarning
from pyNN_bss_emu.mapping import stp as stp_mod
from pyNN_bss_emu.mapping.pipeline import MappingResult, fingerprint
from pyNN_bss_emu.mapping.synapse_drivers import driver_requirements
from pyNN_bss_emu.mapping.synapses import allocate_synapses
from pyNN_bss_emu.mapping.types import BioGraph
from test_synapse_routing import DEC3, H, check_invariants

DEP3 = stp_mod.DEPRESSION + 3         # depression, cap 3
DEP5 = stp_mod.DEPRESSION + 5
FAC2 = stp_mod.FACILITATION + 2


def alloc(addr, x0, w, receptor=None, stp=None, request=None, vline=(5,), side=(0,),
          ok=(True,), target=(H,), **kw):
    n = len(addr)
    addr = np.asarray(addr)
    x0 = np.asarray(x0)
    w = np.broadcast_to(np.asarray(w), (n,)).copy()
    request = np.zeros(n, int) if request is None else np.asarray(request)
    receptor = np.zeros(n, int) if receptor is None else np.asarray(receptor)
    target = np.asarray(target)
    post_h = np.where(request >= 0, target[np.maximum(request, 0)], H)
    al = allocate_synapses(request, addr, post_h, x0, w, receptor, target, np.asarray(vline),
                           np.asarray(side), np.asarray(ok), conn_stp=stp, **kw)
    check_invariants(al, request, addr, post_h, x0, w, receptor, target, np.asarray(vline),
                     np.asarray(side))
    check_stp(al, np.zeros(n, int) if stp is None else np.asarray(stp))
    return al


def check_stp(al, key):
    """Every realised synapse sits on a driver configured for its STP key; drivers in use
    carry a key, unused ones none."""
    k = np.flatnonzero(al.realized)
    assert np.all(al.driver_stp[al.hicann[k], al.driver[k]] == key[k])
    used_drv = np.zeros_like(al.driver_stp, dtype=bool)
    rows = np.argwhere(al.row_request >= 0)
    used_drv[rows[:, 0], rows[:, 1] // 2] = True
    assert np.array_equal(al.driver_stp >= 0, used_drv)
    # a configured driver belongs to a served request
    assert np.all(al.driver_request[al.driver_stp >= 0] >= 0)


# ---------------------------------------------------------------- keys
def test_stp_keys_from_tsodyks_markram_parameters():
    nan = np.nan
    stp = np.array([[nan, nan, nan],            # static
                    [0.25, 100.0, 0.0],         # depression, cap 0
                    [0.40, 50.0, 0.0],          # depression, cap 7
                    [0.3, 0.0, 200.0],          # facilitation, cap rint(0.05/0.15*7) = 2
                    [0.3, 0.0, 0.0]])           # no time constant: depression (see stp doc)
    keys = stp_mod.stp_keys(stp)
    assert list(keys) == [0, 1, 8, 11, 3]
    assert list(stp_mod.key_mode(keys)) == [0, 1, 1, 2, 1]
    assert list(stp_mod.key_cap(keys)) == [-1, 0, 7, 2, 2]


def test_biograph_stp_key_defaults_to_static():
    g = BioGraph(size=np.array([2, 2]), is_source=np.array([True, False]),
                 neuron_size=np.array([0, 4]), manual_hicanns=[None, None], label=["a", "b"],
                 rate=np.zeros(4), pre=np.array([0, 1]), post=np.array([2, 3]),
                 receptor=np.array([0, 0]), projection=np.array([0, 0]))
    assert g.stp_key.dtype == np.int8 and list(g.stp_key) == [0, 0]
    with pytest.raises(ValueError, match="stp_key"):
        BioGraph(**{**g.__dict__, "stp_key": np.array([1])})


# ---------------------------------------------------------------- requirements
def test_driver_requirements_sum_over_stp_classes():
    # one neuron of width 2 (1 even + 1 odd column), decoder 3.  Two exc synapses -> one
    # row.  Both groups static: 4 synapses -> 2 rows -> 1 driver.  One static and one
    # depressing group: 1 row each, but a driver carries one STP setting -> 2 drivers.
    same = driver_requirements([0], [0], [2], [0], [3], [4], 1)
    assert same.drivers[0] == 1 and list(same.rows[0]) == [2, 0]
    two = driver_requirements([0, 0], [0, 0], [2, 2], [0, 0], [3, 3], [2, 2], 1,
                              group_stp=[0, 1], n_stp=2)
    assert two.drivers[0] == 2 and list(two.stp_drivers[0]) == [1, 1]
    assert list(two.rows[0]) == [1, 0, 1, 0] and two.n_stp == 2
    assert list(two.syn_counts[0, :, 3]) == [2, 0, 2, 0]
    # exc and inh rows of one STP setting share a driver; of different settings they do not
    ei = driver_requirements([0, 0], [0, 0], [2, 2], [0, 1], [3, 3], [2, 2], 1)
    assert ei.drivers[0] == 1
    ei2 = driver_requirements([0, 0], [0, 0], [2, 2], [0, 1], [3, 3], [2, 2], 1,
                              group_stp=[0, 1])
    assert ei2.drivers[0] == 2 and list(ei2.rows[0]) == [1, 0, 0, 1]
    # 3 rows static + 3 rows depressing: 2 + 2 drivers (not ceil(6 / 2) = 3)
    r = driver_requirements([0, 0], [0, 0], [2, 2], [0, 0], [3, 3], [6, 6], 1,
                            group_stp=[0, 1])
    assert list(r.stp_drivers[0]) == [2, 2] and r.drivers[0] == 4


def test_single_stp_class_is_unchanged():
    rng = np.random.default_rng(3)
    n = 400
    args = (rng.integers(0, 5, n), 2 * rng.integers(0, 30, n), rng.integers(1, 4, n),
            rng.integers(0, 2, n), rng.integers(0, 4, n), rng.integers(1, 9, n), 5)
    a = driver_requirements(*args)
    b = driver_requirements(*args, group_stp=np.zeros(n, int), n_stp=1)
    for name in ("drivers", "synapses", "rows", "half_rows", "syn_counts"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.rows.shape == (5, 2) and a.half_rows.shape == (5, 2, 4, 2)


def test_allocation_with_static_keys_equals_no_keys():
    rng = np.random.default_rng(7)
    n = 600
    addr = DEC3[rng.integers(0, DEC3.size, n)] - 16 * rng.integers(0, 3, n)
    x0 = 2 * rng.integers(0, 20, n)
    rec = rng.integers(0, 2, n)
    a = alloc(addr, x0, 2, receptor=rec, chain_length=5)
    b = alloc(addr, x0, 2, receptor=rec, stp=np.zeros(n, int), chain_length=5)
    for name in ("realized", "row", "column", "driver_request", "row_decoder", "driver_stp"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert set(np.unique(a.driver_stp)) <= {-1, 0}


# ---------------------------------------------------------------- allocation
def test_one_stp_key_per_driver():
    # 3 requests (two on one HICANN, one on the left, one on the right side; a third on
    # another HICANN), random receptors, decoders and four STP keys
    rng = np.random.default_rng(11)
    n = 1500
    keys = np.array([0, DEP3, DEP5, FAC2])
    stp = keys[rng.integers(0, 4, n)]
    req = rng.integers(0, 3, n)
    addr = DEC3[rng.integers(0, DEC3.size, n)] - 16 * rng.integers(0, 4, n)
    x0 = 4 * rng.integers(0, 60, n)
    rec = rng.integers(0, 2, n)
    al = alloc(addr, x0, 4, receptor=rec, stp=stp, request=req, vline=(5, 200, 9),
               side=(0, 1, 0), ok=(True, True, True), target=(H, H, H + 1), chain_length=56,
               allow_multapses=True)
    assert al.realized.all()
    # drivers needed = sum over the keys present of ceil(rows / 2): fewer with one key
    al1 = alloc(addr, x0, 4, receptor=rec, request=req, vline=(5, 200, 9), side=(0, 1, 0),
                ok=(True, True, True), target=(H, H, H + 1), chain_length=56,
                allow_multapses=True)
    assert np.all(al.drivers_requested > al1.drivers_requested)
    assert np.all(al.drivers_assigned == al.drivers_requested)
    # each key's drivers are a contiguous part of the chain (one class after the other)
    for q, h in enumerate((H, H, H + 1)):
        drv = np.flatnonzero(al.driver_request[h] == q)
        seq = al.driver_stp[h, np.sort(drv)]
        assert np.all(seq >= 0)
        assert np.unique(seq).size == np.sum(np.r_[True, seq[1:] != seq[:-1]])


def test_multapses_of_different_stp_keys_are_separate_synapses():
    # the same source and neuron twice: same key -> one is a lost multapse; a static and a
    # depressing connection -> two synapses on two drivers
    al = alloc([63, 63], [0, 0], 2, stp=[0, 0], allow_multapses=False)
    assert al.lost_multapse == 1 and al.n_realized == 1
    al = alloc([63, 63], [0, 0], 2, stp=[0, DEP3], allow_multapses=False)
    assert al.lost_multapse == 0 and al.n_realized == 2
    assert al.driver[0] != al.driver[1]
    assert al.driver_stp[H, al.driver[0]] == 0 and al.driver_stp[H, al.driver[1]] == DEP3


def test_driver_shortfall_is_shared_among_stp_classes():
    # one w = 2 neuron, decoder-3 sources: 15 static, 10 depressing, 5 facilitating
    # synapses: 8 + 5 + 3 rows -> 4 + 3 + 2 = 9 drivers needed.  Chain length 5:
    # drivers in proportion to synapses (15:10:5 of 5 -> 2.5, 1.67, 0.83 -> at least 1
    # each, rest by largest remainder), every class keeps synapses, counts add up
    addr = np.concatenate([DEC3, DEC3[:10], DEC3[:5]])
    stp = np.repeat([0, DEP3, FAC2], [15, 10, 5])
    al = alloc(addr, np.zeros(30, int), 2, stp=stp, chain_length=5)
    assert al.drivers_requested[0] == 9 and al.drivers_assigned[0] == 5
    per_key = {key: int(np.sum(al.driver_stp[H] == key)) for key in (0, DEP3, FAC2)}
    assert sum(per_key.values()) == 5 and min(per_key.values()) >= 1
    assert per_key[0] >= per_key[DEP3] >= per_key[FAC2]
    for key in (0, DEP3, FAC2):
        sel = stp == key
        # a driver holds 2 rows of 1 even + 1 odd column: 4 synapses
        assert al.realized[sel].sum() == min(sel.sum(), 4 * per_key[key])
    assert al.n_realized + al.lost_drivers == 30 and al.lost_drivers > 0
    assert al.lost_synapse_array == 0


def test_shortfall_with_receptors_and_decoders_inside_a_class():
    # chain length 2 for two classes with exc + inh rows on several decoders: everything
    # that is lost is lost for want of drivers, and each class still gets a driver
    rng = np.random.default_rng(5)
    n = 400
    addr = DEC3[rng.integers(0, DEC3.size, n)] - 16 * rng.integers(0, 4, n)
    stp = np.where(rng.random(n) < 0.5, 0, DEP5)
    rec = rng.integers(0, 2, n)
    al = alloc(addr, 2 * rng.integers(0, 10, n), 2, receptor=rec, stp=stp, chain_length=2,
               allow_multapses=True)
    assert al.drivers_assigned[0] == 2 < al.drivers_requested[0]
    assert sorted(al.driver_stp[H][al.driver_stp[H] >= 0]) == [0, DEP5]
    assert al.n_realized + al.lost_drivers == n and al.lost_drivers > 0
    assert al.realized[stp == 0].any() and al.realized[stp == DEP5].any()


def test_bad_stp_keys_are_rejected():
    with pytest.raises(ValueError, match="conn_stp"):
        alloc([63], [0], 2, stp=[18])      # 0..17 (17: rows for STDP synapses)
    with pytest.raises(ValueError, match="conn_stp"):
        alloc([63, 62], [0, 0], 2, stp=[0])


# ---------------------------------------------------------------- shared time constants
def test_share_time_constants_majority_per_block():
    tau = np.array([100., 300., 100., 300., 300., 50., 70., 20.])
    block = np.array([0, 0, 0, 1, 1, 2, 2, -1])
    plastic = np.array([1, 1, 1, 1, 1, 1, 1, 1], bool)
    sh = stp_mod.share_time_constants(tau, block, plastic)
    # block 0: 100 (2x) wins over 300; block 1 agrees; block 2: tie -> smaller (50);
    # unrealised (block -1) keeps its value
    assert list(sh.tau) == [100., 100., 100., 300., 300., 50., 50., 20.]
    assert list(sh.conflict_blocks) == [0, 2]
    assert list(sh.conflict_chosen) == [100., 50.]
    assert [list(m) for m in sh.conflict_members] == [[1], [6]]
    assert list(sh.conflict_counts[0]) == [2, 1]
    # no conflict: nothing reported
    sh = stp_mod.share_time_constants(tau[3:5], block[3:5], plastic[3:5])
    assert sh.conflict_blocks.size == 0 and list(sh.tau) == [300., 300.]


def test_fg_block_of_driver_is_the_quadrant():
    # top array: odd drivers left, even right; bottom array mirrored
    d = np.array([1, 0, 113, 112, -1])
    assert list(stp_mod.fg_block_of_driver([2, 2, 2, 2, 2], d)) == [8, 9, 11, 10, -1]


# ---------------------------------------------------------------- through the PyNN API
def _two_projections(sim, second, n_each=2, first=None, run=True, **setup):
    setup = {"defects": "none", **setup}
    sim.setup(timestep=0.1, ideal=False, clip_parameters=True, **setup)
    src = sim.Population(2 * n_each, sim.SpikeSourceArray(spike_times=[5.0, 10.0]),
                         label="src")
    tgt = sim.Population(10, sim.IF_cond_exp(), label="tgt")
    first = sim.StaticSynapse(weight=0.01) if first is None else first
    a = sim.Projection(src[:n_each], tgt, sim.AllToAllConnector(), first, label="first")
    b = sim.Projection(src[n_each:], tgt, sim.AllToAllConnector(), second, label="second")
    if run:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sim.run(20.0)
    return a, b


def test_stp_projection_needs_its_own_drivers(wafer_sim):
    # 4 sources on one L1 bus (one 2-MSB decoder) onto 10 neurons of size 4 (1 even + 1 odd
    # column): both static -> 4 half rows = 2 rows = 1 driver; static + depressing -> one
    # row each on drivers of their own -> 2 drivers
    sim = wafer_sim
    _two_projections(sim, sim.StaticSynapse(weight=0.01))
    static = sim.get_mapping_statistics()
    _two_projections(sim, sim.TsodyksMarkramSynapse(weight=0.01, U=0.3, tau_rec=100.0,
                                                    tau_facil=0.0))
    mixed = sim.get_mapping_statistics()
    assert static.synapses_lost == mixed.synapses_lost == 0
    assert static.stp_drivers == {"static": 1, "depression": 0, "facilitation": 0}
    assert mixed.stp_drivers == {"static": 1, "depression": 1, "facilitation": 0}
    assert sum(mixed.stp_drivers.values()) > sum(static.stp_drivers.values())
    res = sim.get_mapping()
    k = np.flatnonzero(res.realized)
    key = res.driver_stp[res.syn_hicann[k], res.syn_row[k] // 2]
    assert list(key) == [0] * 20 + [stp_mod.DEPRESSION + 2] * 20   # U 0.3 -> cap 2
    assert "synapse drivers: static 1, depression 1" in str(mixed)


def test_shared_tau_rec_per_block_warns_once_and_reaches_the_engine(wafer_sim):
    # 3 sources with tau_rec 100 ms and 2 with 300 ms on one bus: one driver chain, one
    # quadrant, one V_dtc -> all get 100 ms (requested by 30 of 50 synapses)
    sim = wafer_sim
    tm = sim.TsodyksMarkramSynapse
    sim.setup(timestep=0.1, ideal=False, clip_parameters=True, defects="none")
    src = sim.Population(5, sim.SpikeSourceArray(spike_times=[5.0, 10.0]), label="src")
    tgt = sim.Population(10, sim.IF_cond_exp(), label="tgt")
    a = sim.Projection(src[:3], tgt, sim.AllToAllConnector(), tm(weight=0.01, U=0.3,
                                                                tau_rec=100.0), label="fast")
    b = sim.Projection(src[3:], tgt, sim.AllToAllConnector(), tm(weight=0.01, U=0.3,
                                                                tau_rec=300.0), label="slow")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sim.run(10.0)
        sim.run(10.0)
    ours = [w for w in rec if issubclass(w.category, HardwareParameterWarning)
            and "STP time constant" in str(w.message)]
    assert len(ours) == 1
    assert "'slow'" in str(ours[0].message) and "100 ms" in str(ours[0].message)
    res = sim.get_mapping()
    blocks = stp_mod.fg_block_of_driver(res.syn_hicann, res.syn_row // 2)
    assert np.unique(blocks).size == 1
    assert set(b.get("tau_rec", format="list", with_address=False)) == {100.0}
    assert set(a.get("tau_rec", format="list", with_address=False)) == {100.0}
    # the engine got the shared value (and the 3-bit U)
    syn = simulator.state.network.syn_stp
    assert syn.shape == (50, 3) and np.all(syn[:, 1] == 100.0)
    assert np.allclose(syn[:, 0], 0.25 + 0.15 * 2 / 7)
    # setting the time constants again (no change of STP mode or U): shared again, no remap
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        b.set(tau_rec=400.0)
        a.set(tau_rec=400.0)
        sim.run(1.0)
    assert not any("mapped again" in str(w.message) for w in rec)
    assert np.all(simulator.state.network.syn_stp[:, 1] == 400.0)


def test_changing_the_3bit_U_remaps(wafer_sim):
    # U is a per-driver setting: a new cap changes the drivers' configuration (a mapping)
    sim = wafer_sim
    a, b = _two_projections(sim, sim.TsodyksMarkramSynapse(weight=0.01, U=0.3, tau_rec=100.0),
                            first=sim.TsodyksMarkramSynapse(weight=0.01, U=0.3, tau_rec=100.0))
    st = sim.get_mapping_statistics()
    assert st.stp_drivers == {"static": 0, "depression": 1, "facilitation": 0}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        b.set(U=0.4)
        sim.run(1.0)
    assert any("mapped again" in str(w.message) for w in rec)
    st = sim.get_mapping_statistics()
    assert st.stp_drivers == {"static": 0, "depression": 2, "facilitation": 0}
    assert np.allclose(simulator.state.network.syn_stp[:, 0], [0.25 + 0.15 * 2 / 7] * 20
                       + [0.4] * 20)
    assert set(b.get("U", format="list", with_address=False)) == {0.4}


def test_fingerprint_depends_on_the_stp_mode():
    def graph(stp_key=None):
        return BioGraph(size=np.array([2, 2]), is_source=np.array([True, False]),
                        neuron_size=np.array([0, 4]), manual_hicanns=[None, None],
                        label=["a", "b"], rate=np.zeros(4), pre=np.array([0, 1]),
                        post=np.array([2, 3]), receptor=np.array([0, 0]),
                        projection=np.array([0, 0]), stp_key=stp_key)
    static = fingerprint(graph())
    assert fingerprint(graph(np.array([0, 0]))) == static      # all-static: as before
    dep = fingerprint(graph(np.array([0, DEP3])))
    fac = fingerprint(graph(np.array([0, FAC2])))
    dep5 = fingerprint(graph(np.array([0, DEP5])))
    assert len({static, dep, fac, dep5}) == 4


def test_save_and_load_keep_driver_stp(wafer_sim, tmp_path):
    sim = wafer_sim
    _two_projections(sim, sim.TsodyksMarkramSynapse(weight=0.01, U=0.3, tau_rec=100.0))
    path = tmp_path / "m.npz"
    sim.save_mapping(str(path))
    res = MappingResult.load(str(path))
    assert np.array_equal(res.driver_stp, sim.get_mapping().driver_stp)
    assert res.statistics.stp_drivers == {"static": 1, "depression": 1, "facilitation": 0}
    # a file written before driver_stp existed still loads
    with np.load(path) as f:
        data = {k: f[k] for k in f.files if k != "driver_stp"}
    old = tmp_path / "old.npz"
    np.savez_compressed(old, **data)
    assert MappingResult.load(str(old)).driver_stp is None
    # reusing the file for the same network (same STP keys) works; the realised STP too
    _two_projections(sim, sim.TsodyksMarkramSynapse(weight=0.01, U=0.3, tau_rec=100.0),
                     mapping_file=str(path))
    assert np.all(simulator.state.network.syn_stp[20:, 1] == 100.0)
    assert wafer.N_SYNAPSE_DRIVERS == res.driver_stp.shape[1]


def test_input_placement_accounts_for_stp_drivers(wafer_sim):
    # 10 static + 10 depressing sources onto 10 neurons of size 4: 5 + 5 rows -> 3 + 3
    # drivers if all 20 share one bus (chain length 3: too many), 5 drivers if static
    sim = wafer_sim
    _two_projections(sim, sim.TsodyksMarkramSynapse(weight=0.01, U=0.3, tau_rec=100.0),
                     n_each=10, continue_despite_synapse_loss=True)
    assert sim.get_mapping_statistics().synapses_lost == 0
