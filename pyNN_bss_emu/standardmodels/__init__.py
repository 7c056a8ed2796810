"""Standard models offered by the emulated BrainScaleS-1 wafer."""
from .cells import (IF_cond_exp, EIF_cond_exp_isfa_ista, IF_curr_exp,  # noqa: F401
                    SpikeSourcePoisson, SpikeSourceArray)
from .synapses import (StaticSynapse, TsodyksMarkramSynapse, STDPMechanism,  # noqa: F401
                       SpikePairRule, AdditiveWeightDependence,
                       MultiplicativeWeightDependence,
                       AdditivePotentiationMultiplicativeDepression, GutigWeightDependence)

CELL_TYPES = ("IF_cond_exp", "EIF_cond_exp_isfa_ista", "IF_curr_exp", "SpikeSourcePoisson",
              "SpikeSourceArray")
SYNAPSE_TYPES = ("StaticSynapse", "TsodyksMarkramSynapse", "STDPMechanism")
#: STDP components (timing and weight dependences) of STDPMechanism
STDP_COMPONENTS = ("SpikePairRule", "AdditiveWeightDependence", "MultiplicativeWeightDependence",
                   "AdditivePotentiationMultiplicativeDepression", "GutigWeightDependence")
