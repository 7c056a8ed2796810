"""pyNN.bss_emu: a PyNN backend that emulates the BrainScaleS-1 wafer-scale system.

Use it like any PyNN backend::

    import pyNN.bss_emu as sim
    sim.setup(timestep=0.1)

Cell types are those the wafer offers (see :func:`list_standard_models`); other PyNN standard
models raise an error that names the available ones.
"""
from pyNN import errors, random, space  # noqa: F401
from pyNN.network import Network  # noqa: F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import *  # noqa: F401,F403
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType as _StandardCellType

from .connectors import *  # noqa: F401,F403
from .control import (end, get_backend, get_current_time, get_max_delay,  # noqa: F401
                      get_min_delay, get_time_step, initialize, num_processes, rank, reset,
                      run, run_for, run_until, setup)
from .native_rng import NativeRNG  # noqa: F401
from .populations import Assembly, Population, PopulationView  # noqa: F401
from .procedural_api import connect, create, record, record_gsyn, record_v, set  # noqa: F401
from .projections import Projection  # noqa: F401
from .wafer_api import (get_defects, get_mapping, get_mapping_statistics,  # noqa: F401
                        get_placement, get_pulse_statistics, get_synapse_loss_per_hicann,
                        get_wafer_report, place_on_hicann, save_mapping, set_neuron_size)
from .plotting import plot_membrane, plot_raster, plot_wafer_map, plot_weights  # noqa: F401
from .standardmodels import CELL_TYPES, SYNAPSE_TYPES
from .standardmodels.cells import (EIF_cond_exp_isfa_ista, IF_cond_exp,  # noqa: F401
                                   IF_curr_exp, SpikeSourceArray, SpikeSourcePoisson)
from .standardmodels.synapses import (StaticSynapse, TsodyksMarkramSynapse,  # noqa: F401
                                      STDPMechanism, SpikePairRule, AdditiveWeightDependence,
                                      MultiplicativeWeightDependence,
                                      AdditivePotentiationMultiplicativeDepression,
                                      GutigWeightDependence)
# current sources (issue 12): the HICANN's FG current stimulus on the wafer
from .standardmodels.electrodes import (CURRENT_SOURCE_TYPES, ACSource,  # noqa: F401
                                        DCSource, NoisyCurrentSource, StepCurrentSource)

__version__ = "0.1.0"


class ModelNotOnHardwareError(errors.NoModelAvailableError, AttributeError):
    """A PyNN standard model that the BrainScaleS-1 wafer does not offer."""


def list_standard_models() -> list[str]:
    """Names of the standard cell types this backend (the wafer) offers."""
    return [name for name, obj in globals().items()
            if isinstance(obj, type) and issubclass(obj, _StandardCellType)
            and obj is not _StandardCellType]


def __getattr__(name: str):
    """Other PyNN standard models: an error saying what the hardware offers."""
    from pyNN.standardmodels import cells, electrodes, synapses
    from .standardmodels.nearest import nearest_model_message
    for module, offered in ((cells, CELL_TYPES), (synapses, SYNAPSE_TYPES)):
        if isinstance(getattr(module, name, None), type):
            raise ModelNotOnHardwareError(nearest_model_message(name, offered))
    source = getattr(electrodes, name, None)
    if isinstance(source, type) and issubclass(source, electrodes.StandardCurrentSource):
        # all of PyNN's standard current sources are offered (issue 12); any other
        raise ModelNotOnHardwareError(
            f"{name} is not a current source of pyNN.bss_emu; it offers "
            f"{', '.join(CURRENT_SOURCE_TYPES)} (the wafer's FG current stimulus)")
    raise AttributeError(f"module 'pyNN.bss_emu' has no attribute '{name}'")
