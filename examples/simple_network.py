"""A small balanced network written as a standard PyNN script.

Run it on any backend:  python examples/simple_network.py bss_emu   (or: nest)
It prints firing rates and, with --plot FILE, saves a raster and membrane plot.
"""
import numpy as np
from pyNN.utility import get_simulator

sim, options = get_simulator(
    ("--plot", "save a raster/membrane figure to this PNG file", {"default": None}),
    ("--duration", "simulated time in ms", {"type": float, "default": 1000.0}),
)

# on the emulated wafer: bigger neurons (more synapse rows) and accept whatever synapse loss
# the mapping reports instead of stopping (the default is an error on any loss)
wafer_options = ({"neuron_size": 8, "continue_despite_synapse_loss": True}
                 if options.simulator == "bss_emu" else {})
sim.setup(timestep=0.1, min_delay=0.1, **wafer_options)
rng = sim.NumpyRNG(seed=42)

cell = sim.IF_cond_exp(tau_m=20.0, v_rest=-60.0, v_thresh=-50.0, v_reset=-60.0,
                       tau_refrac=5.0, tau_syn_E=5.0, tau_syn_I=10.0, e_rev_I=-80.0)
exc = sim.Population(160, cell, label="excitatory")
inh = sim.Population(40, cell, label="inhibitory")
for pop in (exc, inh):
    pop.initialize(v=sim.RandomDistribution("uniform", (-60.0, -50.0), rng=rng))
drive = sim.Population(200, sim.SpikeSourcePoisson(rate=40.0), label="drive")

connect = sim.FixedProbabilityConnector(0.1, rng=rng)
sim.Projection(drive, exc, connect, sim.StaticSynapse(weight=0.007, delay=1.0),
               receptor_type="excitatory")
sim.Projection(drive, inh, connect, sim.StaticSynapse(weight=0.007, delay=1.0),
               receptor_type="excitatory")
for pre, rtype, w in ((exc, "excitatory", 0.004), (inh, "inhibitory", 0.05)):
    for post in (exc, inh):
        sim.Projection(pre, post, connect, sim.StaticSynapse(weight=w, delay=1.0),
                       receptor_type=rtype)

exc.record("spikes")
inh.record("spikes")
exc[:2].record("v")
sim.run(options.duration)

for pop in (exc, inh):
    counts = np.array(list(pop.get_spike_counts().values()))
    print(f"{pop.label:12s} mean rate {counts.mean() / options.duration * 1000.0:6.2f} Hz "
          f"({counts.sum()} spikes from {pop.size} neurons)")

if options.simulator == "bss_emu":
    print(sim.get_mapping_statistics())

if options.plot:
    import matplotlib
    matplotlib.use("Agg")
    from pyNN.utility.plotting import Figure, Panel
    data = exc.get_data().segments[0]
    Figure(Panel(data.spiketrains, xlabel="time (ms)", yticks=True, markersize=1),
           Panel(data.filter(name="v")[0], ylabel="v (mV)", xlabel="time (ms)", yticks=True),
           title=f"simple_network on {options.simulator}").save(options.plot)
    print(f"figure written to {options.plot}")
sim.end()
