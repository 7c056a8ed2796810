"""The typed option tree of ``setup()`` (``backend.options``) and the mapper's per-stage options
(``mapping.options``): every default stated once and read through the keyword table, the
keywords validated with ``setup()``'s messages, the tree frozen.

The expected messages are written out (they are what ``setup()`` has always raised; other
tests match parts of them through ``sim.setup``).
"""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from pyNN_bss_emu.backend import options as bo
from pyNN_bss_emu.backend.options import (DefectOptions, EffectOptions, EngineOptions,
                                          ParameterTransformOptions, SetupOptions,
                                          SubstrateOptions, SystemOptions)
from pyNN_bss_emu.hardware import parameter_transform as pt
from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.mapping import addresses, input_placement, l1_routing, merger_routing
from pyNN_bss_emu.mapping import placement, synapses
from pyNN_bss_emu.mapping.options import (AddressAssignmentOptions, InputPlacementOptions,
                                          L1RoutingOptions, MappingOptions,
                                          MergerRoutingOptions, NeuronPlacementOptions,
                                          SynapseRoutingOptions, check_neuron_size)
from pyNN_bss_emu.mapping.pipeline import MappingOptions as PipelineMappingOptions

#: setup()'s keywords besides timestep and min_delay, in the documented order
KEYWORD_ORDER = ("max_delay", "ideal", "strict", "stimulus_seed", "wafer_seed", "trial_seed",
                 "calibration", "voltage_alpha", "voltage_shift", "big_capacitors", "leak_mode",
                 "clip_parameters", "analog_recording_limit", "defects", "neuron_size",
                 "continue_despite_synapse_loss", "driver_chain_length", "neuron_placement",
                 "merger_routing", "multapses", "l1_routing", "speedup", "weight_rounding",
                 "mapping_file", "progress", "preset", "effects", "wafers", "offwafer_latency",
                 "wafer_fill")
#: keywords whose value is a whole branch of the tree (a dict of switches -> a dataclass)
BRANCH_KEYWORDS = ("effects",)


def _field_default(cls, path: tuple[str, ...]):
    """The default of the field at ``path`` read from the dataclass declarations (through the
    default factories of the branches), independently of ``setup_keywords``."""
    *branches, leaf = path
    for name in branches:
        f = {f.name: f for f in dataclasses.fields(cls)}[name]
        assert f.default_factory is not dataclasses.MISSING, f"{name}: a branch needs a factory"
        cls = f.default_factory
    f = {f.name: f for f in dataclasses.fields(cls)}[leaf]
    assert f.default is not dataclasses.MISSING, f"{path}: a leaf has a plain default"
    return f.default


# ====================================================================== the keyword table
def test_keywords_are_setups_in_order():
    assert tuple(bo.KEYWORDS) == KEYWORD_ORDER
    assert tuple(bo.setup_keywords()) == KEYWORD_ORDER


@pytest.mark.parametrize("name", KEYWORD_ORDER)
def test_every_keyword_has_a_path_to_a_leaf(name):
    node = SetupOptions()
    for part in bo.KEYWORDS[name].path:
        assert dataclasses.is_dataclass(node), f"{name}: {part!r} below a leaf"
        assert part in {f.name for f in dataclasses.fields(node)}, f"{name}: no {part!r}"
        node = getattr(node, part)
    assert dataclasses.is_dataclass(node) == (name in BRANCH_KEYWORDS), \
        f"{name}: the path ends at a branch" if name not in BRANCH_KEYWORDS else name


def test_keyword_paths_are_distinct():
    paths = [k.path for k in bo.KEYWORDS.values()]
    assert len(set(paths)) == len(paths)


@pytest.mark.parametrize("name", KEYWORD_ORDER)
def test_defaults_are_the_dataclass_defaults(name):
    default, description = bo.setup_keywords()[name]
    assert default == _field_default(SetupOptions, bo.KEYWORDS[name].path)
    assert description and description == bo.KEYWORDS[name].description


def test_the_documented_defaults():
    """setup()'s defaults as documented (docs/setup_options.md) and used before the tree."""
    defaults = {name: d for name, (d, _) in bo.setup_keywords().items()}
    assert defaults == {
        "max_delay": "auto", "ideal": False, "strict": False, "stimulus_seed": 0,
        "wafer_seed": 0,
        "trial_seed": 0, "calibration": "calibrated", "voltage_alpha": 10.0,
        "voltage_shift": 1.2, "big_capacitors": True, "leak_mode": "normal",
        "clip_parameters": None, "analog_recording_limit": False, "defects": "default",
        "neuron_size": 4, "continue_despite_synapse_loss": None, "driver_chain_length": 3,
        "neuron_placement": "cluster", "merger_routing": "auto", "multapses": "realise",
        "l1_routing": "backbone+dijkstra", "speedup": 1e4,
        "weight_rounding": "nearest", "mapping_file": None, "progress": None,
        "preset": "default", "effects": EffectOptions(), "wafers": 1,
        "offwafer_latency": 1.3, "wafer_fill": 0.85}


def test_a_changed_default_shows_up_in_the_keywords(monkeypatch):
    """Change two defaults in the dataclasses (a mapping leaf two levels down and a substrate
    leaf); the keyword table and from_keywords follow without being touched."""
    @dataclasses.dataclass(frozen=True)
    class Substrate(SubstrateOptions):
        wafer_seed: int = 7

    @dataclasses.dataclass(frozen=True)
    class Tree(SetupOptions):
        mapping: MappingOptions = dataclasses.field(default_factory=lambda: MappingOptions(
            neuron_placement=NeuronPlacementOptions(default_neuron_size=8)))
        substrate: SubstrateOptions = dataclasses.field(default_factory=Substrate)

    monkeypatch.setattr(bo, "SetupOptions", Tree)
    keywords = bo.setup_keywords()
    assert keywords["neuron_size"][0] == 8
    assert keywords["wafer_seed"][0] == 7
    assert keywords["driver_chain_length"][0] == 3            # the others unchanged
    built = Tree.from_keywords(0.1, "auto", trial_seed=2)
    assert built.mapping.neuron_placement.default_neuron_size == 8
    assert (built.substrate.wafer_seed, built.substrate.trial_seed) == (7, 2)


def test_transform_defaults_are_transform_settings_defaults():
    """ParameterTransformOptions states no default of its own besides clip: the voltage
    scaling, capacitor and leak mode come from TransformSettings, the speed-up from
    wafer.DEFAULT_SPEEDUP (shared with the mapping)."""
    ts = pt.TransformSettings()
    opts = ParameterTransformOptions()
    assert (opts.alpha, opts.shift, opts.big_capacitors, opts.leak_mode) == \
        (ts.alpha, ts.shift, ts.bigcap, ts.leak_mode)
    assert ts.speedup == wafer.DEFAULT_SPEEDUP == MappingOptions().speedup == 1e4
    assert opts.settings(ts.speedup) == ts
    small = dataclasses.replace(opts, alpha=4.5, shift=1.075, big_capacitors=False,
                                leak_mode="fast").settings(2e3)
    assert small == pt.TransformSettings(speedup=2e3, alpha=4.5, shift=1.075, bigcap=False,
                                         leak_mode="fast")
    with pytest.raises(ValueError, match="speedup"):
        opts.settings(1e6)


# ====================================================================== building the tree
#: the default tree as setup() builds it: the options left at None follow strict=False
ADAPTING = dataclasses.replace(
    SetupOptions(), parameter_transform=ParameterTransformOptions(clip=True),
    mapping=MappingOptions(continue_despite_synapse_loss=True))


def test_no_keywords_give_the_default_tree():
    assert SetupOptions.from_keywords(0.1, "auto") == ADAPTING
    assert SetupOptions.from_keywords(0.1, 0.1) == ADAPTING


def test_strict_turns_the_adapting_defaults_into_errors_unless_given():
    strict = SetupOptions.from_keywords(0.1, "auto", strict=True)
    assert strict.strict is True
    assert strict.parameter_transform.clip is False
    assert strict.mapping.continue_despite_synapse_loss is False
    mixed = SetupOptions.from_keywords(0.1, "auto", strict=True, clip_parameters=True)
    assert mixed.parameter_transform.clip is True
    assert mixed.mapping.continue_despite_synapse_loss is False


def test_other_backends_keywords_are_listed_as_ignored():
    tree = SetupOptions.from_keywords(0.1, "auto", threads=2, use_cvode=True, bogus=1)
    assert dict(tree.ignored) == {"threads": "pyNN.nest", "use_cvode": "pyNN.neuron",
                                  "bogus": None}
    assert tree == ADAPTING                       # nothing else changes
    msg = bo.ignored_keywords_message(tree.ignored)
    assert "threads (pyNN.nest)" in msg and "bogus (unknown)" in msg
    with pytest.raises(TypeError, match="'bogus', 'threads', 'use_cvode'.*strict=True"):
        SetupOptions.from_keywords(0.1, "auto", threads=2, use_cvode=True, bogus=1,
                                   strict=True)


def test_from_keywords_puts_every_value_in_its_place():
    given = dict(max_delay=20.0, ideal=True, strict=True, stimulus_seed=11, wafer_seed=12,
                 trial_seed=13,
                 calibration="off", voltage_alpha=4.5, voltage_shift=1.075,
                 big_capacitors=False, leak_mode="fast", clip_parameters=True,
                 analog_recording_limit=True, defects={"hicann": 0.01}, neuron_size=8,
                 continue_despite_synapse_loss=True, driver_chain_length=20,
                 neuron_placement="enum_desc", merger_routing="one_to_one",
                 multapses="per_projection", l1_routing="dijkstra", speedup=2e3,
                 weight_rounding="stochastic", mapping_file="m.npz", progress=False,
                 preset="default", effects=EffectOptions(trial_noise=False),
                 wafers=(4, 8), offwafer_latency=2.5, wafer_fill=0.5)
    tree = SetupOptions.from_keywords(0.1, "auto", **given)
    assert tree == SetupOptions(
        ideal=True, strict=True,
        mapping=MappingOptions(
            neuron_placement=NeuronPlacementOptions(default_neuron_size=8,
                                                    strategy="enum_desc"),
            merger_routing=MergerRoutingOptions("one_to_one"),
            l1_routing=L1RoutingOptions("dijkstra"),
            synapse_routing=SynapseRoutingOptions(driver_chain_length=20,
                                                  multapses="per_projection"),
            speedup=2e3, continue_despite_synapse_loss=True, mapping_file="m.npz"),
        parameter_transform=ParameterTransformOptions(alpha=4.5, shift=1.075,
                                                      big_capacitors=False, leak_mode="fast",
                                                      clip=True),
        defects=DefectOptions({"hicann": 0.01}),
        substrate=SubstrateOptions(calibration="off", weight_rounding="stochastic",
                                   wafer_seed=12, trial_seed=13, analog_recording_limit=True,
                                   effects=EffectOptions(trial_noise=False)),
        engine=EngineOptions(stimulus_seed=11, max_delay=20.0, progress=False),
        system=SystemOptions(wafers=(4, 8), offwafer_latency_us=2.5, fill=0.5))
    assert tree.keyword_values() == given
    # stages no keyword reaches keep their defaults
    assert tree.mapping.address_assignment == AddressAssignmentOptions()
    assert tree.mapping.input_placement == InputPlacementOptions()


def test_values_are_stored_as_builtin_types():
    """numpy integers become int, integral speed-ups float (1 for progress is refused: it is
    not a bool)."""
    tree = SetupOptions.from_keywords(0.1, "auto", neuron_size=np.int64(8),
                                      wafer_seed=np.int32(3), speedup=2000,
                                      voltage_alpha=np.float32(4.0), progress=True)
    assert type(tree.mapping.neuron_placement.default_neuron_size) is int
    assert type(tree.substrate.wafer_seed) is int and tree.substrate.wafer_seed == 3
    assert type(tree.mapping.speedup) is float and tree.mapping.speedup == 2000.0
    assert type(tree.parameter_transform.alpha) is float
    assert tree.engine.progress is True


def test_setup_keywords_equal_controls_table():
    """control.SETUP_OPTIONS is (or is built from) the keyword table: same names, order,
    defaults and descriptions."""
    from pyNN_bss_emu import control
    assert bo.setup_keywords() == control.SETUP_OPTIONS
    assert list(bo.setup_keywords()) == list(control.SETUP_OPTIONS)


# ====================================================================== validation
ACCEPTED_NAMES = ", ".join(sorted(KEYWORD_ORDER))


@pytest.mark.parametrize("timestep,min_delay,kwargs,error,message", [
    (0.1, "auto", {"threads": 4, "spike_precision": "off_grid", "strict": True}, TypeError,
     "setup() got keyword argument(s) 'spike_precision', 'threads' that pyNN.bss_emu does "
     f"not use (strict=True); it accepts timestep, min_delay and: {ACCEPTED_NAMES}"),
    (0, "auto", {}, ValueError, "setup(timestep=0): the time step must be a finite number > 0 ms"),
    ("0.1", "auto", {}, ValueError,
     "setup(timestep='0.1'): the time step must be a finite number > 0 ms"),
    (None, "auto", {}, ValueError,
     "setup(timestep=None): the time step must be a finite number > 0 ms"),
    (0.1, "x", {}, ValueError, "setup(min_delay='x'): expected 'auto' or a number of ms"),
    (0.1, "auto", {"max_delay": 0.01}, ValueError,
     "setup(max_delay=0.01): expected 'auto' or a number of ms >= timestep (0.1 ms)"),
    (0.1, "auto", {"max_delay": "none"}, ValueError,
     "setup(max_delay='none'): expected 'auto' or a number of ms >= timestep (0.1 ms)"),
    (0.1, "auto", {"ideal": "yes"}, TypeError, "setup(ideal='yes'): expected True or False"),
    (0.1, "auto", {"clip_parameters": 0}, TypeError,
     "setup(clip_parameters=0): expected True, False or None"),
    (0.1, "auto", {"strict": 1}, TypeError, "setup(strict=1): expected True or False"),
    (0.1, "auto", {"stimulus_seed": -1}, ValueError,
     "setup(stimulus_seed=-1): expected an integer in 0..9223372036854775807"),
    (0.1, "auto", {"wafer_seed": 1.5}, ValueError,
     "setup(wafer_seed=1.5): expected an integer in 0..9223372036854775807"),
    (0.1, "auto", {"trial_seed": True}, ValueError,
     "setup(trial_seed=True): expected an integer in 0..9223372036854775807"),
    (float("inf"), "auto", {}, ValueError,
     "setup(timestep=inf): the time step must be a finite number > 0 ms"),
    (0.1, float("nan"), {}, ValueError,
     "setup(min_delay=nan): expected 'auto' or a number of ms"),
    (0.1, True, {}, ValueError, "setup(min_delay=True): expected 'auto' or a number of ms"),
    (0.1, "auto", {"max_delay": float("inf")}, ValueError,
     "setup(max_delay=inf): expected 'auto' or a number of ms >= timestep (0.1 ms)"),
    (0.1, "auto", {"max_delay": True}, ValueError,
     "setup(max_delay=True): expected 'auto' or a number of ms >= timestep (0.1 ms)"),
    (0.1, 2.0, {"max_delay": 1.0}, ValueError,
     "setup(min_delay=2.0, max_delay=1.0): min_delay must not exceed max_delay"),
    (0.1, "auto", {"wafer_seed": 2**70}, ValueError,
     f"setup(wafer_seed={2**70}): expected an integer in 0..9223372036854775807"),
    (0.1, "auto", {"stimulus_seed": np.uint64(2**63)}, ValueError,
     "setup(stimulus_seed=np.uint64(9223372036854775808)): expected an integer in "
     "0..9223372036854775807"),
    (0.1, "auto", {"progress": 1}, TypeError,
     "setup(progress=1): expected True, False or None"),
    (0.1, "auto", {"driver_chain_length": 57}, ValueError,
     "setup(driver_chain_length=57): expected an integer in 1..56"),
    (0.1, "auto", {"speedup": 1e6}, ValueError,
     "setup(speedup=1000000.0): expected a number in 1000..100000"),
    (0.1, "auto", {"speedup": "1e4"}, ValueError,
     "setup(speedup='1e4'): expected a number in 1000..100000"),
    (0.1, "auto", {"voltage_alpha": 0.0}, ValueError,
     "setup(voltage_alpha=0.0): expected a number in 1..50"),
    (0.1, "auto", {"voltage_shift": 1.9}, ValueError,
     "setup(voltage_shift=1.9): expected a number in 0..1.8"),
    (0.1, "auto", {"leak_mode": "turbo"}, ValueError,
     "setup(leak_mode='turbo'): expected one of ('slow', 'normal', 'fast')"),
    (0.1, "auto", {"calibration": "uncalibrated"}, ValueError,
     "setup(calibration='uncalibrated'): expected one of ('calibrated', 'off', 'ideal')"),
    (0.1, "auto", {"merger_routing": "none"}, ValueError,
     "setup(merger_routing='none'): expected one of ('auto', 'minimize_as_possible', "
     "'minimize', 'one_to_one')"),
    (0.1, "auto", {"l1_routing": "astar"}, ValueError,
     "setup(l1_routing='astar'): expected one of ('backbone+dijkstra', 'backbone', "
     "'dijkstra')"),
    (0.1, "auto", {"weight_rounding": "up"}, ValueError,
     "setup(weight_rounding='up'): expected one of ('nearest', 'stochastic')"),
    (0.1, "auto", {"progress": "yes"}, TypeError,
     "setup(progress='yes'): expected True, False or None"),
    (0.1, "auto", {"neuron_size": 3}, ValueError,
     "neuron_size=3: a logical neuron needs an even number of denmems from 2 to 64 (it "
     "spans both denmem rows inside one neuron block); or 'auto' (the mapper chooses)"),
    (0.1, "auto", {"neuron_size": True}, ValueError,
     "neuron_size=True: a logical neuron needs an even number of denmems from 2 to 64 (it "
     "spans both denmem rows inside one neuron block); or 'auto' (the mapper chooses)"),
    # the default max_delay is checked too: 'auto' passes any time step
    (20.0, "auto", {}, None, None),
])
def test_bad_values_give_setups_messages(timestep, min_delay, kwargs, error, message):
    if error is None:
        SetupOptions.from_keywords(timestep, min_delay, **kwargs)
        return
    with pytest.raises(error) as exc:
        SetupOptions.from_keywords(timestep, min_delay, **kwargs)
    assert str(exc.value) == message


def test_unvalidated_keywords_are_stored_as_given():
    """The defect spec is checked when the DefectMap is built: from_keywords stores it; the
    mapping file must be a path (issue 13: mapping_file=1 failed late)."""
    spec = object()
    tree = SetupOptions.from_keywords(0.1, "auto", defects=spec, mapping_file="m.npz")
    assert tree.defects.spec is spec and tree.mapping.mapping_file == "m.npz"
    with pytest.raises(TypeError, match="mapping_file=3"):
        SetupOptions.from_keywords(0.1, "auto", mapping_file=3)


def test_check_neuron_size():
    assert check_neuron_size(np.int64(64)) == 64 and type(check_neuron_size(np.int8(2))) is int
    for bad in (0, 66, 2.5, 4.0, "4", None, False):
        with pytest.raises(ValueError, match=r"^size=.*even number of denmems from 2 to 64"):
            check_neuron_size(bad, what="size")


# ====================================================================== accepted values
@pytest.mark.parametrize("name,pieces", [
    ("ideal", [("True", True), (" or ", False), ("False", True)]),
    ("stimulus_seed", [("integer, 0 … 9223372036854775807", False)]),
    ("driver_chain_length", [("integer, 1 … 56", False)]),
    ("speedup", [("number, 1000 … 100000", False)]),
    ("voltage_shift", [("number, 0 … 1.8", False)]),
    ("leak_mode", [("'slow'", True), (", ", False), ("'normal'", True), (", ", False),
                   ("'fast'", True)]),
    ("neuron_size", [("'auto'", True), (" or an even integer, 2 … 64", False)]),
    ("max_delay", [("'auto'", True), (" or a number of ms ≥ timestep", False)]),
    ("progress", [("True", True), (", ", False), ("False", True), (" or ", False),
                  ("None", True)]),
    ("mapping_file", [("None", True), (" or a path (", False), (".npz", True), (")", False)]),
    ("defects", [("'default'", True), (", ", False), ("'none'", True),
                 (", a preset name, a dict of rates or a JSON path", False)]),
])
def test_accepted_values(name, pieces):
    assert bo.accepted_values(name) == pieces


@pytest.mark.parametrize("name", KEYWORD_ORDER)
def test_every_keyword_documents_what_it_accepts(name):
    pieces = bo.accepted_values(name)
    assert pieces and all(isinstance(t, str) and t and isinstance(lit, bool)
                          for t, lit in pieces)


def test_every_default_is_accepted():
    """Each default passes its own keyword's check (with a time step of 0.1 ms)."""
    for name, (default, _) in bo.setup_keywords().items():
        bo.KEYWORDS[name].accepts.check(name, default, 0.1)


# ====================================================================== frozen
def _nodes(tree):
    yield tree
    for f in dataclasses.fields(tree):
        value = getattr(tree, f.name)
        if dataclasses.is_dataclass(value):
            yield from _nodes(value)


def test_the_tree_is_frozen_and_hashable():
    tree = SetupOptions.from_keywords(0.1, "auto", defects={"hicann": 0.01})
    nodes = list(_nodes(tree))
    # root, 5 branches + mapping, 6 mapping stages, the effect switches
    assert len(nodes) == 1 + 5 + 1 + 6 + 1
    for node in nodes:
        first = dataclasses.fields(node)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(node, first, getattr(node, first))
    # a dict defect spec is left out of the hash (dicts have none); equality still sees it
    assert hash(tree) == hash(SetupOptions.from_keywords(0.1, "auto", defects={"hicann": 0.01}))
    assert tree != SetupOptions()


# ====================================================================== mapping options
def test_mapping_options_defaults_are_the_former_flat_defaults():
    """What map_network used before the tree (the former flat MappingOptions)."""
    m = MappingOptions()
    assert m.neuron_placement.strategy == "cluster"           # issue 14: was "enum_asc"
    assert m.synapse_routing.multapses == "realise"            # issue 14: new
    assert m.merger_routing.strategy == "auto"
    assert m.address_assignment.strategy == "high_first"
    assert m.l1_routing.algorithm == "backbone+dijkstra"
    assert m.synapse_routing.driver_chain_length == 3 == wafer.DEFAULT_CHAIN_LENGTH
    assert m.speedup == 1e4
    assert m.input_placement.bandwidth_utilization == 0.8
    assert m.continue_despite_synapse_loss is None      # map_network: as False
    assert m.mapping_file is None
    assert m.neuron_placement.default_neuron_size == 4
    assert PipelineMappingOptions is MappingOptions      # pipeline re-exports it


def test_mapping_options_agree_with_the_stage_functions():
    """Calling a stage without options and mapping with default MappingOptions do the same:
    the stage functions' keyword defaults equal the tree's."""
    def default(func, name):
        value = inspect.signature(func).parameters[name].default
        # a Sphinx build in the same process (test_docs, autodoc_preserve_defaults) replaces
        # the functions' defaults by objects whose repr is their source text
        if type(value).__name__ == "DefaultValue":
            value = eval(repr(value), func.__globals__)
        return value
    m = MappingOptions()
    assert default(placement.place_neurons, "strategy") == m.neuron_placement.strategy
    assert default(addresses.assign_addresses, "strategy") == m.address_assignment.strategy
    assert default(merger_routing.route_mergers, "address_strategy") == \
        m.address_assignment.strategy
    assert default(input_placement.place_inputs, "bandwidth_utilization") == \
        m.input_placement.bandwidth_utilization
    assert default(input_placement.place_inputs, "speedup") == m.speedup
    assert default(l1_routing.route_l1, "algorithm") == m.l1_routing.algorithm
    assert default(synapses.allocate_synapses, "chain_length") == \
        m.synapse_routing.driver_chain_length
    assert default(synapses.allocate_synapses, "allow_multapses") == \
        (m.synapse_routing.multapses == "realise")
    assert default(merger_routing.route_mergers, "multapses") == m.synapse_routing.multapses
    assert default(input_placement.place_inputs, "multapses") == m.synapse_routing.multapses
    assert set(bo.KEYWORDS["neuron_placement"].accepts.values) == set(placement.STRATEGIES)
    # the stage modules' vocabularies contain the defaults
    assert m.neuron_placement.strategy in placement.STRATEGIES
    assert m.address_assignment.strategy in addresses.STRATEGIES
    assert m.l1_routing.algorithm in l1_routing.ALGORITHMS
    assert set(bo.KEYWORDS["merger_routing"].accepts.values) == \
        {"auto", *merger_routing.STRATEGIES}
    assert set(bo.KEYWORDS["l1_routing"].accepts.values) == set(l1_routing.ALGORITHMS)

