"""A network run by tests/test_distributed.py under ``mpiexec -n N`` (and in one process):
prints one JSON line at rank 0 with a digest of every recorded spike and trace.

    python tests/mpi/distributed_network.py [--wafer] [--stp]
    python tests/mpi/distributed_network.py --two-wafers [--three-wafers | --split]
"""
from __future__ import annotations

import hashlib
import json
import sys
import warnings

import numpy as np


def build_and_run(sim, wafer: bool, stp: bool, serial_windows: bool = False) -> dict:
    kw = dict(timestep=0.1, min_delay=0.5, max_delay=30.0, stimulus_seed=11)
    if wafer:
        kw.update(ideal=False, wafer_seed=3, continue_despite_synapse_loss=True)
    else:
        kw.update(ideal=True)
    rank = sim.setup(**kw)
    if serial_windows:   # the windowed path in one process (no MPI)
        from pyNN_bss_emu.engine.distributed import SerialExchange
        sim.get_backend().network.set_partition(SerialExchange())
    rng = sim.NumpyRNG(seed=5, parallel_safe=True)
    exc = sim.Population(120, sim.IF_cond_exp(tau_m=15.0, v_thresh=-52.0), label="exc")
    inh = sim.Population(37, sim.IF_cond_exp(tau_m=10.0, v_thresh=-52.0), label="inh")
    if not wafer:   # an AdEx population takes the general (non-vectorised) update path
        adex = sim.Population(9, sim.EIF_cond_exp_isfa_ista(a=2.0, b=0.05), label="adex")
    noise = sim.Population(30, sim.SpikeSourcePoisson(rate=40.0), label="noise")
    stim = sim.Population(2, sim.SpikeSourceArray(spike_times=[3.0, 40.0, 41.0]), label="stim")
    v0 = sim.RandomDistribution("uniform", low=-65.0, high=-55.0, rng=rng)
    exc.initialize(v=v0)
    exc.set(tau_m=np.linspace(14.0, 16.0, exc.size))    # heterogeneous: get() must gather
    inh.initialize(v=v0)
    conn = sim.FixedProbabilityConnector(0.1, rng=rng)
    syn_e = sim.TsodyksMarkramSynapse(U=0.4, tau_rec=80.0, tau_facil=0.0, weight=0.004,
                                      delay=1.0) if stp else \
        sim.StaticSynapse(weight=0.004, delay=1.0)
    e2e = sim.Projection(exc, exc, conn, syn_e, receptor_type="excitatory")
    sim.Projection(exc, inh, conn, sim.StaticSynapse(weight=0.004, delay=0.8),
                   receptor_type="excitatory")
    sim.Projection(inh, exc, conn, sim.StaticSynapse(weight=0.01, delay=0.5),
                   receptor_type="inhibitory")
    # a delay beyond the ring buffer's horizon in ideal mode: the far queue
    sim.Projection(inh, inh, conn, sim.StaticSynapse(weight=0.005,
                                                     delay=25.0 if not wafer else 1.0),
                   receptor_type="inhibitory")
    sim.Projection(noise, exc, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.006, delay=0.5), receptor_type="excitatory")
    sim.Projection(noise, inh, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.006, delay=0.5), receptor_type="excitatory")
    sim.Projection(stim, exc, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01, delay=0.5),
                   receptor_type="excitatory")
    pops = [exc, inh]
    if not wafer:
        sim.Projection(exc, adex, conn, sim.StaticSynapse(weight=0.01, delay=0.7),
                       receptor_type="excitatory")
        sim.Projection(noise, adex, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=0.004, delay=0.5), receptor_type="excitatory")
        pops.append(adex)
        sim.DCSource(amplitude=0.3, start=20.0, stop=60.0).inject_into(exc[0:30])
    for p in pops:
        p.record("spikes")
    exc[40:90].record("v")   # cells of both halves (ranks 0 and 1 of 2)
    noise.record("spikes")
    sim.run(60.0)
    sim.run(40.0)                # two runs: windows continue across run() calls
    sim.reset()                  # a second trial (new Poisson trains), a second segment
    sim.run(30.0)
    digest = hashlib.sha256()
    counts = {}
    for p in pops + [noise]:
        block = p.get_data(gather=True)
        if rank == 0:
            counts[p.label] = []
            for seg in block.segments:
                trains = sorted(seg.spiketrains, key=lambda s: s.annotations["source_index"])
                counts[p.label] += [int(sum(len(s) for s in trains)), len(trains)]
                for st in trains:
                    digest.update(np.asarray(st.magnitude).tobytes())
                for sig in seg.analogsignals:
                    digest.update(np.asarray(sig.magnitude).tobytes())
                    counts[p.label].append(list(sig.shape))
    total = exc.get_spike_counts(gather=True)
    result = {"rank": rank, "num_processes": sim.num_processes(), "digest": digest.hexdigest(),
              "counts": counts, "exc_total": int(sum(total.values())),
              "local_exc": int(exc.local_size), "local_noise": int(noise.local_size),
              "e2e_size": int(e2e.size(gather=True)),
              "tau_m": [float(x) for x in exc.get("tau_m", gather=True)],
              "tau_m_local": len(exc.get("tau_m", gather=False)),
              "e2e_weights": float(np.nansum(e2e.get("weight", format="array")))}
    sim.end()
    return result


def build_and_run_two_wafers(sim, serial_windows: bool = False, wafers: int = 2,
                             split: bool = False) -> dict:
    """A network that needs two wafers (neurons of 64 denmems: A takes 60 % of one) with
    spikes relayed from wafer 0 to wafer 1 and back, and a source played into both.  With
    ``wafers=3`` a third population C on a wafer of its own closes a ring A -> B -> C -> A:
    on two ranks one of them then holds two wafers with relays between them.  With
    ``split`` A has 1,000 neurons (120 % of a wafer) and connects to itself: the mapping
    cuts it over both wafers, and A's own synapses cross between them."""
    rank = sim.setup(timestep=0.1, ideal=False, wafers=wafers, neuron_size=64,
                     stimulus_seed=4, continue_despite_synapse_loss=True)
    if serial_windows:
        from pyNN_bss_emu.engine.distributed import SerialExchange
        sim.get_backend().network.set_partition(SerialExchange())
    rng = sim.NumpyRNG(seed=8, parallel_safe=True)
    a = sim.Population(1000 if split else 500, sim.IF_cond_exp(tau_refrac=3.0), label="A")
    b = sim.Population(200 if split else 400, sim.IF_cond_exp(tau_refrac=3.0), label="B")
    noise = sim.Population(40, sim.SpikeSourcePoisson(rate=30.0), label="noise")
    for pop in (a, b):
        sim.Projection(noise, pop, sim.FixedProbabilityConnector(0.3, rng=rng),
                       sim.StaticSynapse(weight=0.015))
    sim.Projection(a, b, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.StaticSynapse(weight=0.01))
    pops = [a, b]
    if split:
        sim.Projection(a, a, sim.FixedProbabilityConnector(0.02, rng=rng),
                       sim.StaticSynapse(weight=0.008))
    if wafers == 3:
        c = sim.Population(400, sim.IF_cond_exp(tau_refrac=3.0), label="C")
        sim.Projection(noise, c, sim.FixedProbabilityConnector(0.3, rng=rng),
                       sim.StaticSynapse(weight=0.015))
        sim.Projection(b, c, sim.FixedProbabilityConnector(0.1, rng=rng),
                       sim.StaticSynapse(weight=0.01))
        sim.Projection(c, a, sim.FixedProbabilityConnector(0.1, rng=rng),
                       sim.StaticSynapse(weight=0.01))
        c.record("spikes")
        pops.append(c)
    sim.Projection(b, a, sim.FixedProbabilityConnector(0.05, rng=rng),
                   sim.StaticSynapse(weight=0.01), receptor_type="inhibitory")
    a.record("spikes")
    b.record("spikes")
    # membranes of cells at both ends of each population (each rank holding whole wafers
    # samples its own; the recording must still be complete on every rank)
    a[[0, 1, a.size - 2, a.size - 1]].record("v")
    b[[0, b.size - 1]].record("v")
    sim.run(150.0)
    digest = hashlib.sha256()
    v_digest = hashlib.sha256()
    counts = {}
    for p in pops:
        block = p.get_data(gather=True)
        if rank == 0:
            trains = sorted(block.segments[0].spiketrains,
                            key=lambda s: s.annotations["source_index"])
            counts[p.label] = int(sum(len(s) for s in trains))
            for st in trains:
                digest.update(np.asarray(st.magnitude).tobytes())
            for v in block.segments[0].filter(name="v"):
                v_digest.update(np.asarray(v.magnitude).tobytes())
    stats = sim.get_mapping_statistics()
    pulses = sim.get_pulse_statistics()
    part = sim.get_backend().network.partition
    result = {"rank": rank, "num_processes": sim.num_processes(), "digest": digest.hexdigest(),
              "v_digest": v_digest.hexdigest(),
              "counts": counts, "wafers_used": stats.wafers_used,
              "relay": [pulses["l2_relay_sent"], pulses["l2_relay_lost"]],
              "encoders": [pulses["l1_neuron_sent"], pulses["l1_encoder_lost"],
                           pulses["l1_merger_lost"]],
              "whole_wafers": bool(part is not None and part.group_local is not None),
              "windows": int(part.windows) if part is not None else 0,
              "a_cells_per_wafer": np.bincount(
                  sim.get_mapping().cell_wafer[a._record.cell_offset + np.arange(a.size)],
                  minlength=wafers).tolist(),
              "local_exc": int(a.local_size), "local_noise": int(noise.local_size)}
    sim.end()
    return result


def main() -> None:
    warnings.simplefilter("ignore")
    import pyNN.bss_emu as sim
    if "--two-wafers" in sys.argv:
        res = build_and_run_two_wafers(sim, serial_windows="--serial-windows" in sys.argv,
                                       wafers=3 if "--three-wafers" in sys.argv else 2,
                                       split="--split" in sys.argv)
    else:
        res = build_and_run(sim, wafer="--wafer" in sys.argv, stp="--stp" in sys.argv,
                            serial_windows="--serial-windows" in sys.argv)
    if res["rank"] == 0:
        sys.stdout.write("RESULT " + json.dumps(res) + "\n")
    else:
        # every rank reports its share of the cells (PyNN's local cells)
        sys.stdout.write(f"LOCAL {res['rank']} {res['local_exc']} {res['local_noise']}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
