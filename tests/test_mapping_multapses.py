"""Multapses realised where the hardware can (issue 14, item 3).

A multapse is a connection that repeats a (source, target neuron, receptor, STP) pair.  On
BrainScaleS-1 every synapse decodes the 4 low bits of the source's 6-bit L1 address, and the
driver decodes the 2 high bits per half row (brainscales1.md 4.3, 5), so several synapses of
the *same* source can sit in different columns of the target neuron: a neuron of size ``s``
owns ``s / 2`` columns, ``s / 4`` of each parity in every row of its array (3.2), and a route
gets up to ``driver_chain_length`` drivers of 2 rows each (4.2, 14.9).  Every expected number
below is derived by hand in the comment next to it from these rules:

* a half row serves one 2-MSB decoder and one column parity; a synapse of decoder ``d`` onto a
  neuron with ``n_p`` columns of parity ``p`` needs ``ceil(count / n_p)`` half rows (14.8);
  when both parities need as many, they are shared out half and half (even first);
* rows = max over parities of the half rows, drivers = ceil(rows / 2) <= chain length 3;
* a route that gets fewer drivers keeps the half rows in proportion (14.10).

marocco's rule (``multapses="per_projection"``): its per-projection weight matrix holds one
synapse per (pre, post) pair, so a repeat within a projection is lost and a repeat in another
projection is an ordinary synapse.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from pyNN_bss_emu.hardware.defects import DefectMap
from pyNN_bss_emu.mapping.merger_routing import DriverDemand
from pyNN_bss_emu.mapping.options import MappingOptions, SynapseRoutingOptions
from pyNN_bss_emu.mapping.pipeline import map_network
from pyNN_bss_emu.mapping.synapses import allocate_synapses
from pyNN_bss_emu.mapping.types import BioGraph, NeuronPlacement

H = 5                       # target HICANN of the direct allocation tests
ADDRESS = 63                # 2-MSB decoder 3, synapse decoder 15 (section 5)


def _allocate(n: int, width: int, chain: int = 3, projection=None, allow: bool = True):
    """``n`` connections of one source (address 63) onto one neuron of ``width`` columns
    starting at column 0, all on one route (V-bus 5, left drivers) into HICANN ``H``."""
    return allocate_synapses(
        np.zeros(n, int), np.full(n, ADDRESS), np.full(n, H), np.zeros(n, int),
        np.full(n, width), np.zeros(n, int), np.array([H]), np.array([5]), np.array([0]),
        np.array([True]), chain_length=chain, allow_multapses=allow,
        conn_projection=None if projection is None else np.asarray(projection))


def _counts(al) -> tuple:
    return (al.n_realized, al.lost_drivers, al.lost_synapse_array, al.lost_multapse)


# ====================================================================== synapse allocation
def test_size_2_needs_a_row_per_multapse_and_runs_out_of_drivers():
    # size 2 = 1 column (even, x0 = 0): 8 synapses of decoder 3 -> 8 even half rows = 8 rows
    # -> 4 drivers > chain 3 -> 3 drivers = 6 rows -> 6 realised, 2 lost for want of drivers
    al = _allocate(8, width=1)
    assert al.drivers_requested.tolist() == [4] and al.drivers_assigned.tolist() == [3]
    assert _counts(al) == (6, 2, 0, 0)
    # the 6 realised ones: 6 different rows of the route, all in the neuron's column 0
    rows = al.row[al.realized]
    assert np.unique(rows).size == 6 and set(al.column[al.realized]) == {0}
    assert set(al.synapse_decoder[al.realized]) == {ADDRESS & 15}


def test_size_8_holds_eight_multapses_in_one_driver():
    # size 8 = 4 columns, 2 even + 2 odd: 8 synapses -> ceil(8/2) = 4 half rows of either
    # parity -> 2 even + 2 odd -> 2 rows -> 1 driver; slots 2 x 2 + 2 x 2 = 8: all realised
    al = _allocate(8, width=4)
    assert al.drivers_requested.tolist() == [1]
    assert _counts(al) == (8, 0, 0, 0)
    # two synapses per row, in different columns: no slot is used twice
    slots = set(zip(al.row.tolist(), al.column.tolist()))
    assert len(slots) == 8 and {c for _, c in slots} == {0, 1, 2, 3}
    assert len({r for r, _ in slots}) == 2


def test_slot_exhaustion_loses_the_rest_for_want_of_drivers():
    # size 8, 30 synapses: 15 half rows either parity -> 8 even + 7 odd -> 8 rows -> 4 drivers
    # > 3 -> 6 rows: 6 even + 6 odd half rows x 2 columns = 24 realised, 6 lost (drivers)
    al = _allocate(30, width=4)
    assert al.drivers_requested.tolist() == [4] and al.drivers_assigned.tolist() == [3]
    assert _counts(al) == (24, 6, 0, 0)
    # chain length 1, 10 synapses: 5 + 5 half rows -> 3 + 2 -> 3 rows -> 2 drivers > 1 ->
    # 2 rows: 2 even + 2 odd half rows x 2 columns = 8 realised, 2 lost
    al = _allocate(10, width=4, chain=1)
    assert _counts(al) == (8, 2, 0, 0)


def test_marocco_keeps_one_synapse_per_pair_and_projection():
    # 8 repeats of one pair in projections 0, 0, 0, 1, 1, 2, 2, 2: one synapse per projection
    # -> 3 realised, 5 lost as multapses; without projections (one route) only 1 is kept
    al = _allocate(8, width=4, projection=[0, 0, 0, 1, 1, 2, 2, 2], allow=False)
    assert _counts(al) == (3, 0, 0, 5)
    assert al.realized.tolist() == [True, False, False, True, False, True, False, False]
    al = _allocate(8, width=4, allow=False)
    assert _counts(al) == (1, 0, 0, 7)
    # the driver requirement counts what is kept: 3 synapses on 2 + 2 columns -> 1 driver
    assert al.synapses_requested.tolist() == [1]


# ====================================================================== merger-routing estimate
def _one_pair(n: int, size: int, projection=None) -> tuple[BioGraph, NeuronPlacement]:
    """A source (cell 1) connected ``n`` times to a neuron (cell 0) of ``size`` denmems on
    HICANN 5, columns from 0."""
    g = BioGraph(size=np.array([1, 1]), is_source=np.array([False, True]),
                 neuron_size=np.array([size, 0]), manual_hicanns=[None, None],
                 label=["n", "s"], rate=np.zeros(2), pre=np.ones(n, np.int64),
                 post=np.zeros(n, np.int64), receptor=np.zeros(n, np.int64),
                 projection=np.zeros(n, np.int64) if projection is None
                 else np.asarray(projection, np.int64))
    pl = NeuronPlacement(hicann=np.array([H, -1]), block=np.array([0, -1]),
                         x0=np.array([0, -1]), width=np.array([size // 2, -1]))
    return g, pl


@pytest.mark.parametrize("size,n,realise,per_projection", [
    (2, 7, 4, 1),      # 7 rows -> 4 drivers; kept 1 -> 1 row -> 1 driver
    (8, 7, 1, 1),      # ceil(7/2) = 4 half rows either parity -> 2 + 2 -> 2 rows -> 1
    (8, 12, 2, 1),     # 6 -> 3 + 3 -> 3 rows -> 2 drivers
])
def test_driver_estimate_counts_multapses_as_the_synapse_stage(size, n, realise,
                                                               per_projection):
    g, pl = _one_pair(n, size)
    cells, addr, cand = np.array([1]), np.array([ADDRESS]), np.zeros(1, np.int64)
    assert DriverDemand(g, pl, "realise").max_drivers(cells, addr, cand, 1).tolist() == \
        [realise]
    assert DriverDemand(g, pl, "per_projection").max_drivers(cells, addr, cand, 1).tolist() \
        == [per_projection]
    # and the synapse stage asks for exactly as many
    al = _allocate(n, width=size // 2)
    assert al.drivers_requested.tolist() == [realise]


def test_unknown_multapse_mode_names_the_allowed_ones():
    g, pl = _one_pair(2, 4)
    with pytest.raises(ValueError, match=r"multapses='both'.*'realise', 'per_projection'"):
        DriverDemand(g, pl, "both")
    opts = MappingOptions(synapse_routing=SynapseRoutingOptions(multapses="both"),
                          continue_despite_synapse_loss=True)
    with pytest.raises(ValueError, match=r"synapse_routing.multapses='both'"):
        map_network(g, opts, DefectMap.none())


# ====================================================================== the whole mapping
def _map(n: int, size: int, projection, multapses: str):
    g, _ = _one_pair(n, size, projection)
    opts = MappingOptions(synapse_routing=SynapseRoutingOptions(multapses=multapses),
                          continue_despite_synapse_loss=True)
    return map_network(g, opts, DefectMap.none()).statistics


@pytest.mark.parametrize("size,realised", [(2, 6), (8, 7)])
def test_mapping_realises_multapses_within_a_projection(size, realised):
    # 7 repeats in one projection; size 2: 7 rows -> 4 drivers > 3 -> 6 rows -> 6 realised,
    # 1 lost for want of drivers; size 8: 1 driver holds all 7
    s = _map(7, size, None, "realise")
    assert (s.synapses_realized, s.synapses_lost_drivers, s.synapses_lost_multapse) == \
        (realised, 7 - realised, 0)
    s = _map(7, size, None, "per_projection")      # marocco: one per projection
    assert (s.synapses_realized, s.synapses_lost_multapse) == (1, 6)


def test_split_projections_are_realised_by_both_rules():
    # the 2022 microcircuit demo's split: every repeat in a projection of its own
    for mode in ("realise", "per_projection"):
        s = _map(6, 8, np.arange(6), mode)
        assert (s.synapses_realized, s.synapses_lost) == (6, 0)


# ====================================================================== the engine gets them all
CELL = dict(v_rest=-65.0, v_reset=-70.0, v_thresh=-40.0, tau_m=10.0, cm=0.25,
            tau_refrac=2.0, tau_syn_E=5.0, e_rev_E=0.0)


def _psp(sim, n_conn: int, split: bool, **setup) -> tuple[float, np.ndarray, object]:
    """Peak depolarisation (mV) of one neuron after one input spike through ``n_conn``
    connections of the same pair (one projection, or one projection each), the realised
    weights and the mapping statistics."""
    sim.setup(timestep=0.1, defects="none", clip_parameters=True, calibration="ideal",
              continue_despite_synapse_loss=True, **setup)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[20.0]))
    pop = sim.Population(1, sim.IF_cond_exp(**CELL))
    pop.record("v")
    conn = [(0, 0, 0.01, 1.0)]
    prjs = [sim.Projection(src, pop, sim.FromListConnector(conn), sim.StaticSynapse())
            for _ in range(n_conn)] if split else \
        [sim.Projection(src, pop, sim.FromListConnector(conn * n_conn), sim.StaticSynapse())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(60.0)
    v = pop.get_data().segments[0].filter(name="v")[0].magnitude[:, 0]
    w = np.concatenate([np.asarray(p.get("weight", format="list", with_address=False),
                                   dtype=float).ravel() for p in prjs])
    stats = sim.get_mapping_statistics()
    return float(v[300:].max() - v[150:195].mean()), w, stats


def test_two_identical_synapses_give_about_twice_the_response(wafer_sim):
    sim = wafer_sim
    one, w1, _ = _psp(sim, 1, split=False)
    two, w2, stats = _psp(sim, 2, split=False)
    # both connections are synapses of their own: both realised, both reach the engine
    assert stats.synapses_realized == 2 and not np.any(np.isnan(w2))
    assert w2[0] == w1[0]                 # the first synapse is the same one
    # each synapse has its own fixed-pattern factor (20 % spread, section 11.3), so the
    # second response is about, not exactly, twice the first
    assert one > 1.0
    assert 1.6 < two / one < 2.5
    # marocco's rule drops the repeat within the projection: exactly the single response
    lone, w3, stats = _psp(sim, 2, split=False, multapses="per_projection")
    assert stats.synapses_lost_multapse == 1 and np.isnan(w3[1])
    assert lone == one
    # ... and realises it in a projection of its own: exactly the double response
    split, w4, stats = _psp(sim, 2, split=True, multapses="per_projection")
    assert stats.synapses_lost == 0 and split == two
    np.testing.assert_array_equal(w4, w2)


def test_setup_rejects_an_unknown_multapse_rule(wafer_sim):
    with pytest.raises(ValueError, match=r"multapses='all'.*'realise', 'per_projection'"):
        wafer_sim.setup(multapses="all")
