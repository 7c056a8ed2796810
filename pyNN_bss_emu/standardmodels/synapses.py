"""Synapse types of the wafer: static synapses and Tsodyks-Markram short-term plasticity
(the synapse drivers' STP circuit: its limits are checked by the wafer backend,
:func:`pyNN_bss_emu.mapping.stp.circuit_violation`)."""
from __future__ import annotations

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, synapses

from .. import simulator


def _check_values(model: str, parameters: dict) -> None:
    """What PyNN takes for a synapse parameter: a number, a RandomDistribution, a function or
    expression of the distance, or a 2-D array (pre x post); anything else (a string that is
    no expression aside, PyNN would fail deep inside lazyarray) is a clear error."""
    from pyNN.random import RandomDistribution
    for name, value in parameters.items():
        if value is None or isinstance(value, (RandomDistribution, str)) or callable(value):
            continue
        if isinstance(value, (bool, np.bool_)):
            ok = False
        elif isinstance(value, (int, float, np.integer, np.floating)):
            ok = True
        else:
            try:
                ok = np.asarray(value, dtype=float).ndim == 2
            except (TypeError, ValueError):
                ok = False
        if not ok:
            raise errors.InvalidParameterValueError(
                f"{model}({name}={value!r:.60}): expected a number, a RandomDistribution, a "
                "function or expression of the distance, or a 2-D array (pre x post)")


class _CheckedSynapse:
    def __init__(self, **parameters):
        _check_values(type(self).__name__, parameters)
        super().__init__(**parameters)


class StaticSynapse(_CheckedSynapse, synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d


class TsodyksMarkramSynapse(_CheckedSynapse, synapses.TsodyksMarkramSynapse):
    __doc__ = synapses.TsodyksMarkramSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"), ("U", "U"),
                                      ("tau_rec", "tau_rec"), ("tau_facil", "tau_facil"))

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d

    @staticmethod
    def check(U: np.ndarray, tau_rec: np.ndarray, tau_facil: np.ndarray) -> None:
        """Valid Tsodyks-Markram parameters (the backend adds what its hardware can realise:
        on the wafer, the synapse drivers' STP circuit)."""
        for name, v in (("U", U), ("tau_rec", tau_rec), ("tau_facil", tau_facil)):
            if not np.all(np.isfinite(v)) or np.any(v < 0):
                raise errors.InvalidParameterValueError(
                    f"TsodyksMarkramSynapse: '{name}' must be finite and >= 0, got "
                    f"{v[~np.isfinite(v) | (v < 0)][0]!r}")
        if np.any((U <= 0) | (U > 1)):
            raise errors.InvalidParameterValueError(
                f"TsodyksMarkramSynapse: 'U' = {U[(U <= 0) | (U > 1)][0]!r} is outside (0, 1]")


# ---------------------------------------------------------------------------- STDP (issue 15)
class STDPMechanism(synapses.STDPMechanism):
    __doc__ = synapses.STDPMechanism.__doc__ + """
    pyNN.bss_emu: with ``setup(ideal=True)`` the rule of NEST's ``stdp_synapse`` (all-to-all
    pairing, the whole delay dendritic, tau_minus a property of the postsynaptic neuron); on
    the wafer the synapse array's STDP circuit (reduced nearest-neighbour pairing, 4-bit
    lookup tables, row-wise updates; docs/plasticity.md).
    """
    base_translations = build_translations(
        ("weight", "weight"), ("delay", "delay"),
        ("dendritic_delay_fraction", "dendritic_delay_fraction"))

    def __init__(self, timing_dependence=None, weight_dependence=None, voltage_dependence=None,
                 dendritic_delay_fraction=1.0, weight=0.0, delay=None):
        _check_values("STDPMechanism", {"weight": weight, "delay": delay})
        if timing_dependence is None or weight_dependence is None:
            raise errors.InvalidParameterValueError(
                "STDPMechanism needs a timing_dependence (SpikePairRule) and a "
                "weight_dependence (e.g. AdditiveWeightDependence)")
        for name, obj, kind in (("timing_dependence", timing_dependence, _TIMING),
                                ("weight_dependence", weight_dependence, _WEIGHT)):
            if not isinstance(obj, kind):
                raise errors.InvalidModelError(
                    f"STDPMechanism({name}={type(obj).__name__}): pyNN.bss_emu offers "
                    f"{', '.join(k.__name__ for k in kind)}")
        if voltage_dependence is not None:
            raise errors.InvalidModelError("STDPMechanism: no voltage dependence on the wafer")
        if not isinstance(dendritic_delay_fraction, (int, float)) or \
                not 0 <= dendritic_delay_fraction <= 1:
            raise errors.InvalidParameterValueError(
                f"STDPMechanism(dendritic_delay_fraction={dendritic_delay_fraction!r}): "
                "must be a number in [0, 1]")
        super().__init__(timing_dependence, weight_dependence, None,
                         dendritic_delay_fraction, weight, delay)

    def _build_translations(self):
        # a copy per instance (PyNN's base class updates the class attribute in place)
        self.translations = dict(self.base_translations)
        for component in (self.timing_dependence, self.weight_dependence):
            self.translations.update(component.translations)

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d

    def mu(self) -> tuple[float, float]:
        """(mu_plus, mu_minus) of the weight dependence in NEST's form (0 additive, 1
        multiplicative)."""
        wd = self.weight_dependence
        if isinstance(wd, GutigWeightDependence):
            return (float(wd.parameter_space["mu_plus"].base_value),
                    float(wd.parameter_space["mu_minus"].base_value))
        return wd.MU


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = build_translations(("tau_plus", "tau_plus"), ("tau_minus", "tau_minus"),
                                      ("A_plus", "A_plus"), ("A_minus", "A_minus"))
    possible_models = {"stdp_pair"}


_WD_TRANSLATIONS = build_translations(("w_min", "w_min"), ("w_max", "w_max"))


class AdditiveWeightDependence(synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = _WD_TRANSLATIONS
    possible_models = {"stdp_pair"}
    MU = (0.0, 0.0)


class MultiplicativeWeightDependence(synapses.MultiplicativeWeightDependence):
    __doc__ = synapses.MultiplicativeWeightDependence.__doc__
    translations = _WD_TRANSLATIONS
    possible_models = {"stdp_pair"}
    MU = (1.0, 1.0)


class AdditivePotentiationMultiplicativeDepression(
        synapses.AdditivePotentiationMultiplicativeDepression):
    __doc__ = synapses.AdditivePotentiationMultiplicativeDepression.__doc__
    translations = _WD_TRANSLATIONS
    possible_models = {"stdp_pair"}
    MU = (0.0, 1.0)


class GutigWeightDependence(synapses.GutigWeightDependence):
    __doc__ = synapses.GutigWeightDependence.__doc__
    translations = build_translations(("w_min", "w_min"), ("w_max", "w_max"),
                                      ("mu_plus", "mu_plus"), ("mu_minus", "mu_minus"))
    possible_models = {"stdp_pair"}


_TIMING = (SpikePairRule,)
_WEIGHT = (AdditiveWeightDependence, MultiplicativeWeightDependence,
           AdditivePotentiationMultiplicativeDepression, GutigWeightDependence)
#: STDP parameter names per connection (besides weight, delay, dendritic_delay_fraction)
STDP_PARAMETERS = ("tau_plus", "tau_minus", "A_plus", "A_minus", "w_min", "w_max",
                   "mu_plus", "mu_minus")


def check_stdp(label: str, columns: dict, current_based: bool) -> None:
    """Valid STDP parameters (arrays per connection): clear errors naming the parameter,
    the value and the allowed range."""
    def bad(name, mask, allowed):
        v = float(columns[name][mask][0])
        raise errors.InvalidParameterValueError(
            f"STDPMechanism in projection '{label}': {name} = {v!r} is outside {allowed}")
    for name in STDP_PARAMETERS:
        v = columns[name]
        if not np.all(np.isfinite(v)):
            bad(name, ~np.isfinite(v), "the finite numbers")
    for name in ("tau_plus", "tau_minus"):
        if np.any(columns[name] <= 0):
            bad(name, columns[name] <= 0, "(0, inf) ms")
    for name in ("A_plus", "A_minus", "mu_plus", "mu_minus"):
        if np.any(columns[name] < 0):
            bad(name, columns[name] < 0, "[0, inf)")
    if not current_based and np.any(columns["w_min"] < 0):
        bad("w_min", columns["w_min"] < 0, "[0, inf) µS (conductances)")
    if np.any(columns["w_max"] <= columns["w_min"]):
        m = columns["w_max"] <= columns["w_min"]
        raise errors.InvalidParameterValueError(
            f"STDPMechanism in projection '{label}': w_max = {float(columns['w_max'][m][0])!r} must "
            f"be larger than w_min = {float(columns['w_min'][m][0])!r}")
