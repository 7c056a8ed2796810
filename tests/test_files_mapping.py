"""Files a user can trust (issue 13): mapping files and defect files.

1. ``mapping_file`` is the path exactly as given (no suffix appended) for saving and reuse; a
   file that is no mapping is never overwritten; writes are atomic.
2. A reused mapping must fit the network, the defect map and the mapping options it was made
   for, and its synapse loss is checked against the current loss policy.
3. Loading validates every array and names the file and field (``MappingFileError``).
4. ``.npz`` members are checked before they are inflated (``pyNN_bss_emu.archive``).
6. Defect files: encoding, nesting depth and duplicate keys are clear ``ValueError``\\ s.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyNN_bss_emu import archive
from pyNN_bss_emu.hardware.defects import DefectMap
from pyNN_bss_emu.mapping import pipeline
from pyNN_bss_emu.mapping.options import MappingOptions
from pyNN_bss_emu.mapping.pipeline import (MappingFileError, MappingResult, SynapseLossError,
                                           load_for_reuse, map_network)
from pyNN_bss_emu.mapping.types import BioGraph, MappingError


# ====================================================================== helpers
def _net(sim, n_src=4, n=6, seed=1):
    src = sim.Population(n_src, sim.SpikeSourcePoisson(rate=20.0), label="src")
    pop = sim.Population(n, sim.IF_cond_exp(), label="pop")
    prj = sim.Projection(src, pop, sim.FixedProbabilityConnector(
        0.7, rng=sim.NumpyRNG(seed=seed)), sim.StaticSynapse(weight=0.01))
    return src, pop, prj


def _lossy_net(sim):
    """30 size-2 neurons all-to-all: far more inputs per neuron than one route's driver
    chain serves (synapses are lost)."""
    pop = sim.Population(30, sim.IF_cond_exp(), label="pop")
    sim.Projection(pop, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    return pop


def _no_remap(monkeypatch):
    """Make a (re)mapping fail: the run must reuse the file."""
    def refuse(*args, **kwargs):
        raise AssertionError("mapped again instead of reusing the mapping file")
    monkeypatch.setattr("pyNN_bss_emu.backend.wafer.map_network", refuse)


def _arrays(path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _rewrite(path, **changes) -> None:
    """Rewrite a mapping file with some members changed (None: removed), as a user (or a
    hostile one) could."""
    data = _arrays(path)
    for k, v in changes.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    os.unlink(path)
    np.savez_compressed(open(path, "wb"), **data)


# ====================================================================== 1. suffix, overwrite
def test_mapping_file_is_the_path_as_given_for_saving_and_reuse(wafer_sim, tmp_path,
                                                                monkeypatch):
    """Before: setup(mapping_file='results') saved 'results.npz' and looked for 'results':
    never reused, and a user's own results.npz was overwritten at every run."""
    sim = wafer_sim
    path = tmp_path / "results"
    theirs = tmp_path / "results.npz"
    np.savez(theirs, my_data=np.arange(5))
    before = theirs.read_bytes()
    sim.setup(defects="none", mapping_file=str(path))
    _net(sim)
    sim.run(1.0)
    assert path.is_file() and theirs.read_bytes() == before
    first = _arrays(path)
    sim.setup(defects="none", mapping_file=path)          # a pathlib.Path works too
    _net(sim)
    _no_remap(monkeypatch)
    sim.run(1.0)
    assert np.array_equal(sim.get_mapping().syn_row, first["syn_row"])
    assert theirs.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["results", "results.npz"]   # no stray files


def test_a_file_that_is_no_mapping_is_never_overwritten(wafer_sim, tmp_path):
    sim = wafer_sim
    theirs = tmp_path / "results.npz"
    np.savez(theirs, my_data=np.arange(5))
    before = theirs.read_bytes()
    sim.setup(defects="none", mapping_file=str(theirs))
    _net(sim)
    with pytest.raises(MappingFileError, match=r"results\.npz"):
        sim.run(1.0)
    assert theirs.read_bytes() == before
    # save_mapping refuses too (and a text file, a directory)
    sim.setup(defects="none")
    _net(sim)
    sim.run(1.0)
    text = tmp_path / "notes.txt"
    text.write_text("my notes")
    for target in (theirs, text):
        with pytest.raises(MappingFileError, match=f"{target.name}.*not a mapping file.*not "
                                                   "overwritten"):
            sim.save_mapping(str(target))
    with pytest.raises(MappingFileError, match="is a directory"):
        sim.save_mapping(str(tmp_path))
    assert theirs.read_bytes() == before and text.read_text() == "my notes"
    # an existing mapping file is replaced
    mine = tmp_path / "mine.npz"
    sim.save_mapping(str(mine))
    sim.save_mapping(str(mine))
    assert MappingResult.load(mine).fingerprint == sim.get_mapping().fingerprint


def test_writes_are_atomic_and_leave_no_temporary_file(wafer_sim, tmp_path, monkeypatch):
    """Ctrl-C while the file is written leaves the previous file intact and no temporary
    file (before: a truncated file that every later run failed on)."""
    sim = wafer_sim
    sim.setup(defects="none")
    _net(sim)
    sim.run(1.0)
    path = tmp_path / "m.npz"
    sim.save_mapping(str(path))
    before = path.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def interrupted(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            fp.write(b"\x00" * 100)
            raise KeyboardInterrupt
        return real(fp, array, *args, **kwargs)
    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sim.save_mapping(str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]
    monkeypatch.setattr(np.lib.format, "write_array", real)
    assert MappingResult.load(str(path)).fingerprint == sim.get_mapping().fingerprint


def test_mapping_file_keyword_accepts_none_or_a_path(wafer_sim, tmp_path):
    sim = wafer_sim
    for bad in (1, 2.5, True, b"m.npz", ["m.npz"]):
        with pytest.raises(TypeError, match=r"setup\(mapping_file=.*expected None or a path"):
            sim.setup(mapping_file=bad)
    with pytest.raises(ValueError, match=r"setup\(mapping_file=''\)"):
        sim.setup(mapping_file="")
    sim.setup(defects="none", mapping_file=tmp_path / "m.npz")
    assert sim.get_backend().options.mapping.mapping_file == str(tmp_path / "m.npz")


# ====================================================================== 2. reuse checks
def test_reuse_rechecks_the_synapse_loss(wafer_sim, tmp_path):
    """A mapping made with continue_despite_synapse_loss=True and reused without it raises
    (before: synapses were lost silently)."""
    sim = wafer_sim
    path = str(tmp_path / "lossy.npz")
    sim.setup(neuron_size=2, defects="none", continue_despite_synapse_loss=True,
              mapping_file=path)
    _lossy_net(sim)
    sim.run(1.0)
    lost = sim.get_mapping_statistics().synapses_lost
    assert lost > 0
    sim.setup(neuron_size=2, defects="none", continue_despite_synapse_loss=False,
              mapping_file=path)
    _lossy_net(sim)
    with pytest.raises(SynapseLossError, match=f"lossy.npz' lost {lost} of"):
        sim.run(1.0)
    sim.setup(neuron_size=2, defects="none", continue_despite_synapse_loss=True,
              mapping_file=path)
    _lossy_net(sim)
    sim.run(1.0)
    assert sim.get_mapping_statistics().synapses_lost == lost


def test_reuse_on_another_defect_map_is_refused(wafer_sim, tmp_path):
    """A mapping made with defects='none' on a HICANN the current defect map marks dead
    (before: it ran there)."""
    sim = wafer_sim
    path = str(tmp_path / "m.npz")
    sim.setup(defects="none", mapping_file=path)
    _, pop, _ = _net(sim)
    sim.run(1.0)
    used = sim.get_placement(pop)[0].hicann
    defects = tmp_path / "defects.json"
    defects.write_text(json.dumps({"hicanns": [used]}))
    sim.setup(defects=str(defects), mapping_file=path)
    _net(sim)
    with pytest.raises(MappingFileError, match=r"m\.npz' was made for another defect map "
                                               r"\(DefectMap\(blacklisted: hicanns 0/384.*now "
                                               r"DefectMap\(blacklisted: hicanns 1/384"):
        sim.run(1.0)
    # the wafer seed draws the default defect map: another seed, another map
    sim.setup(defects="default", wafer_seed=1, mapping_file=path)
    _net(sim)
    with pytest.raises(MappingFileError, match="another defect map"):
        sim.run(1.0)


@pytest.mark.parametrize("keyword, value, option", [
    ("driver_chain_length", 2, "synapse_routing.driver_chain_length=3 (now 2)"),
    ("merger_routing", "one_to_one", "merger_routing.strategy='auto' (now 'one_to_one')"),
    ("l1_routing", "dijkstra", "l1_routing.algorithm='backbone+dijkstra' (now 'dijkstra')"),
    ("speedup", 2e4, "speedup=10000.0 (now 20000.0)"),
])
def test_reuse_with_other_mapping_options_is_refused(wafer_sim, tmp_path, keyword, value,
                                                     option):
    sim = wafer_sim
    path = str(tmp_path / "m.npz")
    sim.setup(defects="none", mapping_file=path)
    _net(sim)
    sim.run(1.0)
    sim.setup(defects="none", mapping_file=path, **{keyword: value})
    _net(sim)
    with pytest.raises(MappingFileError, match=r"m\.npz' was made for mapping option "
                                               + option.replace("(", r"\(").replace(")", r"\)")
                                               .replace(".", r"\.").replace("+", r"\+")):
        sim.run(1.0)


def test_reuse_needs_neither_the_same_seed_nor_loss_policy_when_they_do_not_matter(
        wafer_sim, tmp_path, monkeypatch):
    """What does not change the mapping does not block the reuse: the wafer seed under
    defects='none' (the same defect map), options of the neuron programming, the loss policy
    of a mapping without loss, the default neuron size of populations that set their own."""
    sim = wafer_sim
    path = str(tmp_path / "m.npz")
    sim.setup(defects="none", mapping_file=path, continue_despite_synapse_loss=True)
    _, pop, _ = _net(sim)
    sim.set_neuron_size(pop, 4)
    sim.run(1.0)
    before = [(p.hicann, p.denmems, p.l1_address) for p in sim.get_placement(pop)]
    sim.setup(defects="none", mapping_file=path, wafer_seed=7, calibration="off",
              continue_despite_synapse_loss=False, neuron_size=8)
    _, pop, _ = _net(sim)
    sim.set_neuron_size(pop, 4)
    _no_remap(monkeypatch)
    sim.run(1.0)
    assert [(p.hicann, p.denmems, p.l1_address) for p in sim.get_placement(pop)] == before


def test_a_file_without_the_record_of_its_setup_is_not_reused(wafer_sim, tmp_path):
    sim = wafer_sim
    path = tmp_path / "m.npz"
    sim.setup(defects="none", mapping_file=str(path))
    _net(sim)
    sim.run(1.0)
    _rewrite(path, conditions=None, format=None)      # as written before issue 13
    assert MappingResult.load(path).conditions is None   # still readable
    sim.setup(defects="none", mapping_file=str(path))
    _net(sim)
    with pytest.raises(MappingFileError, match="older version.*delete it"):
        sim.run(1.0)


# ====================================================================== 3. validation
def test_a_truncated_file_is_named(wafer_sim, tmp_path):
    """Before: KeyError: 'statistics' or an EOF error that did not name the file."""
    sim = wafer_sim
    path = tmp_path / "m.npz"
    sim.setup(defects="none", mapping_file=str(path))
    _net(sim)
    sim.run(1.0)
    data = path.read_bytes()
    for cut in (len(data) // 2, 30, 0):
        path.write_bytes(data[:cut])
        sim.setup(defects="none", mapping_file=str(path))
        _net(sim)
        with pytest.raises(MappingFileError, match=r"mapping file '.*m\.npz'.*not a readable "
                                                   r"\.npz.*written completely"):
            sim.run(1.0)


@pytest.mark.parametrize("field, value, message", [
    ("realized", lambda a: a.astype(np.int64), r"member 'realized' has dtype int64.*'b'"),
    ("delay_ms", lambda a: np.where(np.arange(a.size) == 0, -1.0, a),
     r"field 'delay_ms': value -1.0 at index 0; a realised synapse's routed delay is finite"),
    ("delay_ms", lambda a: np.where(np.arange(a.size) == 1, np.inf, a),
     r"field 'delay_ms': value inf at index 1"),
    ("placement.hicann", lambda a: np.where(a >= 0, 384, a),
     r"field 'placement.hicann': value 384 at index 4; allowed -1..383"),
    ("syn_row", lambda a: np.where(np.arange(a.size) == 2, 448, a),
     r"field 'syn_row': value 448 at index 2; allowed 0..447"),
    ("realized", lambda a: a[:-1], r"member 'realized' has length \d+ on axis 0; expected"),
    ("routes.req_source", lambda a: a + 100, r"field 'routes.req_source': value 10\d"),
    ("statistics", lambda a: np.array("{"), r"field 'statistics': not valid JSON"),
])
def test_a_tampered_file_is_refused_naming_the_field(wafer_sim, tmp_path, field, value,
                                                     message):
    """Before: ``realized`` stored as int64 ran with all but one synapse NaN; negative delays
    were raised to dt silently."""
    sim = wafer_sim
    path = tmp_path / "m.npz"
    sim.setup(defects="none", mapping_file=str(path))
    _net(sim)
    sim.run(1.0)
    _rewrite(path, **{field: value(_arrays(path)[field])})
    sim.setup(defects="none", mapping_file=str(path))
    _net(sim)
    with pytest.raises(MappingFileError, match=r"mapping file '.*m\.npz'.*" + message):
        sim.run(1.0)
    with pytest.raises(MappingFileError, match=message):
        MappingResult.load(path)


# ---------------------------------------------------------------------- fuzzing
def _fuzz_graph() -> BioGraph:
    """8 sources and 24 neurons (size 2) with recurrent and STP connections: some synapses
    lost, so realised and lost entries are both in the file."""
    rng = np.random.default_rng(5)
    pre = np.r_[np.repeat(np.arange(8), 24), rng.integers(8, 32, 300)]
    post = np.r_[np.tile(np.arange(8, 32), 8), rng.integers(8, 32, 300)]
    n = pre.size
    return BioGraph(size=np.array([8, 24]), is_source=np.array([True, False]),
                    neuron_size=np.array([0, 2]), manual_hicanns=[None, None],
                    label=["src", "pop"], rate=np.full(32, 10.0), pre=pre, post=post,
                    receptor=rng.integers(0, 2, n), projection=(np.arange(n) >= 192) * 1,
                    projection_label=["in", "rec"],
                    stp_key=np.where(np.arange(n) % 5 == 0, 3, 0),
                    stimulus=np.where(np.arange(32) == 10, 0, -1))


_FUZZ = {}


def _fuzz_setup(tmp_dir):
    """The mapping of :func:`_fuzz_graph` (once), saved; its arrays and loaded result."""
    if not _FUZZ:
        graph = _fuzz_graph()
        defects = DefectMap.generate(3)
        options = MappingOptions(continue_despite_synapse_loss=True)
        result = map_network(graph, options, defects)
        assert result.statistics.synapses_lost > 0
        path = os.path.join(tmp_dir, "fuzz.npz")
        result.save(path)
        _FUZZ.update(graph=graph, defects=defects, options=options, arrays=_arrays(path),
                     original=load_for_reuse(path, graph, options, defects))
    return _FUZZ


#: fields no run reads: which V-bus a route ends on, the length of a route that carries no
#: realised synapse (the realised ones' lengths are checked through their delays) and the
#: L1 addresses (only get_placement reports them; range, reserved values and uniqueness per
#: DNC merger are checked)
_NOT_RUN = ("req_vline", "req_hops", "address", "neuron_address")


#: a realised synapse's slot: the file's choice among legal slots is not re-derived
_SLOT_FIELDS = ("syn_row", "syn_column")


def _same(a: MappingResult, b: MappingResult) -> bool:
    """Same run: every field a run reads is equal (statistics aside: they are checked against
    the arrays when loading)."""
    for f in dataclasses.fields(MappingResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name in _NOT_RUN:
            continue
        if dataclasses.is_dataclass(x) and not isinstance(x, pipeline.MappingStatistics):
            if not all(np.array_equal(getattr(x, g.name), getattr(y, g.name))
                       for g in dataclasses.fields(x) if g.name not in _NOT_RUN):
                return False
        elif x is None or y is None:
            if not (x is None and y is None):
                return False
        elif isinstance(x, np.ndarray):
            if x.dtype != y.dtype and f.name != "delay_ms" or \
                    not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
        elif x != y:
            return False
    return True


_DTYPES = ["bool", "int8", "uint8", "int16", "int32", "int64", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "U3", "S2"]


@st.composite
def _mutation(draw):
    names = sorted(n for n in _fuzz_setup_names())
    name = draw(st.sampled_from(names))
    kind = draw(st.sampled_from(["dtype", "shape", "value", "nudge", "drop"]))
    if kind == "dtype":
        return name, kind, draw(st.sampled_from(_DTYPES))
    if kind == "shape":
        return name, kind, draw(st.sampled_from(["cut", "extend", "2d", "0d"]))
    if kind == "nudge":       # a near miss: one entry off by one
        return name, kind, (draw(st.integers(0, 10 ** 6)), draw(st.sampled_from([-1, 1])))
    if kind == "value":
        return name, kind, (draw(st.integers(0, 10 ** 6)),
                            draw(st.sampled_from([-2, -1, 0, 1, 7, 63, 64, 255, 256, 383, 384,
                                                  447, 448, 2 ** 31, 2 ** 62, -2 ** 40,
                                                  float("nan"), float("inf"), -0.5, 0.5])))
    return name, kind, None


def _fuzz_setup_names():
    return ["placement.hicann", "placement.block", "placement.x0", "placement.width",
            "placement.stimulus_denmem", "mergers.dnc_merger", "mergers.block_to_merger",
            "sources.hicann", "sources.dnc_merger", "sources.address", "routes.source_hicann",
            "routes.source_merger", "routes.req_source", "routes.req_target", "routes.req_ok",
            "routes.req_vline", "routes.req_side", "routes.req_hops", "neuron_address",
            "realized", "delay_ms", "syn_hicann", "syn_row", "syn_column", "driver_stp",
            "statistics", "fingerprint", "format", "conditions"]


def _mutate(a: np.ndarray, kind: str, arg) -> np.ndarray:
    if kind == "dtype":
        with np.errstate(all="ignore"):
            try:
                return a.astype(arg)
            except (ValueError, TypeError, OverflowError):
                return np.array(0)
    if kind == "shape":
        if arg == "cut":
            return a.reshape(-1)[:-1] if a.size else np.zeros(1, a.dtype)
        if arg == "extend":
            return np.concatenate([a.reshape(-1), a.reshape(-1)[:1]]) if a.size \
                else np.zeros(1, a.dtype)
        if arg == "2d":
            return a.reshape(1, -1) if a.ndim == 1 else a.reshape(-1)
        return np.array(a.reshape(-1)[0]) if a.size else np.array(0, a.dtype)
    index, value = arg
    if kind == "nudge" and a.size and a.dtype.kind in "iuf":
        flat = a.copy().reshape(-1)
        realised = np.flatnonzero(np.isfinite(flat)) if a.dtype.kind == "f" else \
            np.arange(flat.size)
        if realised.size:
            i = realised[index % realised.size]
            with np.errstate(all="ignore"):
                flat[i] = flat[i] + value * (0.0397 if a.dtype.kind == "f" else 1)
        return flat.reshape(a.shape)
    if kind == "nudge":
        return ~a if a.dtype.kind == "b" else a
    if a.size == 0 or a.dtype.kind == "U":
        return np.array(str(value))
    flat = a.copy().reshape(-1)
    i = index % flat.size
    try:
        with np.errstate(all="ignore"):
            flat[i] = value
    except (ValueError, OverflowError, TypeError):
        flat = flat.astype(object if a.dtype.kind != "b" else np.int64)
        flat[i] = value
        if flat.dtype == object:
            flat = np.array([v for v in flat], dtype=np.float64)
    return flat.reshape(a.shape)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(mutation=_mutation())
def test_fuzzed_mapping_files_are_refused_or_load_unchanged(tmp_path, mutation):
    """A saved mapping file with one member's dtype, shape or one value changed (or the
    member removed) is refused with a MappingFileError, or loads exactly as the original
    (a lossless dtype change): never a silently different mapping."""
    fz = _fuzz_setup(str(tmp_path))
    name, kind, arg = mutation
    data = dict(fz["arrays"])
    if kind == "drop":
        data.pop(name)
    else:
        data[name] = _mutate(data[name], kind, arg)
    path = tmp_path / "mutated.npz"
    if path.exists():
        path.unlink()
    np.savez(open(path, "wb"), **data)
    try:
        got = load_for_reuse(path, fz["graph"], fz["options"], fz["defects"])
    except MappingFileError as err:
        assert "mutated.npz" in str(err)
        return
    if kind == "nudge" and name in _SLOT_FIELDS:
        # a realised synapse moved to the neighbouring row or column: accepted only where
        # that slot is a legal alternative (same driver and route, a free slot, the row's
        # receptor, the half row's address decoder, a column of the same neuron)
        original = getattr(fz["original"], name)
        assert np.count_nonzero(getattr(got, name) != original) == 1
        got = dataclasses.replace(got, **{name: original})
    assert _same(got, fz["original"]), f"{mutation} loaded as a different mapping"


# ====================================================================== 4. zip bombs
def _add_member(path, name: str, n_bytes: int) -> None:
    """Append a member of ``n_bytes`` zeros (deflated: a few hundred kB per 100 MB)."""
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "|b1", "fortran_order": False, "shape": (n_bytes,)})
            chunk = bytes(2 ** 22)
            for _ in range(n_bytes // len(chunk)):
                f.write(chunk)
            f.write(bytes(n_bytes % len(chunk)))


def test_members_are_checked_before_they_are_inflated(wafer_sim, tmp_path):
    """A small file with a large deflated member is refused without inflating it (before: a
    3 MB file with a 3 GB member loaded in 19 s and 3.1 GB; here 256 MB)."""
    sim = wafer_sim
    sim.setup(defects="none")
    _net(sim)
    sim.run(1.0)
    clean = tmp_path / "m.npz"
    sim.save_mapping(str(clean))
    extra = tmp_path / "extra.npz"
    extra.write_bytes(clean.read_bytes())
    _add_member(extra, "extra.npy", 2 ** 28)
    bomb = tmp_path / "bomb.npz"
    data = _arrays(clean)
    data.pop("realized")
    np.savez(open(bomb, "wb"), **data)
    _add_member(bomb, "realized.npy", 2 ** 28)     # a known member, far too long
    assert os.path.getsize(bomb) < 2 ** 21
    for path, message in ((extra, "unexpected member 'extra'"),
                          (bomb, r"member 'realized' declares 2684\d+ bytes uncompressed")):
        tracemalloc.start()
        with pytest.raises(MappingFileError, match=f"{path.name}'.*{message}"):
            MappingResult.load(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 2 ** 24, f"{path.name}: {peak} bytes allocated"


def test_archive_reads_only_what_it_expects(tmp_path):
    """The standalone reader: names, kinds, shapes, named dimensions, sizes declared in the
    zip directory, object dtypes, and atomic writes."""
    path = tmp_path / "a.npz"
    archive.write_npz_atomic(path, {"w": np.ones((3, 4), np.float32), "n": np.arange(3),
                                    "s": np.array("text")})
    specs = {"w": archive.MemberSpec("f", ("rows", 4)), "n": archive.MemberSpec("iu", ("rows",)),
             "s": archive.MemberSpec("U", (), max_itemsize=400)}
    dims = {}
    out = archive.read_npz(path, specs, dims=dims)
    assert list(out) == ["w", "n", "s"] and dims == {"rows": 3}
    assert out["w"].dtype == np.float32 and out["w"].flags.writeable
    assert str(out["s"]) == "text"

    class Bad(Exception):
        pass

    def refused(expected, match, **kw):
        with pytest.raises(Bad, match=r"^weights '.*a\.npz': " + match):
            archive.read_npz(path, expected, what="weights", error=Bad, **kw)
    refused({**specs, "x": archive.MemberSpec("f")}, r"member\(s\) missing: x")
    refused({"w": specs["w"], "n": specs["n"]}, "unexpected member 's'")
    refused(specs, r"member 'w' has length 3 on axis 0; expected 5 \(rows\)",
            dims={"rows": 5})
    refused({**specs, "n": archive.MemberSpec("f", ("rows",))}, r"member 'n' has dtype int64")
    refused({**specs, "w": archive.MemberSpec("f", (3,))}, r"member 'w' has shape \(3, 4\)")
    refused({**specs, "w": archive.MemberSpec("f", max_bytes=40)},
            r"member 'w' has shape \(3, 4\) \(48 bytes\), more than the 40 bytes allowed")
    assert archive.read_npz(path, {"n": specs["n"]}, allow_unknown=True)["n"].tolist() == \
        [0, 1, 2]
    with pytest.raises(ValueError, match="dtype object"):
        archive.write_npz_atomic(path, {"o": np.array([{}], dtype=object)})
    np.savez(tmp_path / "o.npz", o=np.array([{}], dtype=object))
    with pytest.raises(archive.ArchiveError, match="member 'o' has dtype object"):
        archive.read_npz(tmp_path / "o.npz", {"o": archive.MemberSpec("O")})
    (tmp_path / "t.npz").write_bytes(path.read_bytes()[:50])
    with pytest.raises(archive.ArchiveError, match=r"t\.npz'.*not a readable \.npz"):
        archive.read_npz(tmp_path / "t.npz", specs)
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "o.npz", "t.npz"]


def test_archive_refuses_a_member_whose_directory_lies(tmp_path):
    """A member whose central directory declares fewer bytes than it inflates to is cut
    there by zipfile; its data length or CRC then does not match: refused."""
    path = tmp_path / "a.npz"
    archive.write_npz_atomic(path, {"n": np.arange(1000)}, compress=False)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("n.npy")
    # patch the uncompressed size in the central directory and the local header
    size = info.file_size.to_bytes(4, "little")
    small = (info.file_size - 800).to_bytes(4, "little")
    assert raw.count(size) >= 1
    raw = raw.replace(size, small)
    path.write_bytes(bytes(raw))
    with pytest.raises(archive.ArchiveError, match="member 'n'"):
        archive.read_npz(path, {"n": archive.MemberSpec("iu", (1000,))})


# ====================================================================== 6. defect files
def test_defect_files_with_bad_text_are_named(wafer_sim, tmp_path):
    """Before: a non-UTF-8 file gave 'TypeError: function takes exactly 5 arguments',
    deep nesting a bare RecursionError, and a duplicate key silently kept the last."""
    sim = wafer_sim
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"comment": "Stra\xdfe", "hicanns": [1]}')
    with pytest.raises(ValueError, match=r"setup\(defects=.*latin\.json.*not UTF-8 text "
                                         r"\(byte 0xdf at position 17"):
        sim.setup(defects=str(latin))
    deep = tmp_path / "deep.json"
    deep.write_text('{"comment": "[[[", "hicanns": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(ValueError, match=r"deep\.json.*nested deeper than 32 levels"):
        DefectMap.from_json(deep)
    twice = tmp_path / "twice.json"
    twice.write_text('{"hicanns": [1], "drivers": {"5": [1]}, "hicanns": [2]}')
    with pytest.raises(ValueError, match=r"twice\.json.*key 'hicanns' appears twice"):
        DefectMap.from_json(twice)
    inner = tmp_path / "inner.json"
    inner.write_text('{"drivers": {"5": [1], "5": [2]}}')
    with pytest.raises(ValueError, match=r"inner\.json.*key '5' appears twice"):
        sim.setup(defects=str(inner))
    ok = tmp_path / "ok.json"
    ok.write_text('{"comment": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"", "hicanns": [1, 1]}')
    assert not DefectMap.from_json(ok).hicann_ok[1]


def test_mapping_errors_are_mapping_errors():
    """MappingFileError is a MappingError (scripts catching those keep working) and a
    ValueError (a bad file is a bad value)."""
    assert issubclass(MappingFileError, MappingError)
    assert issubclass(MappingFileError, ValueError)


def test_archive_reader_raises_only_the_callers_error_once(tmp_path):
    """A damaged deflate stream (zlib.error) and the caller's own error class come out as the
    caller's error, with the file named once (found by the checkpoint fuzzing)."""
    import zipfile

    from pyNN_bss_emu.archive import MemberSpec, read_npz, write_npz_atomic

    class MyError(ValueError):
        pass

    path = tmp_path / "a.npz"
    write_npz_atomic(path, {"x": np.arange(1000.0)}, compress=True)
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
        offset = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw = bytearray(path.read_bytes())
    for k in range(offset + 20, offset + 60):        # inside the deflate stream
        raw[k] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(MyError) as exc:
        read_npz(path, {"x": MemberSpec("f", (1000,))}, what="thing", error=MyError)
    msg = str(exc.value)
    assert msg.count(str(path)) == 1 and "member 'x'" in msg
    assert "MyError" not in msg
