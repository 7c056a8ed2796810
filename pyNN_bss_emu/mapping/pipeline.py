"""Runs the mapper's stages in marocco's order and accounts for synapse loss.

``map_network(graph, options, defects)`` -> :class:`MappingResult`.  Every stage's wall time is
recorded; realised + lost == requested is checked before returning.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import zipfile
from dataclasses import dataclass, field, asdict, fields, is_dataclass

import numpy as np

from ..archive import MemberSpec, read_npz, write_npz_atomic
from ..hardware import wafer
from . import addresses, input_placement, l1_routing, merger_routing, placement, synapses
from . import stp as _stp
# the options live with the other stage options; re-exported so that
# ``from pyNN_bss_emu.mapping.pipeline import MappingOptions`` keeps working
from .options import AUTO_SIZE_SENTINEL, MULTAPSE_MODES, MappingOptions
from .types import BioGraph, L1Routes, MappingError, MergerRouting, NeuronPlacement, \
    SourcePlacement

#: routed delay model (brainscales1.md section 8): d = slope * HICANNs on the route + offset
DELAY_PER_HOP_MS = 0.0397
DELAY_OFFSET_MS = 0.6444


class MappingFileError(MappingError, ValueError):
    """A mapping file cannot be used: damaged, not a mapping file, inconsistent, or made for
    another network, wafer or mapping options (the message names the file, the field and
    what is allowed).  A ``ValueError`` too: the file's content is a bad value."""


class SynapseLossError(MappingError):
    """Synapses could not be realised and ``continue_despite_synapse_loss`` is False."""

    def __init__(self, message: str, statistics: "MappingStatistics") -> None:
        super().__init__(message)
        self.statistics = statistics

    def __reduce__(self):
        # picklable with its statistics (broadcast from the rank that mapped, under MPI)
        return type(self), (str(self), self.statistics)


@dataclass
class ProjectionLoss:
    label: str
    requested: int
    realized: int
    lost: int

    @property
    def loss(self) -> float:
        return self.lost / self.requested if self.requested else 0.0


@dataclass
class MappingStatistics:
    """Summary of a mapping (like marocco's ``MappingStats``); times in seconds."""
    synapses_requested: int
    synapses_realized: int
    synapses_lost: int
    synapses_lost_l1: int
    synapses_lost_drivers: int
    synapses_lost_synapse_array: int
    synapses_lost_multapse: int
    neurons_placed: int
    sources_placed: int
    hicanns_used: int
    l1_routes: int
    l1_routes_failed: int
    #: synapses of virtual sources (neurons of another wafer) that the input placement
    #: had no room for (systems of wafers, issue 16)
    synapses_lost_input: int = 0
    per_projection: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    #: 4-bit weight realisation (updated whenever weights are written): counts of synapses
    #: ``disabled`` (weight 0), ``clipped`` (above the row's largest level), ``rounded_to_zero``
    #: (digital 0, which still conducts g(0)), ``below_min`` (requested below g(0))
    weights: dict = field(default_factory=dict)
    #: synapse drivers in use per STP mode: ``{"static": n, "depression": n,
    #: "facilitation": n}`` (a driver carries one STP setting)
    stp_drivers: dict = field(default_factory=dict)
    #: denmems per logical neuron of every neuron population, by label: as requested, or as
    #: the mapper chose it for ``neuron_size="auto"`` (:func:`.placement.auto_sizes`)
    neuron_sizes: dict = field(default_factory=dict)

    @property
    def synapse_loss(self) -> float:
        """Fraction of requested synapses that could not be realised."""
        return self.synapses_lost / self.synapses_requested if self.synapses_requested else 0.0

    def __str__(self) -> str:
        lines = [f"MappingStatistics: synapse loss {self.synapses_lost} of "
                 f"{self.synapses_requested} ({100 * self.synapse_loss:.2f} %; "
                 f"{self.synapses_lost_l1} after L1 routing, {self.synapses_lost_drivers} for "
                 f"want of synapse drivers, {self.synapses_lost_synapse_array} for want of "
                 f"synapse slots, {self.synapses_lost_multapse} multapses"
                 + (f", {self.synapses_lost_input} from other wafers for want of input "
                    "bandwidth" if self.synapses_lost_input else "") + ")",
                 f"  neurons placed {self.neurons_placed}, spike sources placed "
                 f"{self.sources_placed}, HICANNs used {self.hicanns_used}, L1 routes "
                 f"{self.l1_routes} ({self.l1_routes_failed} failed)"]
        if self.stp_drivers:
            lines.append("  synapse drivers: " + ", ".join(f"{k} {v}" for k, v in
                                                         self.stp_drivers.items()))
        if self.neuron_sizes:
            lines.append("  neuron sizes: " + ", ".join(f"{k} {v}" for k, v in
                                                      self.neuron_sizes.items()))
        for p in self.per_projection:
            lines.append(f"  projection {p.label}: {p.lost} of {p.requested} lost "
                         f"({100 * p.loss:.2f} %)")
        lines.append("  timings (s): " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                  self.timings.items()))
        if self.weights:
            lines.append("  4-bit weights: " + ", ".join(f"{k} {v}" for k, v in
                                                       self.weights.items()))
        return "\n".join(lines)


@dataclass
class MappingResult:
    """Everything the surface needs from a mapping, as arrays indexed by mapper cell or by
    connection (in ``BioGraph`` numbering)."""
    placement: NeuronPlacement
    mergers: MergerRouting
    neuron_address: np.ndarray
    sources: SourcePlacement
    routes: L1Routes
    realized: np.ndarray          # per connection
    delay_ms: np.ndarray          # per connection: routed delay (NaN where not realised)
    statistics: MappingStatistics
    fingerprint: str
    syn_hicann: np.ndarray = None  # per connection: hardware synapse (-1 where lost)
    syn_row: np.ndarray = None     # synapse row 0..447
    syn_column: np.ndarray = None  # synapse column 0..255
    #: per HICANN and driver: the STP key the driver is configured for (-1 unused; mapping.stp)
    driver_stp: np.ndarray = None
    #: what the mapping was made for (:func:`mapping_conditions`: network fingerprint, defect
    #: map, mapping options); None in files written before issue 13
    conditions: dict | None = None

    def locate(self, cell: int) -> tuple[int, "MappingResult", int]:
        """(wafer, mapping, the cell's number there): on one wafer (0, self, cell); see
        :meth:`.system.SystemMapping.locate`."""
        return 0, self, int(cell)

    def cell_hicann(self) -> np.ndarray:
        """HICANN of every cell (neurons from placement, sources from input placement)."""
        return np.where(self.placement.hicann >= 0, self.placement.hicann, self.sources.hicann)

    def cell_address(self) -> np.ndarray:
        return np.where(self.neuron_address >= 0, self.neuron_address, self.sources.address)

    def cell_merger(self) -> np.ndarray:
        return np.where(self.mergers.dnc_merger >= 0, self.mergers.dnc_merger,
                        self.sources.dnc_merger)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the mapping to exactly ``path`` (no suffix is appended; ``.npz`` is the
        convention) as a compressed numpy archive.

        The write is atomic (a temporary file in the same directory, then ``os.replace``): an
        error or Ctrl-C leaves the previous file or none, never a truncated one.  An existing
        file is replaced only if it is a mapping file; anything else (a user's own ``.npz``, a
        directory, a damaged file) raises :class:`MappingFileError` and stays untouched.
        """
        fspath = _check_path(path)
        _refuse_foreign_file(fspath)
        arrays = {}
        for prefix, rec in (("placement", self.placement), ("mergers", self.mergers),
                            ("sources", self.sources), ("routes", self.routes)):
            for name, value in asdict(rec).items():
                if value is not None:      # optional fields of older mappings
                    arrays[f"{prefix}.{name}"] = np.asarray(value)
        arrays["neuron_address"] = self.neuron_address
        arrays["realized"] = self.realized
        arrays["delay_ms"] = self.delay_ms
        arrays["syn_hicann"] = self.syn_hicann
        arrays["syn_row"] = self.syn_row
        arrays["syn_column"] = self.syn_column
        if self.driver_stp is not None:
            arrays["driver_stp"] = self.driver_stp
        stats = asdict(self.statistics)
        arrays["statistics"] = np.array(json.dumps(stats))
        arrays["fingerprint"] = np.array(self.fingerprint)
        arrays["format"] = np.array(MAPPING_FORMAT)
        if self.conditions is not None:
            arrays["conditions"] = np.array(json.dumps(self.conditions, sort_keys=True))
        write_npz_atomic(fspath, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MappingResult":
        """Read and validate a mapping file (without a network to compare it with: every
        array's dtype, shape and range and their consistency with each other and with the
        statistics).  Raises :class:`MappingFileError` naming the file and the field.
        :func:`load_for_reuse` also checks it against a network, wafer and options."""
        fspath = _check_path(path)
        header = _read_header(fspath)
        stats = _parse_statistics(header, fspath)
        # without a network the statistics bound the connection count, so no member is
        # inflated beyond what the file itself claims (and never beyond the absolute cap)
        dims = {"connections": min(int(stats["synapses_requested"]), MAX_CONNECTIONS)}
        data = _read_arrays(fspath, dims, strict=False)
        return _build(data, header, stats, fspath, graph=None, defects=None)


#: the ``format`` member of mapping files; files without it (written before issue 13) do not
#: record the wafer and options they were made for and are not reused
MAPPING_FORMAT = "pyNN.bss_emu mapping 2"
#: mapping options that do not enter the reuse check: where the mapping is kept, the loss
#: policy (checked anew at every reuse: :func:`load_for_reuse`) and the default neuron size
#: (the neuron size of every population is part of the network fingerprint)
NOT_CONDITIONS = ("mapping_file", "continue_despite_synapse_loss",
                  "neuron_placement.default_neuron_size")
#: most cells a mapping can place: a neuron per denmem column, 64 addresses per input merger
MAX_CELLS = wafer.N_HICANN * (wafer.DENMEM_COLUMNS + wafer.N_DNC_MERGERS * 64)
#: most route sources (used DNC mergers) and L1 requests (sources x target HICANNs)
MAX_ROUTE_SOURCES = wafer.N_HICANN * wafer.N_DNC_MERGERS
MAX_REQUESTS = MAX_ROUTE_SOURCES * wafer.N_HICANN
#: most connections ``MappingResult.load`` reads without a network (lost ones are not bounded
#: by the wafer); :func:`load_for_reuse` reads exactly the network's count
MAX_CONNECTIONS = 2 ** 28
#: longest routed delay: a route passes each HICANN at most once
MAX_ROUTED_DELAY_MS = DELAY_PER_HOP_MS * wafer.N_HICANN + DELAY_OFFSET_MS


def _check_path(path) -> str:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"mapping file path {path!r}: expected a non-empty str or os.PathLike")
    fspath = os.fspath(path)
    if not isinstance(fspath, str):     # a bytes path-like
        raise TypeError(f"mapping file path {path!r}: expected a str path, not bytes")
    return fspath


def _is_mapping_file(path: str) -> bool:
    """Whether ``path`` is a zip archive with a mapping's members (any version)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return {"fingerprint.npy", "statistics.npy", "realized.npy"} <= names


def _refuse_foreign_file(path: str) -> None:
    """:class:`MappingFileError` if ``path`` exists and is not a mapping file (so it is
    never overwritten)."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path):
        raise MappingFileError(f"mapping file '{path}' is a directory; name a file")
    if not os.path.isfile(path) or not _is_mapping_file(path):
        raise MappingFileError(
            f"mapping file '{path}' exists and is not a mapping file (not a .npz archive with "
            "a mapping's 'fingerprint', 'statistics' and 'realized' members, or damaged); it is "
            "not overwritten: delete it or name another file")


_U = 4                 # bytes per character of numpy's unicode dtype
_HEADER_SPECS = {
    "format": MemberSpec("U", (), max_itemsize=_U * 64, required=False),
    "fingerprint": MemberSpec("U", (), max_itemsize=_U * 64),
    "conditions": MemberSpec("U", (), max_itemsize=_U * 2 ** 20, required=False),
    "statistics": MemberSpec("U", (), max_itemsize=_U * 2 ** 24),
}
_CELL_FIELDS = ("placement.hicann", "placement.block", "placement.x0", "placement.width",
                "mergers.dnc_merger", "sources.hicann", "sources.dnc_merger",
                "sources.address", "neuron_address")
_CONN_FIELDS = ("syn_hicann", "syn_row", "syn_column")
_ARRAY_SPECS = {
    **{name: MemberSpec("iu", ("cells",)) for name in _CELL_FIELDS},
    "placement.stimulus_denmem": MemberSpec("iu", ("cells",), required=False),
    "mergers.block_to_merger": MemberSpec("iu", (wafer.N_HICANN, wafer.N_NEURON_BLOCKS)),
    "routes.source_hicann": MemberSpec("iu", ("route sources",)),
    "routes.source_merger": MemberSpec("iu", ("route sources",)),
    **{f"routes.{n}": MemberSpec("iu", ("requests",))
       for n in ("req_source", "req_target", "req_vline", "req_side", "req_hops")},
    "routes.req_ok": MemberSpec("b", ("requests",), max_itemsize=1),
    "realized": MemberSpec("b", ("connections",), max_itemsize=1),
    "delay_ms": MemberSpec("f", ("connections",)),
    **{name: MemberSpec("iu", ("connections",)) for name in _CONN_FIELDS},
    "driver_stp": MemberSpec("iu", (wafer.N_HICANN, wafer.N_SYNAPSE_DRIVERS), required=False),
}
# bounds of the dimensions no network fixes (members inflate at most this much)
_DIM_CAPS = {"cells": MAX_CELLS, "route sources": MAX_ROUTE_SOURCES,
             "requests": MAX_REQUESTS}


def _specs_with_caps(dims: dict) -> dict:
    """The array specs with byte caps for the dimensions ``dims`` does not fix."""
    out = {}
    for name, spec in _ARRAY_SPECS.items():
        dim = spec.shape[0]
        if isinstance(dim, str) and dim not in dims and dim in _DIM_CAPS:
            spec = MemberSpec(spec.kinds, spec.shape, max_itemsize=spec.max_itemsize,
                              max_bytes=_DIM_CAPS[dim] * spec.max_itemsize,
                              required=spec.required)
        out[name] = spec
    return out


def _read_header(path: str) -> dict:
    """The small members (format, fingerprint, conditions, statistics), read first so that
    an old or foreign file is named before any array is inflated."""
    return read_npz(path, _HEADER_SPECS, what="mapping file", error=MappingFileError,
                    allow_unknown=True)


def _read_arrays(path: str, dims: dict, strict: bool) -> dict:
    """Every member (unknown ones refused), with the named dimensions in ``dims`` fixed.
    ``strict``: the members older files may lack (``placement.stimulus_denmem``,
    ``driver_stp``) are required too (for a reuse: a missing one would only fail later, or
    drop the drivers' STP settings)."""
    specs = _specs_with_caps(dims)
    if strict:
        specs = {n: dataclasses.replace(spec, required=True) for n, spec in specs.items()}
    return read_npz(path, {**_HEADER_SPECS, **specs}, what="mapping file",
                    error=MappingFileError, dims=dict(dims))


def _json_field(header: dict, path: str, field: str):
    """The JSON text of ``field`` parsed, and the error factory naming file and field."""
    def fail(msg: str) -> MappingFileError:
        return MappingFileError(f"mapping file '{path}': field '{field}': {msg}")
    try:
        return json.loads(str(header[field])), fail
    except (ValueError, RecursionError) as err:
        raise fail(f"not valid JSON ({type(err).__name__}: {err})") from None


def _parse_statistics(header: dict, path: str) -> dict:
    """The statistics JSON, checked field by field (types and signs; the counts are checked
    against the arrays in :func:`_build`)."""
    stats, fail = _json_field(header, path, "statistics")
    if not isinstance(stats, dict):
        raise fail(f"expected a JSON object, got {type(stats).__name__}")
    names = [f.name for f in fields(MappingStatistics)]
    unknown = sorted(set(stats) - set(names))
    optional = {"per_projection", "timings", "weights", "stp_drivers", "neuron_sizes"}
    missing = sorted(set(names) - set(stats) - optional)
    if unknown or missing:
        raise fail(f"unknown keys {unknown}, missing keys {missing}; expected the fields of "
                   "MappingStatistics")
    for name in names:
        if name in optional:
            continue
        v = stats[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise fail(f"'{name}' = {v!r}; expected an integer >= 0")
    per = stats.get("per_projection", [])
    if not isinstance(per, list):
        raise fail(f"'per_projection' must be a list, got {type(per).__name__}")
    keys = [f.name for f in fields(ProjectionLoss)]
    for i, p in enumerate(per):
        if not isinstance(p, dict) or sorted(p) != sorted(keys) \
                or not isinstance(p["label"], str) \
                or any(isinstance(p[k], bool) or not isinstance(p[k], int) or p[k] < 0
                       for k in keys[1:]) \
                or p["requested"] != p["realized"] + p["lost"]:
            raise fail(f"per_projection[{i}] = {str(p)[:200]}; expected {{'label': str, "
                       "'requested', 'realized', 'lost': integers >= 0, requested = realized + "
                       "lost}")
    for key, number in (("timings", (int, float)), ("weights", int), ("stp_drivers", int),
                        ("neuron_sizes", int)):
        d = stats.get(key, {})
        if not isinstance(d, dict) or any(
                not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, number)
                or not math.isfinite(v) or v < 0 for k, v in d.items()):
            raise fail(f"'{key}' = {str(d)[:200]}; expected an object of names to numbers "
                       ">= 0")
    return stats


class _Checker:
    """Range and consistency checks of one file's arrays; errors name file and field."""

    def __init__(self, data: dict, path: str) -> None:
        self.data, self.path = data, path

    def error(self, name: str, message: str) -> MappingFileError:
        return MappingFileError(f"mapping file '{self.path}': field '{name}': {message}")

    def ints(self, name: str, lo: int, hi: int, where: np.ndarray | None = None) \
            -> np.ndarray:
        """The integer field as int64 after checking ``lo <= value <= hi`` (where
        ``where``)."""
        a = self.data[name]
        sel = a if where is None else a[where]
        if sel.size:
            # Python ints: a uint64 above 2**63 must not wrap before the comparison
            mn, mx = int(sel.min()), int(sel.max())
            if mn < lo or mx > hi:
                bad = (sel < lo) | (sel > hi)       # numpy compares with Python ints exactly
                idx = np.flatnonzero(bad.reshape(-1))[0]
                pos = np.unravel_index(idx, sel.shape) if where is None else \
                    np.flatnonzero(where.reshape(-1))[idx]
                raise self.error(name, f"value {sel.reshape(-1)[idx]} at index "
                                       f"{_index(pos)}; allowed {lo}..{hi}"
                                       + ("" if where is None else " there"))
        return self._as_int64(name, a)

    def _as_int64(self, name: str, a: np.ndarray) -> np.ndarray:
        if a.size and a.dtype.kind == "u" and int(a.max()) > np.iinfo(np.int64).max:
            raise self.error(name, f"value {a.max()} does not fit int64")
        return a.astype(np.int64)

    def equal(self, name: str, a: np.ndarray, b: np.ndarray, where: np.ndarray,
              what: str) -> None:
        """``a == b`` where ``where`` (both already indexed per element of the field)."""
        bad = where & (a != b)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise self.error(name, f"value {a[i]} at index {i}; expected {b[i]} ({what})")

    def shared(self, name: str, group: np.ndarray, value: np.ndarray, what: str) -> None:
        """Entries with the same ``group`` key have the same ``value`` (a hardware resource
        carries one setting)."""
        if group.size:
            order = np.lexsort((value, group))
            g, v = group[order], value[order]
            bad = np.flatnonzero((g[1:] == g[:-1]) & (v[1:] != v[:-1]))
            if bad.size:
                i = order[bad[0] + 1]
                raise self.error(name, f"the entry at index {int(i)} puts {what}")

    def unique(self, name: str, key: np.ndarray, what: str) -> None:
        if key.size:
            s = np.sort(key)
            dup = np.flatnonzero(s[1:] == s[:-1])
            if dup.size:
                raise self.error(name, f"{what} used twice (key {s[dup[0]]})")


def _index(pos) -> str:
    if isinstance(pos, tuple):
        return ", ".join(str(int(p)) for p in pos) if len(pos) != 1 else str(int(pos[0]))
    return str(int(pos))


def _build(data: dict, header: dict, stats: dict, path: str, graph: BioGraph | None,
           defects) -> MappingResult:
    """Check every array (ranges, consistency with each other, the statistics, and, when
    given, the network and the defect map) and build the result."""
    c = _Checker(data, path)
    fp = str(header["fingerprint"])
    if len(fp) != 32 or any(ch not in "0123456789abcdef" for ch in fp):
        raise c.error("fingerprint", f"{fp[:40]!r}; expected 32 hexadecimal digits")
    n_h = wafer.N_HICANN
    # ---- cells: neurons (placed on denmems) and sources (on input mergers)
    hicann = c.ints("placement.hicann", -1, n_h - 1)
    neuron = hicann >= 0
    if graph is not None:
        is_neuron = ~np.asarray(graph.is_source, dtype=bool)[graph.population_of]
        c.equal("placement.hicann", neuron, is_neuron, np.ones_like(neuron),
                "every neuron placed, no spike source on denmems")
    block = c.ints("placement.block", 0, wafer.N_NEURON_BLOCKS - 1, neuron)
    x0 = c.ints("placement.x0", 0, wafer.DENMEM_COLUMNS - 1, neuron)
    width = c.ints("placement.width", 1, wafer.BLOCK_COLUMNS, neuron)
    for name, a in (("placement.block", block), ("placement.x0", x0),
                    ("placement.width", width)):
        c.equal(name, a, np.full_like(a, -1), ~neuron, "-1 for a cell not on denmems")
    last = x0 + width - 1
    c.equal("placement.x0", x0 // wafer.BLOCK_COLUMNS, block, neuron,
            "the neuron block of its first column")
    c.equal("placement.width", last // wafer.BLOCK_COLUMNS, block, neuron,
            "the neuron stays inside its neuron block")
    if graph is not None:
        # a population of neuron size "auto" may have any size the mapper chose
        size = np.asarray(graph.neuron_size, dtype=np.int64)[graph.population_of]
        c.equal("placement.width", width, size // 2, neuron & (size != AUTO_SIZE_SENTINEL),
                "half the population's neuron size")
    cols = np.repeat(hicann[neuron] * wafer.DENMEM_COLUMNS + x0[neuron], width[neuron]) + \
        _ranges(width[neuron])
    c.unique("placement.x0", cols, "a denmem column")
    stim = None
    if "placement.stimulus_denmem" in data:
        stim = c.ints("placement.stimulus_denmem", -1, wafer.DENMEMS_PER_HICANN - 1)
        has = stim >= 0
        col = stim % wafer.DENMEM_COLUMNS
        c.equal("placement.stimulus_denmem", has & neuron & (col >= x0) & (col <= last), has,
                has, "a denmem of the neuron itself")
        if graph is not None:
            c.equal("placement.stimulus_denmem", has, np.asarray(graph.stimulus) >= 0,
                    np.ones_like(has), "a denmem exactly for the neurons receiving current")
    merger = c.ints("mergers.dnc_merger", 0, wafer.N_DNC_MERGERS - 1, neuron)
    b2m = c.ints("mergers.block_to_merger", -1, wafer.N_DNC_MERGERS - 1)
    occupied = np.zeros(b2m.shape, dtype=bool)
    occupied[hicann[neuron], block[neuron]] = True
    reach = np.zeros((wafer.N_DNC_MERGERS, wafer.N_NEURON_BLOCKS), dtype=bool)
    for m, blocks in enumerate(wafer.DNC_MERGER_BLOCKS):
        reach[m, list(blocks)] = True
    b_idx = np.broadcast_to(np.arange(wafer.N_NEURON_BLOCKS), b2m.shape)
    wrong = ((b2m >= 0) != occupied) | ((b2m >= 0) & ~reach[np.maximum(b2m, 0), b_idx])
    if np.any(wrong):
        h, b = np.argwhere(wrong)[0]
        raise c.error("mergers.block_to_merger", f"value {b2m[h, b]} at index {h}, {b}; a "
                      "block with neurons sends to a DNC merger its merger tree reaches "
                      "(wafer.DNC_MERGER_BLOCKS), a block without neurons has -1")
    c.equal("mergers.dnc_merger", merger, np.where(neuron, b2m[np.maximum(hicann, 0),
                                                            np.maximum(block, 0)], -1),
            np.ones_like(neuron), "the merger its neuron block sends to (-1 for sources)")
    address = c.ints("neuron_address", 0, 63, neuron)
    c.equal("neuron_address", address, np.full_like(address, -1), ~neuron, "-1 for sources")
    s_hicann = c.ints("sources.hicann", -1, n_h - 1)
    source = s_hicann >= 0
    c.equal("sources.hicann", source & neuron, np.zeros_like(source), source,
            "a cell is either a neuron or a spike source")
    if graph is not None:
        c.equal("sources.hicann", source, source & ~is_neuron, source,
                "-1 for neurons")
    s_merger = c.ints("sources.dnc_merger", 0, wafer.N_DNC_MERGERS - 1, source)
    s_address = c.ints("sources.address", 0, 63, source)
    for name, a in (("sources.dnc_merger", s_merger), ("sources.address", s_address)):
        c.equal(name, a, np.full_like(a, -1), ~source, "-1 for a cell that is no placed source")
    usable = np.zeros(64, dtype=bool)
    usable[list(wafer.USABLE_ADDRESSES)] = True
    for name, a, where in (("neuron_address", address, neuron),
                           ("sources.address", s_address, source)):
        c.equal(name, usable[np.maximum(a, 0)], np.ones_like(where), where,
                f"an L1 address the wafer can use (not {wafer.RESERVED_ADDRESSES})")
    placed = neuron | source
    cell_h = np.where(neuron, hicann, s_hicann)
    cell_m = np.where(neuron, merger, s_merger)
    cell_a = np.where(neuron, address, s_address)
    c.unique("neuron_address", ((cell_h * wafer.N_DNC_MERGERS + cell_m) * 64 + cell_a)[placed],
             "an L1 address on one DNC merger")
    # ---- L1 routes
    r_hicann = c.ints("routes.source_hicann", 0, n_h - 1)
    r_merger = c.ints("routes.source_merger", 0, wafer.N_DNC_MERGERS - 1)
    req_ok = data["routes.req_ok"]
    req_source = c.ints("routes.req_source", 0, max(r_hicann.size - 1, 0))
    if req_source.size and not r_hicann.size:
        raise c.error("routes.req_source", "requests without route sources")
    req_target = c.ints("routes.req_target", 0, n_h - 1)
    req_vline = c.ints("routes.req_vline", 0, wafer.N_VLINES - 1, req_ok)
    req_side = c.ints("routes.req_side", 0, 1, req_ok)
    req_hops = c.ints("routes.req_hops", 0, n_h, req_ok)
    for name, a in (("routes.req_vline", req_vline), ("routes.req_side", req_side),
                    ("routes.req_hops", req_hops)):
        c.equal(name, a, np.full_like(a, -1), ~req_ok, "-1 for a failed route")
    c.equal("routes.req_side", req_side, (req_vline >= wafer.N_VLINES // 2).astype(np.int64),
            req_ok, "the side of its V-bus")
    # ---- connections
    realized = data["realized"]
    n_conn = realized.size
    syn_h = c.ints("syn_hicann", 0, n_h - 1, realized)
    syn_r = c.ints("syn_row", 0, wafer.SYNAPSE_ROWS - 1, realized)
    syn_c = c.ints("syn_column", 0, wafer.DENMEM_COLUMNS - 1, realized)
    for name, a in (("syn_hicann", syn_h), ("syn_row", syn_r), ("syn_column", syn_c)):
        c.equal(name, a, np.full_like(a, -1), ~realized, "-1 for a lost synapse")
    c.unique("syn_row", ((syn_h * wafer.SYNAPSE_ROWS + syn_r) * wafer.DENMEM_COLUMNS
                         + syn_c)[realized], "a synapse (HICANN, row, column)")
    delay = data["delay_ms"]
    if delay.dtype != np.float64:
        raise c.error("delay_ms", f"dtype {delay.dtype}; expected float64")
    ok = np.isfinite(delay) & (delay >= DELAY_OFFSET_MS - 1e-9) & \
        (delay <= MAX_ROUTED_DELAY_MS + 1e-9)
    bad = (realized & ~ok) | (~realized & ~np.isnan(delay))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise c.error("delay_ms", f"value {delay[i]} at index {i}; a realised synapse's routed "
                                  f"delay is finite, {DELAY_OFFSET_MS:g}..{MAX_ROUTED_DELAY_MS:g} "
                                  "ms, a lost one's NaN")
    if graph is not None:
        post = np.asarray(graph.post, dtype=np.int64)
        c.equal("syn_hicann", syn_h, hicann[post], realized,
                "the HICANN of the postsynaptic neuron")
        c.equal("syn_column", (syn_c >= x0[post]) & (syn_c <= last[post]),
                np.ones(n_conn, bool), realized, "a column of the postsynaptic neuron")
        # the route sources and requests follow from the placement (as map_network derives
        # them); with them every realised synapse's route and routed delay is determined
        src_h, src_m, targets, conn_source = _route_requests(graph, cell_h[graph.pre],
                                                             cell_m[graph.pre], hicann[post])
        want_source = np.repeat(np.arange(src_h.size), [t.size for t in targets])
        want_target = np.concatenate(targets) if targets else np.zeros(0, np.int64)
        for name, got, want in (("routes.source_hicann", r_hicann, src_h),
                                ("routes.source_merger", r_merger, src_m),
                                ("routes.req_source", req_source, want_source),
                                ("routes.req_target", req_target, want_target)):
            if got.shape != want.shape or not np.array_equal(got, want):
                raise c.error(name, f"{got.size} entries that differ from the {want.size} the "
                                    "placement needs")
        request = _request_index(L1Routes(r_hicann, r_merger, req_source, req_target, req_ok,
                                          req_vline, req_side, req_hops),
                                 conn_source, hicann[post])
        c.equal("realized", request >= 0, np.ones(n_conn, bool), realized,
                "a realised synapse has a routed L1 request")
        q = np.maximum(request, 0)
        c.equal("routes.req_side", req_side[q], wafer.driver_side(np.maximum(syn_r, 0) // 2),
                realized, "the side of the drivers its realised synapses sit on")
        # what a synapse row, half row and driver carry (mapping.synapses): one receptor per
        # row, one 2-MSB source-address decoder per half row (column parity), one route
        # request per driver
        row_key = (syn_h * wafer.SYNAPSE_ROWS + syn_r)[realized]
        c.shared("syn_row", row_key, np.asarray(graph.receptor, dtype=np.int64)[realized],
                 "two receptors on one synapse row")
        c.shared("syn_column", row_key * 2 + syn_c[realized] % 2,
                 (cell_a[graph.pre] >> 4)[realized],
                 "two address decoders (source address // 16) on one half row")
        c.shared("syn_row", row_key // 2, request[realized],
                 "two L1 routes on one synapse driver")
        hops = np.where(request >= 0, req_hops[q], 0)
        want_delay = np.where(realized, DELAY_PER_HOP_MS * hops + DELAY_OFFSET_MS, np.nan)
        c.equal("delay_ms", delay, want_delay, realized,
                "the routed delay of its route's HICANN count")
    driver_stp = None
    if "driver_stp" in data:
        driver_stp = c.ints("driver_stp", -1, _stp.N_KEYS - 1).astype(np.int8)
        used = driver_stp[np.maximum(syn_h, 0), np.maximum(syn_r, 0) // 2]
        c.equal("driver_stp", used >= 0, np.ones(n_conn, bool), realized,
                "the driver of every realised synapse is configured")
        if graph is not None:
            c.equal("driver_stp", used.astype(np.int64),
                    np.asarray(graph.stp_key, dtype=np.int64), realized,
                    "the STP setting of the connections it carries")
    # ---- the wafer's defects: nothing placed or used on a blacklisted component
    if defects is not None:
        hok = np.asarray(defects.hicann_ok)
        c.equal("placement.hicann", hok[np.maximum(hicann, 0)], np.ones_like(neuron), neuron,
                "a usable HICANN of the current defect map")
        c.equal("sources.hicann", hok[np.maximum(s_hicann, 0)], np.ones_like(source), source,
                "a usable HICANN of the current defect map")
        den = np.asarray(defects.denmem_ok)
        col_h = np.repeat(hicann[neuron], width[neuron])
        col_x = np.repeat(x0[neuron], width[neuron]) + _ranges(width[neuron])
        if not np.all(den[col_h, :, col_x]):
            raise c.error("placement.x0", "a neuron sits on a denmem the current defect map "
                                          "blacklists")
        drv = np.asarray(defects.driver_ok)
        c.equal("syn_row", drv[np.maximum(syn_h, 0), np.maximum(syn_r, 0) // 2],
                np.ones(n_conn, bool), realized,
                "a synapse driver the current defect map keeps")
    # ---- the statistics agree with the arrays
    n_real = int(realized.sum())
    expect = {"synapses_requested": n_conn, "synapses_realized": n_real,
              "synapses_lost": n_conn - n_real,
              "neurons_placed": int(neuron.sum()), "sources_placed": int(source.sum()),
              "l1_routes": int(req_ok.size), "l1_routes_failed": int((~req_ok).sum())}
    for key, value in expect.items():
        if stats[key] != value:
            raise MappingFileError(f"mapping file '{path}': field 'statistics': '{key}' = "
                                   f"{stats[key]}; the arrays say {value}")
    parts = sum(stats.get(k, 0) for k in ("synapses_lost_l1", "synapses_lost_drivers",
                                          "synapses_lost_synapse_array",
                                          "synapses_lost_multapse", "synapses_lost_input"))
    if parts != n_conn - n_real:
        raise MappingFileError(f"mapping file '{path}': field 'statistics': the lost synapses "
                               f"by cause add up to {parts}, not {n_conn - n_real}")
    if driver_stp is not None and "stp_drivers" in stats and \
            stats["stp_drivers"] != _stp.driver_mode_counts(driver_stp):
        raise MappingFileError(f"mapping file '{path}': field 'statistics': 'stp_drivers' = "
                               f"{stats['stp_drivers']}; field 'driver_stp' says "
                               f"{_stp.driver_mode_counts(driver_stp)}")
    per = stats.get("per_projection", [])
    if graph is not None:
        n_proj = len(per)
        proj = np.asarray(graph.projection, dtype=np.int64)
        if proj.size and int(proj.max()) >= n_proj:
            raise MappingFileError(f"mapping file '{path}': field 'statistics': "
                                   f"{n_proj} projections listed, the network has more")
        req = np.bincount(proj, minlength=n_proj)
        real = np.bincount(proj, weights=realized, minlength=n_proj).astype(np.int64)
        for j, p in enumerate(per):
            if p["requested"] != req[j] or p["realized"] != real[j]:
                raise MappingFileError(
                    f"mapping file '{path}': field 'statistics': per_projection[{j}] says "
                    f"{p['realized']} of {p['requested']} realised; the arrays say "
                    f"{real[j]} of {req[j]}")
    stats = dict(stats)
    stats["per_projection"] = [ProjectionLoss(**p) for p in per]
    conditions = None
    if "conditions" in header:
        conditions = _parse_conditions(header, path, fp)
    return MappingResult(
        placement=NeuronPlacement(hicann, block, x0, width, stimulus_denmem=stim),
        mergers=MergerRouting(merger, b2m),
        neuron_address=address,
        sources=SourcePlacement(s_hicann, s_merger, s_address),
        routes=L1Routes(r_hicann, r_merger, req_source, req_target, req_ok.copy(), req_vline,
                        req_side, req_hops),
        realized=realized.copy(), delay_ms=delay, statistics=MappingStatistics(**stats),
        fingerprint=fp, syn_hicann=syn_h, syn_row=syn_r, syn_column=syn_c,
        driver_stp=driver_stp, conditions=conditions)


def _ranges(width: np.ndarray) -> np.ndarray:
    """0..w-1 for every w of ``width``, concatenated."""
    if not width.size:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(width) - width, width)
    return np.arange(int(width.sum()), dtype=np.int64) - starts


def _parse_conditions(header: dict, path: str, fp: str) -> dict:
    cond, fail = _json_field(header, path, "conditions")
    if not isinstance(cond, dict) or sorted(cond) != sorted(_CONDITION_KEYS):
        raise fail(f"expected an object with keys {', '.join(_CONDITION_KEYS)}")
    if cond["network"] != fp:
        raise fail(f"network {str(cond['network'])[:40]!r} differs from the fingerprint {fp!r}")
    if not isinstance(cond["defects"], str) or not isinstance(cond["defects_summary"], str):
        raise fail("'defects' and 'defects_summary' must be strings")
    opts = cond["options"]
    if not isinstance(opts, dict) or any(
            not isinstance(k, str) or not (v is None or isinstance(v, (str, int, float)))
            for k, v in opts.items()):
        raise fail("'options' must be an object of option names to numbers or strings")
    return cond


_CONDITION_KEYS = ("network", "defects", "defects_summary", "options")


def defects_fingerprint(defects) -> str:
    """A hash of a defect map's masks (``DefectMap``: equal maps hash equal; the wafer seed
    enters through the map it draws)."""
    h = hashlib.sha256()
    for name in ("hicann_ok", "denmem_ok", "driver_ok", "hline_ok", "vline_ok"):
        a = np.asarray(getattr(defects, name), dtype=bool)
        h.update(name.encode() + repr(a.shape).encode())
        h.update(np.packbits(a).tobytes())
    return h.hexdigest()[:32]


def _option_values(options: MappingOptions) -> dict:
    """The mapping options that decide the mapping, flattened to ``{"stage.option": value}``
    (every field of :class:`MappingOptions` except :data:`NOT_CONDITIONS`: an option added
    later enters the check without further ado)."""
    out = {}

    def walk(obj, prefix: str) -> None:
        for f in fields(obj):
            value = getattr(obj, f.name)
            key = prefix + f.name
            if is_dataclass(value):
                walk(value, key + ".")
            elif key not in NOT_CONDITIONS:
                out[key] = value if value is None or isinstance(value, (str, int, float)) \
                    else repr(value)
    walk(options, "")
    return json.loads(json.dumps(out))     # as a saved file gives them back


def mapping_conditions(graph: BioGraph, options: MappingOptions, defects) -> dict:
    """What a mapping is made for, stored in its file and compared at every reuse: the
    network (:func:`fingerprint`), the defect map (:func:`defects_fingerprint`, with a
    summary for messages) and the mapping options (:func:`_option_values`)."""
    return {"network": fingerprint(graph), "defects": defects_fingerprint(defects),
            "defects_summary": repr(defects), "options": _option_values(options)}


def load_for_reuse(path: str | os.PathLike, graph: BioGraph, options: MappingOptions,
                   defects) -> MappingResult:
    """Load the mapping file ``path`` for ``graph`` on a wafer with ``defects`` and mapping
    ``options``, or raise.

    :class:`MappingFileError` (naming the file and what differs or is wrong): an old file
    without the record of what it was made for, another network, defect map or mapping
    option (:func:`mapping_conditions`), or any damaged, tampered or inconsistent array.
    :class:`SynapseLossError`: the mapping lost synapses and ``options`` do not continue
    despite synapse loss (the same rule as :func:`map_network`).  Never remaps: which
    mapping to keep is the user's decision.
    """
    fspath = _check_path(path)
    header = _read_header(fspath)
    fmt = str(header["format"]) if "format" in header else None
    if fmt is None:
        raise MappingFileError(
            f"mapping file '{fspath}' was written by an older version of pyNN.bss_emu and does "
            "not record the wafer and mapping options it was made for, so it cannot be checked "
            "against this setup; delete it (or name another mapping_file) to map anew")
    if fmt != MAPPING_FORMAT:
        raise MappingFileError(f"mapping file '{fspath}': field 'format' = {fmt[:80]!r}; this "
                               f"version reads {MAPPING_FORMAT!r}")
    if "conditions" not in header:
        raise MappingFileError(f"mapping file '{fspath}': member 'conditions' is missing")
    saved = _parse_conditions(header, fspath, str(header["fingerprint"]))
    now = mapping_conditions(graph, options, defects)
    diffs = []
    if saved["network"] != now["network"]:
        diffs.append("a different network (populations, neuron sizes, placement requests, "
                     "connections, STP modes or current stimuli differ)")
    if saved["defects"] != now["defects"]:
        diffs.append(f"another defect map ({saved['defects_summary']}; now "
                     f"{now['defects_summary']}: setup(defects=..., wafer_seed=...) draw it)")
    keys = sorted(set(saved["options"]) | set(now["options"]))
    for key in keys:
        a, b = saved["options"].get(key, "(absent)"), now["options"].get(key, "(absent)")
        if a != b:
            diffs.append(f"mapping option {key}={a!r} (now {b!r})")
    if diffs:
        raise MappingFileError(
            f"mapping file '{fspath}' was made for " + "; ".join(diffs) + ". A mapping fits "
            "only the network, wafer and mapping options it was made for: delete the file or "
            "name another mapping_file to map anew (it is not overwritten)")
    stats = _parse_statistics(header, fspath)
    data = _read_arrays(fspath, {"cells": graph.n_cells, "connections": int(graph.pre.size)},
                        strict=True)
    result = _build(data, header, stats, fspath, graph, defects)
    if result.statistics.synapses_lost and not options.continue_despite_synapse_loss:
        raise _synapse_loss_error(result.statistics, f"the mapping in '{fspath}' lost")
    return result


def fingerprint(graph: BioGraph) -> str:
    """A hash of the network structure (sizes, kinds, neuron sizes, connections and their
    STP keys, stimulated neurons); a saved mapping may only be reused for a network with the
    same fingerprint (and the same wafer and options: :func:`mapping_conditions`).  (The STP
    keys and the current stimuli enter only when there are any, so other networks keep the
    fingerprint of older versions.)"""
    h = hashlib.sha256()
    for arr in (graph.size, graph.is_source, graph.neuron_size, graph.pre, graph.post,
                graph.receptor, graph.projection):
        a = np.ascontiguousarray(np.asarray(arr, dtype=np.int64))
        h.update(a.tobytes())
        h.update(b"|")
    if np.any(graph.stp_key):
        h.update(b"stp")
        h.update(np.ascontiguousarray(np.asarray(graph.stp_key, dtype=np.int64)).tobytes())
        h.update(b"|")
    auto = ~np.asarray(graph.is_source, dtype=bool) & \
        (np.asarray(graph.neuron_size) == AUTO_SIZE_SENTINEL)
    if np.any(auto) and graph.max_neuron_size is not None:
        # what bounds an "auto" size (issue 14): the weights' largest realisable size
        h.update(b"max_neuron_size")
        h.update(np.ascontiguousarray(graph.max_neuron_size[auto].astype(np.int64)).tobytes())
        h.update(b"|")
    if np.any(graph.stimulus >= 0):      # current stimuli (issue 12) take FG blocks
        h.update(b"stimulus")
        h.update(np.ascontiguousarray(np.asarray(graph.stimulus, dtype=np.int64)).tobytes())
        h.update(b"|")
    h.update(repr(graph.manual_hicanns).encode())
    return h.hexdigest()[:32]


def _route_requests(graph: BioGraph, src_hicann: np.ndarray, src_merger: np.ndarray,
                    post_hicann: np.ndarray):
    """Group connections into L1 route sources (hicann, merger of the presynaptic cell) and
    target HICANNs.  Returns (source hicann, source merger, targets per source, per-connection
    route source index)."""
    key = src_hicann * wafer.N_DNC_MERGERS + src_merger
    uniq, conn_source = np.unique(key, return_inverse=True)
    order = np.lexsort((post_hicann, conn_source))
    pairs = np.stack([conn_source[order], post_hicann[order]], axis=1)
    if pairs.size:
        first = np.r_[True, np.any(pairs[1:] != pairs[:-1], axis=1)]
        pairs = pairs[first]
    bounds = np.searchsorted(pairs[:, 0], np.arange(uniq.size + 1)) if pairs.size else \
        np.zeros(uniq.size + 1, dtype=np.int64)
    targets = [pairs[bounds[r]:bounds[r + 1], 1] for r in range(uniq.size)]
    return uniq // wafer.N_DNC_MERGERS, uniq % wafer.N_DNC_MERGERS, targets, conn_source


def _request_index(routes: L1Routes, conn_source: np.ndarray, post_hicann: np.ndarray) \
        -> np.ndarray:
    """Index of the L1 request (route source, target HICANN) of every connection, -1 if the
    route failed."""
    n_h = wafer.N_HICANN
    req_key = routes.req_source.astype(np.int64) * n_h + routes.req_target
    order = np.argsort(req_key, kind="stable")
    conn_key = conn_source.astype(np.int64) * n_h + post_hicann
    pos = np.searchsorted(req_key[order], conn_key)
    pos = np.minimum(pos, max(req_key.size - 1, 0))
    q = order[pos] if req_key.size else np.full(conn_key.size, -1)
    found = (req_key[q] == conn_key) if req_key.size else np.zeros(conn_key.size, bool)
    ok = found & routes.req_ok[q] if req_key.size else found
    return np.where(ok, q, -1)


AUTO_MERGER_STRATEGIES = ("minimize_as_possible", "minimize")


def _route_and_allocate(graph, place, options: MappingOptions, strategy, defects, timed):
    """The stages after neuron placement for one merger strategy."""
    chain_length = options.synapse_routing.driver_chain_length
    address_strategy = options.address_assignment.strategy
    multapses = options.synapse_routing.multapses
    mergers = timed("merger_routing", merger_routing.route_mergers, graph, place,
                    strategy=strategy, chain_length=chain_length,
                    address_strategy=address_strategy, multapses=multapses)
    neuron_addr = timed("address_assignment", addresses.assign_addresses, place, mergers,
                        strategy=address_strategy)
    sources = timed("input_placement", input_placement.place_inputs, graph, place, mergers,
                    defects.hicann_ok, speedup=options.speedup,
                    bandwidth_utilization=options.input_placement.bandwidth_utilization,
                    chain_length=chain_length, address_strategy=address_strategy,
                    multapses=multapses, hline_ok=defects.hline_ok)
    cell_hicann = np.where(place.hicann >= 0, place.hicann, sources.hicann)
    cell_merger = np.where(mergers.dnc_merger >= 0, mergers.dnc_merger, sources.dnc_merger)
    cell_address = np.where(neuron_addr >= 0, neuron_addr, sources.address)
    pre, post = graph.pre, graph.post
    post_hicann = place.hicann[post]
    pre_hicann = cell_hicann[pre]
    if np.any(pre_hicann < 0):
        # connections of unplaced virtual sources have no route source: no request (their
        # synapses are lost, counted as synapses_lost_input)
        placed = pre_hicann >= 0
        src_h, src_m, targets, sub_source = _route_requests(
            graph, pre_hicann[placed], cell_merger[pre][placed], post_hicann[placed])
        conn_source = np.full(pre.size, -1, dtype=np.int64)
        conn_source[placed] = sub_source
    else:
        src_h, src_m, targets, conn_source = _route_requests(graph, pre_hicann,
                                                             cell_merger[pre], post_hicann)
    # one int64 per synapse: not kept alive through L1 routing and synapse allocation
    del pre_hicann
    routes = timed("l1_routing", l1_routing.route_l1, src_h, src_m, targets,
                   hicann_ok=defects.hicann_ok, hline_ok=defects.hline_ok,
                   vline_ok=defects.vline_ok, algorithm=options.l1_routing.algorithm)
    conn_request = _request_index(routes, conn_source, post_hicann)
    alloc = timed("synapse_routing", synapses.allocate_synapses,
                  conn_request, cell_address[pre], post_hicann, place.x0[post],
                  place.width[post], graph.receptor, routes.req_target, routes.req_vline,
                  routes.req_side, routes.req_ok, driver_ok=defects.driver_ok,
                  chain_length=chain_length, conn_stp=graph.stp_key,
                  allow_multapses=multapses == "realise", conn_projection=graph.projection)
    return mergers, neuron_addr, sources, routes, conn_request, alloc


def map_network(graph: BioGraph, options: MappingOptions, defects,
                progress=None) -> MappingResult:
    """Map ``graph`` on a wafer with the given defects (a ``DefectMap``).

    ``progress``: optional callback ``progress(stage, done, total)`` called after every stage
    (``done`` of ``total`` stages finished; used for a progress bar).

    Raises ``ResourceExhaustedError`` when neurons, addresses or input bandwidth run out and
    ``SynapseLossError`` when synapses are lost and the options do not allow it.
    """
    timings: dict[str, float] = {}
    if options.synapse_routing.multapses not in MULTAPSE_MODES:
        raise ValueError(f"synapse_routing.multapses={options.synapse_routing.multapses!r}: "
                         f"expected one of {MULTAPSE_MODES}")
    strategies = AUTO_MERGER_STRATEGIES if options.merger_routing.strategy == "auto" \
        else (options.merger_routing.strategy,)
    n_stages = 1 + 5 * len(strategies)    # placement, then 5 stages per merger strategy
    stages_done = [0]

    def timed(name, func, *args, **kwargs):
        t0 = time.perf_counter()
        out = func(*args, **kwargs)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        if progress is not None:
            stages_done[0] += 1
            progress(name, stages_done[0], n_stages)
        return out

    t_start = time.perf_counter()
    request = graph       # what was asked for: the fingerprint and conditions describe it
    graph = placement.resolve_auto_sizes(graph, defects.denmem_ok, defects.hicann_ok)
    place = timed("neuron_placement", placement.place_neurons, graph, defects.denmem_ok,
                  defects.hicann_ok, strategy=options.neuron_placement.strategy)
    best = None
    for strategy in strategies:
        trial = _route_and_allocate(graph, place, options, strategy, defects, timed)
        # keep the merger strategy that realises most synapses (first wins a tie)
        if best is None or trial[-1].realized.sum() > best[-1].realized.sum():
            best = trial
    mergers, neuron_addr, sources, routes, conn_request, alloc = best
    realized = np.asarray(alloc.realized, dtype=bool)
    hops = np.where(conn_request >= 0, routes.req_hops[np.maximum(conn_request, 0)], 0)
    delay = np.where(realized, DELAY_PER_HOP_MS * hops + DELAY_OFFSET_MS, np.nan)
    timings["total"] = time.perf_counter() - t_start

    n_req = int(graph.pre.size)
    n_real = int(realized.sum())
    per_proj = []
    n_proj = len(graph.projection_label) or (int(graph.projection.max()) + 1 if n_req else 0)
    req_per = np.bincount(graph.projection, minlength=n_proj)
    real_per = np.bincount(graph.projection, weights=realized, minlength=n_proj).astype(int)
    for j in range(n_proj):
        label = graph.projection_label[j] if j < len(graph.projection_label) else str(j)
        per_proj.append(ProjectionLoss(label, int(req_per[j]), int(real_per[j]),
                                       int(req_per[j] - real_per[j])))
    used = np.unique(np.concatenate([place.hicann[place.hicann >= 0],
                                     sources.hicann[sources.hicann >= 0]]))
    # a connection without a route source counts as lost on L1 in the allocation; those of
    # unplaced virtual sources were never routed: their own cause
    # (neurons are all placed: a connection from an unplaced cell has a virtual source)
    unplaced = (place.hicann < 0) & (sources.hicann < 0)
    lost_input = int(np.count_nonzero(unplaced[graph.pre]))
    stats = MappingStatistics(
        synapses_requested=n_req, synapses_realized=n_real, synapses_lost=n_req - n_real,
        synapses_lost_l1=int(alloc.lost_l1) - lost_input, synapses_lost_input=lost_input,
        synapses_lost_drivers=int(alloc.lost_drivers),
        synapses_lost_synapse_array=int(alloc.lost_synapse_array),
        synapses_lost_multapse=int(alloc.lost_multapse),
        neurons_placed=int(np.sum(place.hicann >= 0)),
        sources_placed=int(np.sum(sources.hicann >= 0)),
        hicanns_used=int(used.size), l1_routes=int(routes.req_ok.size),
        l1_routes_failed=int(np.sum(~routes.req_ok)), per_projection=per_proj,
        timings=timings, stp_drivers=_stp.driver_mode_counts(alloc.driver_stp),
        neuron_sizes=_neuron_sizes(graph))
    lost_parts = (stats.synapses_lost_l1 + stats.synapses_lost_drivers
                  + stats.synapses_lost_synapse_array + stats.synapses_lost_multapse
                  + stats.synapses_lost_input)
    if stats.synapses_realized + stats.synapses_lost != stats.synapses_requested \
            or lost_parts != stats.synapses_lost:
        raise AssertionError(f"synapse accounting does not add up: {stats}")
    result = MappingResult(place, mergers, neuron_addr, sources, routes, realized, delay, stats,
                           fingerprint(request), syn_hicann=np.asarray(alloc.hicann),
                           syn_row=np.asarray(alloc.row), syn_column=np.asarray(alloc.column),
                           driver_stp=np.asarray(alloc.driver_stp),
                           conditions=mapping_conditions(request, options, defects))
    if stats.synapses_lost and not options.continue_despite_synapse_loss:
        raise _synapse_loss_error(stats)
    return result


def _neuron_sizes(graph: BioGraph) -> dict:
    """Denmems per logical neuron of every non-empty neuron population, by label (sizes
    already resolved; a label used by several populations reports the last one)."""
    out = {}
    for p in range(int(np.size(graph.size))):
        if not graph.is_source[p] and graph.size[p] > 0:
            label = str(graph.label[p]) if p < len(graph.label) else str(p)
            out[label] = int(graph.neuron_size[p])
    return out


def _synapse_loss_error(stats: MappingStatistics,
                        lost: str = "the mapping lost") -> SynapseLossError:
    """The :class:`SynapseLossError` of a mapping (new or reused) that lost synapses."""
    return SynapseLossError(
        f"{lost} {stats.synapses_lost} of {stats.synapses_requested} synapses "
        f"({100 * stats.synapse_loss:.2f} %): {stats.synapses_lost_l1} on failed L1 routes, "
        f"{stats.synapses_lost_drivers} for want of synapse drivers, "
        f"{stats.synapses_lost_synapse_array} for want of synapse slots, "
        f"{stats.synapses_lost_multapse} multapses (repeats of a neuron pair within one "
        "projection with multapses='per_projection')"
        + (f", {stats.synapses_lost_input} from neurons of other wafers that found no room in "
           "this wafer's input (its FPGA and HICANN-link bandwidth, DNC mergers)"
           if stats.synapses_lost_input else "") + ". "
        "Use setup(continue_despite_synapse_loss=True) to run anyway (lost synapses "
        "transmit nothing), a larger neuron_size, a longer driver_chain_length, or fewer "
        "connections.\n" + str(stats), stats)
