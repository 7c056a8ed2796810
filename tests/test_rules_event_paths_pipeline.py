"""Exact references for three hardware-rule modules, all by hand, through their public
functions: the stimulus/recording FIFOs (``engine.event_loss.InputBandwidth``), the membrane
readout through the ADC and the analog-output limit (``hardware.readout``) and the mapper's
pipeline (``mapping.pipeline``: statistics, routed delays, stage bookkeeping, saved mappings).

Every expected value is derived in the comment next to it; none is computed by the code under
test.  Hardware constants are written as literals with their source (brainscales1.md).
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from pyNN_bss_emu.engine.event_loss import InputBandwidth
from pyNN_bss_emu.hardware.defects import DefectMap
from pyNN_bss_emu.hardware.readout import (check_analog_outputs, read_membrane,
                                           readout_offsets_mV_hw)
from pyNN_bss_emu.mapping import pipeline
from pyNN_bss_emu.mapping.options import MergerRoutingOptions
from pyNN_bss_emu.mapping.pipeline import (MappingOptions, MappingResult, MappingStatistics,
                                           ProjectionLoss, SynapseLossError, map_network)
from pyNN_bss_emu.mapping.types import BioGraph


# ====================================================================== event-path FIFOs
def _bandwidth():
    """Five nodes, each limited by a different set of FIFOs:
    node 0: FPGA 0 only; node 1: link 0 only; node 2: unlimited; node 3: link 1 only;
    node 4: FPGA 1 only.  FPGA: one event per 1.0 ms, link: one per 2.0 ms, both 1 entry
    deep, so an event is kept while it waits at most 1.0 ms (FPGA) or 2.0 ms (link)."""
    return InputBandwidth(node_fpga=np.array([0, -1, -1, -1, 1]),
                          node_link=np.array([-1, 0, -1, 1, -1]),
                          fpga_spacing=1.0, link_spacing=2.0, depth=1)


def _queues_empty(bw: InputBandwidth) -> bool:
    """Every FPGA (0, 1) and link (0, 1) a node uses has no previous release."""
    return bool(np.all(bw.fpga_last[[0, 1]] == -np.inf)
                and np.all(bw.link_last[[0, 1]] == -np.inf))


def test_fifo_keeps_releases_and_counts_per_channel_across_windows():
    """The queues by hand (event rule: start = max(t, previous release + spacing), dropped if
    start - t > depth * spacing).  Window 1, events given out of time order (index: t, node):

        0: 1.0 n1   1: 0.0 n0   2: 0.5 n3   3: 0.0 n0   4: 0.2 n2   5: 0.0 n0   6: 0.5 n1
        7: 0.0 n1

    Served in time order, ties in the given order: 1, 3, 5, 7 (t 0.0), 4, 2, 6, 0.
    FPGA 0 (node 0): #1 leaves at 0.0; #3 at max(0, 0 + 1) = 1.0 (waits 1.0 <= 1: kept);
    #5 would leave at 2.0 (waits 2.0 > 1): dropped before the wafer.
    Link 0 (node 1): #7 leaves at 0.0; #6 at max(0.5, 0 + 2) = 2.0 (waits 1.5 <= 2);
    #0 would leave at max(1.0, 4.0) = 4.0 (waits 3.0 > 2): dropped.
    Link 1 (node 3): #2 leaves at its time 0.5 -- the event #5 dropped at the FPGA never
    reaches any link FIFO (were it queued on link 1, #2 would leave at 2.0).
    Node 2 is unlimited: #4 leaves at 0.2 and is not counted as sent.
    Sent (kept and limited by some FIFO): #1, #3, #2, #6, #7 = 5 (node 0 counts though only
    its FPGA limits it, FPGA number 0 included; node 1 and 3 though only a link limits them);
    dropped: #5, #0 = 2."""
    bw = _bandwidth()
    assert _queues_empty(bw)
    t = np.array([1.0, 0.0, 0.5, 0.0, 0.2, 0.0, 0.5, 0.0])
    n = np.array([1, 0, 3, 0, 2, 0, 1, 1])
    keep, rel = bw.apply(t, n)
    assert keep.tolist() == [False, True, True, True, True, False, True, True]
    np.testing.assert_allclose(rel[keep], [0.0, 0.5, 1.0, 0.2, 2.0, 0.0], rtol=0, atol=1e-12)
    assert (bw.sent, bw.dropped) == (5, 2)

    # Window 2 continues the queues: FPGA 0 last released at 1.0, link 0 at 2.0.
    # node 0 at 1.5: leaves at max(1.5, 1.0 + 1) = 2.0 (waits 0.5: kept; 1.5 if the queue
    # had been forgotten); node 1 at 2.5: max(2.5, 2.0 + 2) = 4.0 (waits 1.5: kept); node 1
    # at 2.5 again: would leave at 6.0 (waits 3.5 > 2): dropped.  The counters add up over
    # the windows: sent 5 + 2 = 7, dropped 2 + 1 = 3.
    keep, rel = bw.apply(np.array([1.5, 2.5, 2.5]), np.array([0, 1, 1]))
    assert keep.tolist() == [True, True, False]
    np.testing.assert_allclose(rel[:2], [2.0, 4.0], rtol=0, atol=1e-12)
    assert (bw.sent, bw.dropped) == (7, 3)

    # rewind() forgets the queues: node 0 at 1.5 leaves at once
    assert not _queues_empty(bw)
    bw.rewind()
    assert _queues_empty(bw)
    keep, rel = bw.apply(np.array([1.5]), np.array([0]))
    assert keep.tolist() == [True] and rel.tolist() == [1.5]


def test_fifo_without_nodes_or_events():
    """A network without any node (no placed cell) still gets its FIFOs: nothing to send,
    nothing sent or dropped."""
    bw = InputBandwidth(node_fpga=np.zeros(0, dtype=np.int64),
                        node_link=np.zeros(0, dtype=np.int64),
                        fpga_spacing=0.08, link_spacing=0.5618)
    keep, rel = bw.apply(np.zeros(0), np.zeros(0, dtype=np.int64))
    assert keep.size == 0 and rel.size == 0
    assert (bw.sent, bw.dropped) == (0, 0)


# ====================================================================== membrane readout
class _PlusOneSigma:
    """A deterministic stand-in for the readout-noise generator: every sample is
    ``loc + scale`` (one standard deviation above the mean)."""

    def normal(self, loc, scale, size):
        return np.full(size, loc + scale)


def test_read_membrane_by_hand():
    """brainscales1.md section 9 (hardware/readout.py): V_hw = alpha V_bio 1e-3 + shift
    + offset, defaults alpha 10, shift 1.2 V; noise 5 mV hw (here exactly +1 sigma = +5 mV);
    12-bit ADC over 0..1.8 V, LSB = 1.8 / 4096 V; back to bio mV: (V_hw - 1.2) / 0.01.

    * -65 mV, offset 0: 0.01 * -65 + 1.2 + 0.005 = 0.555 V = 1262.93 LSB -> code 1263
      -> (1263 * 1.8 / 4096 - 1.2) / 0.01 = -64.4970703125 mV
    * -65 mV, offset +3 mV hw: 0.558 V = 1269.76 LSB -> 1270 -> -64.189453125 mV
    * +100 mV: 2.205 V, above the range -> top code 4095 -> 59.9560546875 mV
    * -200 mV: -0.795 V, below the range -> code 0 -> (0 - 1.2) / 0.01 = -120 mV
    * NaN (not recorded) stays NaN."""
    v = np.array([[-65.0, -65.0, 100.0],
                  [-200.0, np.nan, -65.0]])
    offset = np.array([[0.0, 3.0, 0.0]])
    got = read_membrane(v, offset, _PlusOneSigma())
    code = np.array([[1263, 1270, 4095], [0, 0, 1263]])
    expected = (code * 1.8 / 4096 - 1.2) / 0.01
    expected[1, 1] = np.nan
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(expected[0], [-64.4970703125, -64.189453125, 59.9560546875],
                               rtol=0, atol=1e-12)
    # other scales: alpha 5, shift 1.0 V: -65 mV -> -0.325 + 1.0 + 0.005 = 0.68 V
    # = 1547.38 LSB -> 1547 -> (1547 * 1.8 / 4096 - 1.0) / 0.005 = -64.0332031250 mV
    got = read_membrane(np.array([[-65.0]]), np.zeros((1, 1)), _PlusOneSigma(),
                        alpha=5.0, shift_V=1.0)
    np.testing.assert_allclose(got, [[-64.033203125]], rtol=0, atol=1e-9)


def test_readout_offsets_for_no_neuron_and_the_last_denmem():
    """Offsets are looked up by ``hicann * 512 + denmem``: no neuron recorded gives no offset;
    the last denmem of the wafer (383 * 512 + 511 = 196607) has one, one past it does not."""
    assert readout_offsets_mV_hw(1, []).shape == (0,)
    assert readout_offsets_mV_hw(1, [196607]).shape == (1,)
    with pytest.raises(IndexError):
        readout_offsets_mV_hw(1, [196608])


def test_analog_outputs_two_per_reticle():
    """brainscales1.md section 2: 2 analog outputs per HICANN, shared by the reticle's 8
    HICANNs: 2 recorded membranes on a reticle are fine, 3 are not.  The message names the
    count and reticle of the first reticle over the limit, the limit and how many reticles
    are over it."""
    check_analog_outputs([])                           # nothing recorded
    check_analog_outputs([5, 5, 47, 47, 0])            # exactly 2 on reticles 5 and 47
    with pytest.raises(ValueError) as exc:
        check_analog_outputs([47, 3, 47, 3, 3, 47, 47, 0])   # reticle 3: 3, reticle 47: 4
    assert str(exc.value) == (
        "3 membranes are recorded on reticle 3, but a reticle has only 2 analog outputs "
        "(2 reticle(s) over the limit); record fewer neurons, place them on other reticles, "
        "or setup(analog_recording_limit=False)")


# ====================================================================== mapping pipeline
#: the mapper's stages in marocco's order, as timed and reported to ``progress``
STAGES = ("merger_routing", "address_assignment", "input_placement", "l1_routing",
          "synapse_routing")
#: routed delay (brainscales1.md section 8): 0.0397 ms per HICANN on the route + 0.6444 ms
DELAY_PER_HICANN_MS, DELAY_OFFSET_MS = 0.0397, 0.6444
#: one-to-one merger routing (block b -> DNC merger b), every other option at its default
ONE_TO_ONE = MappingOptions(merger_routing=MergerRoutingOptions("one_to_one"))


def _graph(pre=(0, 0, 0, 1, 1, 1), post=(2, 3, 4, 2, 3, 4), stp_key=None):
    """2 spike sources forced onto HICANN 0 = (12, 0) and 3 neurons of 4 denmems forced onto
    HICANN 1 = (13, 0), its east neighbour (brainscales1.md 1.2: the enum runs row by row
    from (12, 0)); by default all 6 source -> neuron connections, one projection without a
    label."""
    n = len(pre)
    return BioGraph(size=np.array([2, 3]), is_source=np.array([True, False]),
                    neuron_size=np.array([0, 4]), manual_hicanns=[(0,), (1,)],
                    label=["src", "pop"], rate=np.full(5, 10.0),
                    pre=np.array(pre, dtype=np.int64), post=np.array(post, dtype=np.int64),
                    receptor=np.zeros(n, dtype=np.int64),
                    projection=np.zeros(n, dtype=np.int64), stp_key=stp_key)


def _no_vlines_on(hicann: int) -> DefectMap:
    """A defect-free wafer except that every vertical L1 bus of ``hicann`` is defective."""
    ok = DefectMap.none()
    vline_ok = np.array(ok.vline_ok)
    vline_ok[hicann, :] = False
    return DefectMap(np.array(ok.hicann_ok), np.array(ok.denmem_ok), np.array(ok.driver_ok),
                     np.array(ok.hline_ok), vline_ok)


def test_map_network_by_hand():
    """One-to-one merger routing: the neurons of block 0 send through DNC merger 0
    (mapping/merger_routing.py: "block b -> DNC merger b").  The sources' DNC merger on
    HICANN 0 is the one route source; its route runs (12, 0) -> (13, 0): 2 HICANNs, so every
    connection is delayed by 2 * 0.0397 + 0.6444 = 0.7238 ms.  HICANNs used: 0 (sources
    only) and 1 (neurons) = 2.  The projection has no label: it is reported as "0".
    Progress: placement then the 5 stages of the one merger strategy, 6 in all."""
    seen = []
    res = map_network(_graph(), ONE_TO_ONE, DefectMap.none(),
                      progress=lambda *a: seen.append(a))
    names = ("neuron_placement",) + STAGES
    assert seen == [(name, k + 1, 6) for k, name in enumerate(names)]
    st = res.statistics
    assert set(st.timings) == set(names) | {"total"}
    assert (st.synapses_requested, st.synapses_realized, st.synapses_lost) == (6, 6, 0)
    assert (st.neurons_placed, st.sources_placed, st.hicanns_used) == (3, 2, 2)
    assert (st.l1_routes, st.l1_routes_failed) == (1, 0)
    assert st.per_projection == [ProjectionLoss("0", 6, 6, 0)]
    assert res.realized.tolist() == [True] * 6
    np.testing.assert_allclose(res.delay_ms, 2 * DELAY_PER_HICANN_MS + DELAY_OFFSET_MS,
                               rtol=0, atol=1e-12)
    assert res.cell_hicann().tolist() == [0, 0, 1, 1, 1]
    assert res.cell_merger()[2:].tolist() == [0, 0, 0]
    assert np.array_equal(res.cell_merger()[:2], res.sources.dnc_merger[:2])
    assert np.all(res.cell_merger()[:2] >= 0)


def test_routes_without_vertical_buses_lose_every_synapse():
    """A route reaches a HICANN's synapse drivers only from its vertical buses (synapse
    switches, brainscales1.md section 2); with all 256 of HICANN 1 defective the one route
    fails and its 6 synapses are lost on L1.  The error names the loss per cause and the
    way out; its statistics are the mapping's.  With the loss allowed, no connection is
    realised and none has a delay.  Default ("auto") merger routing tries 2 strategies:
    1 + 2 * 5 = 11 stages."""
    seen = []
    with pytest.raises(SynapseLossError) as exc:
        map_network(_graph(), MappingOptions(), _no_vlines_on(1),
                    progress=lambda *a: seen.append(a))
    assert [s[1:] for s in seen] == [(k, 11) for k in range(1, 12)]
    assert [s[0] for s in seen] == ["neuron_placement"] + 2 * list(STAGES)
    st = exc.value.statistics
    assert (st.synapses_lost, st.synapses_lost_l1, st.l1_routes, st.l1_routes_failed) == \
        (6, 6, 1, 1)
    assert str(exc.value) == (
        "the mapping lost 6 of 6 synapses (100.00 %): 6 on failed L1 routes, 0 for want of "
        "synapse drivers, 0 for want of synapse slots, 0 multapses (repeats of a neuron pair "
        "within one projection with multapses='per_projection'). Use "
        "setup(continue_despite_synapse_loss=True) to run anyway (lost "
        "synapses transmit nothing), a larger neuron_size, a longer driver_chain_length, or "
        "fewer connections.\n" + str(st))

    res = map_network(_graph(), MappingOptions(continue_despite_synapse_loss=True),
                      _no_vlines_on(1))
    assert res.realized.tolist() == [False] * 6
    assert np.all(np.isnan(res.delay_ms))
    assert res.statistics.per_projection == [ProjectionLoss("0", 6, 0, 6)]


def test_network_without_connections():
    """No connection: nothing requested, no projection to report, loss 0 (not 0 / 0); the
    unconnected sources are not placed, so only the neurons' HICANN is used."""
    res = map_network(_graph(pre=(), post=()), ONE_TO_ONE, DefectMap.none())
    st = res.statistics
    assert st.per_projection == []
    assert (st.synapses_requested, st.synapse_loss, st.l1_routes) == (0, 0.0, 0)
    assert (st.neurons_placed, st.sources_placed, st.hicanns_used) == (3, 0, 1)
    assert res.delay_ms.size == 0


def test_synapse_accounting_is_checked(monkeypatch):
    """map_network checks that the loss per cause adds up to the loss before it returns: a
    synapse stage that reports one synapse lost for want of drivers although all 6 were
    realised is caught."""
    real = pipeline.synapses.allocate_synapses

    def one_too_many(*args, **kwargs):
        alloc = real(*args, **kwargs)
        alloc.lost_drivers += 1
        return alloc

    monkeypatch.setattr(pipeline.synapses, "allocate_synapses", one_too_many)
    with pytest.raises(AssertionError, match="synapse accounting does not add up"):
        map_network(_graph(), ONE_TO_ONE, DefectMap.none())


def test_statistics_text():
    """The summary as printed, numbers by hand: 2 of 8 lost = 25.00 %; projection "a" the
    same; times with 3 decimals; the synapse-driver and weight lines only when present.
    Nothing requested: the loss is 0, not 0 / 0."""
    st = MappingStatistics(
        synapses_requested=8, synapses_realized=6, synapses_lost=2, synapses_lost_l1=1,
        synapses_lost_drivers=1, synapses_lost_synapse_array=0, synapses_lost_multapse=0,
        neurons_placed=3, sources_placed=2, hicanns_used=2, l1_routes=4, l1_routes_failed=1,
        per_projection=[ProjectionLoss("a", 8, 6, 2)],
        timings={"l1_routing": 0.25, "total": 1.5}, weights={"clipped": 1, "disabled": 2},
        stp_drivers={"static": 2, "depression": 1})
    assert str(st) == "\n".join([
        "MappingStatistics: synapse loss 2 of 8 (25.00 %; 1 after L1 routing, 1 for want of "
        "synapse drivers, 0 for want of synapse slots, 0 multapses)",
        "  neurons placed 3, spike sources placed 2, HICANNs used 2, L1 routes 4 (1 failed)",
        "  synapse drivers: static 2, depression 1",
        "  projection a: 2 of 8 lost (25.00 %)",
        "  timings (s): l1_routing 0.250, total 1.500",
        "  4-bit weights: clipped 1, disabled 2"])
    empty = MappingStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert empty.synapse_loss == 0.0 and ProjectionLoss("b", 0, 0, 0).loss == 0.0
    assert str(empty).splitlines()[-1] == "  timings (s): "


def _reference_fingerprint(graph: BioGraph) -> str:
    """The fingerprint stored in saved mappings, as documented in ``pipeline.fingerprint``:
    SHA-256 over the int64 bytes of sizes, kinds, neuron sizes, pre, post, receptor and
    projection, each followed by b"|"; then, only if some connection has STP, b"stp", the
    keys' int64 bytes and b"|"; then repr() of the placement requests; first 32 hex
    digits."""
    h = hashlib.sha256()
    for arr in (graph.size, graph.is_source, graph.neuron_size, graph.pre, graph.post,
                graph.receptor, graph.projection):
        h.update(np.asarray(arr, dtype=np.int64).tobytes() + b"|")
    if np.any(graph.stp_key):
        h.update(b"stp" + np.asarray(graph.stp_key, dtype=np.int64).tobytes() + b"|")
    h.update(repr(graph.manual_hicanns).encode())
    return h.hexdigest()[:32]


def test_saved_mappings_fingerprint_and_no_pickles(tmp_path):
    """Saved mappings stay valid across versions: the fingerprint keeps its format (static
    networks as before STP existed; STP keys 1 = depression with U cap 0, 9 = facilitation
    with cap 0, mapping/stp.py).  A mapping file holding a Python object (which would need
    pickle, i.e. could run code) is refused."""
    assert pipeline.fingerprint(_graph()) == _reference_fingerprint(_graph())
    stp = _graph(stp_key=np.array([0, 1, 9, 0, 1, 9]))
    assert pipeline.fingerprint(stp) == _reference_fingerprint(stp)

    res = map_network(_graph(), ONE_TO_ONE, DefectMap.none())
    path = tmp_path / "mapping.npz"
    res.save(str(path))
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    data["note"] = np.array([{"not": "an array"}], dtype=object)
    np.savez_compressed(tmp_path / "pickled.npz", **data)
    with pytest.raises(ValueError, match="allow_pickle"):
        MappingResult.load(str(tmp_path / "pickled.npz"))
    assert MappingResult.load(str(path)).fingerprint == _reference_fingerprint(_graph())
