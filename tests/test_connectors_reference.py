"""Connections identical to PyNN's reference (issue 12, item 6).

The same script, run on ``pyNN.mock`` (PyNN's generic connector code) and on ``pyNN.bss_emu``
(our vectorised fast paths), must build the same connections: for every PyNN 0.13 connector,
populations, overlapping views and assemblies, ``allow_self_connections`` True / False /
'NoMutual', several projections in sequence sharing one seeded ``NumpyRNG``, and random
weights and delays with their own RNGs (or the connector's).  Compared: the sorted lists
``(pre, post, weight, delay)``; delays rounded to the time step as the backend rounds them;
for scripts that fail, the exception type; and the shared RNG's state afterwards.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from pyNN import connectors as pynn_connectors
from pyNN.core import IndexBasedExpression

import pyNN.mock as mock

DT = 0.1

TOPOLOGIES = {
    "same": lambda sim, a, b: (a, a),
    "other": lambda sim, a, b: (a, b),
    "overlapping_views": lambda sim, a, b: (a[0:8], a[4:12]),
    "equal_views": lambda sim, a, b: (a[2:10], a[2:10]),      # two view objects, same cells
    "assemblies": lambda sim, a, b: (sim.Assembly(a[0:6], b), sim.Assembly(b, a[3:9])),
}
SHAPES = {"same": (12, 12), "other": (12, 9), "overlapping_views": (8, 8),
          "equal_views": (8, 8), "assemblies": (15, 15)}
# (weight kind, seed) per topology run: own-RNG uniform weights, clipped normal weights
# (redraws), and weights drawn from the connector's own RNG
WEIGHT_RUNS = (("uniform", 1), ("clipped", 2), ("connector_rng", 3))

CONN_LIST = [(0, 1, 0.002, 1.0), (3, 1, 0.003, 2.0), (2, 0, 0.004, 0.5), (1, 1, 0.005, 0.4),
             (5, 3, 0.001, 0.1), (0, 4, 0.002, 0.2), (7, 4, 0.002, 0.3), (4, 4, 0.001, 0.3),
             (0, 1, 0.002, 1.0), (2, 2, 0.004, 0.5)]


class _Diagonal(IndexBasedExpression):
    """An index-based connection probability."""

    def __call__(self, i, j):
        return 0.1 + 0.5 * ((i + j) % 3 == 0)


def _rd(sim, rng, *args, **kwargs):
    return sim.RandomDistribution(*args, rng=rng, **kwargs)


# name -> factory(sim, rng, context); each script makes two projections with a factory's
# connectors (the same object where a factory returns it), all sharing ``rng``
CONNECTORS = {
    "AllToAll": lambda s, r, c: s.AllToAllConnector(),
    "AllToAll-noself": lambda s, r, c: s.AllToAllConnector(allow_self_connections=False),
    "OneToOne": lambda s, r, c: s.OneToOneConnector(),
    "FixedProbability": lambda s, r, c: s.FixedProbabilityConnector(0.3, rng=r),
    "FixedProbability-noself": lambda s, r, c: s.FixedProbabilityConnector(
        0.3, allow_self_connections=False, rng=r),
    "FixedProbability-NoMutual": lambda s, r, c: s.FixedProbabilityConnector(
        0.3, allow_self_connections="NoMutual", rng=r),
    "FixedNumberPre": lambda s, r, c: s.FixedNumberPreConnector(4, rng=r),
    "FixedNumberPre-noself": lambda s, r, c: s.FixedNumberPreConnector(
        15, allow_self_connections=False, rng=r),
    "FixedNumberPre-replacement": lambda s, r, c: s.FixedNumberPreConnector(
        4, with_replacement=True, rng=r),
    "FixedNumberPre-replacement-noself": lambda s, r, c: s.FixedNumberPreConnector(
        5, with_replacement=True, allow_self_connections=False, rng=r),
    "FixedNumberPre-random-n": lambda s, r, c: s.FixedNumberPreConnector(
        _rd(s, s.NumpyRNG(seed=77), "uniform_int", (1, 6)), rng=r),
    "FixedNumberPre-random-n-shared-rng": lambda s, r, c: s.FixedNumberPreConnector(
        _rd(s, r, "uniform_int", (0, 6)), with_replacement=True, rng=r),
    "FixedNumberPost": lambda s, r, c: s.FixedNumberPostConnector(20, rng=r),
    "FixedNumberPost-noself": lambda s, r, c: s.FixedNumberPostConnector(
        4, allow_self_connections=False, rng=r),
    "FixedNumberPost-replacement": lambda s, r, c: s.FixedNumberPostConnector(
        4, with_replacement=True, rng=r),
    "FixedNumberPost-replacement-noself": lambda s, r, c: s.FixedNumberPostConnector(
        5, with_replacement=True, allow_self_connections=False, rng=r),
    "FixedNumberPost-random-n": lambda s, r, c: s.FixedNumberPostConnector(
        _rd(s, s.NumpyRNG(seed=78), "poisson", (3.0,)), with_replacement=True, rng=r),
    "FixedTotalNumber": lambda s, r, c: s.FixedTotalNumberConnector(40, rng=r),
    "FixedTotalNumber-noself-noreplacement": lambda s, r, c: s.FixedTotalNumberConnector(
        40, allow_self_connections=False, with_replacement=False, rng=r),
    "DistanceDependentProbability": lambda s, r, c: s.DistanceDependentProbabilityConnector(
        "exp(-d/3)", allow_self_connections=False, rng=r),
    "DisplacementDependentProbability":
        lambda s, r, c: s.DisplacementDependentProbabilityConnector(
            lambda d: np.exp(-np.abs(d[0]) / 3), rng=r),
    "IndexBasedProbability": lambda s, r, c: s.IndexBasedProbabilityConnector(
        _Diagonal(), allow_self_connections="NoMutual", rng=r),
    "FromList-4-columns": lambda s, r, c: s.FromListConnector(CONN_LIST),
    "FromList-2-columns": lambda s, r, c: s.FromListConnector([x[:2] for x in CONN_LIST]),
    "FromList-weight-column": lambda s, r, c: s.FromListConnector(
        [x[:3] for x in CONN_LIST], column_names=["weight"]),
    "FromFile": lambda s, r, c: s.FromFileConnector(c["file"]),
    "Array": lambda s, r, c: s.ArrayConnector(c["matrix"]),
    "Array-integer-matrix": lambda s, r, c: s.ArrayConnector(c["matrix"].astype(int)),
    "Clone": lambda s, r, c: (s.CloneConnector(c["last"]) if "last" in c
                              else s.FixedProbabilityConnector(0.3, rng=r)),
    "SmallWorld": lambda s, r, c: s.SmallWorldConnector(2, 0.1, rng=r),
}
# cases where the backend deliberately differs from PyNN (see connectors.py)
DELIBERATE = {("OneToOne", "other")}   # PyNN connects i == j of unequal sizes, we refuse


def _synapse(sim, kind: str, seed: int, rng):
    """Random weights (µS, conductance-based) and delays (ms) with their own RNGs, or with
    the connector's RNG for the weights."""
    if kind == "constant":
        return sim.StaticSynapse(weight=0.004, delay=0.3)
    w_rng = rng if kind == "connector_rng" else sim.NumpyRNG(seed=seed + 1)
    if kind == "clipped":
        weight = _rd(sim, w_rng, "normal_clipped", mu=0.005, sigma=0.004, low=0.0, high=0.01)
    else:
        weight = _rd(sim, w_rng, "uniform", (0.001, 0.01))
    # float delays: pyNN.mock cannot hold integer scalars from 'uniform_int'
    delay = _rd(sim, sim.NumpyRNG(seed=seed + 2), "uniform", (0.1, 2.0))
    return sim.StaticSynapse(weight=weight, delay=delay)


def _build(sim, connector: str, topology: str, kind: str, seed: int, context: dict,
           **setup) -> list:
    """Run the script on ``sim``: two projections, then three draws of the shared RNG.
    Returns per projection its sorted (pre, post, weight, delay) list or the name of the
    exception it raised, and the draws."""
    sim.setup(timestep=DT, min_delay=DT, **setup)
    try:
        a = sim.Population(12, sim.IF_cond_exp(), label="a")
        b = sim.Population(9, sim.IF_cond_exp(), label="b")
        pre, post = TOPOLOGIES[topology](sim, a, b)
        rng = sim.NumpyRNG(seed=seed)
        ctx = dict(context)
        out = []
        for _ in range(2):
            try:
                prj = sim.Projection(pre, post, CONNECTORS[connector](sim, rng, ctx),
                                     _synapse(sim, kind, seed, rng))
            except Exception as err:  # the reference may fail too: then so must we
                out.append(type(err).__name__)
                continue
            ctx["last"] = prj
            out.append(sorted((int(i), int(j), float(w), float(np.rint(d / DT) * DT))
                              for i, j, w, d in prj.get(["weight", "delay"], format="list")))
        out.append(list(rng.next(3)))
        return out
    finally:
        sim.end()


def _assert_same(ref: list, got: list, what: str) -> None:
    assert len(ref) == len(got), what
    for k, (r, g) in enumerate(zip(ref, got)):
        if isinstance(r, str) or isinstance(g, str):
            assert r == g, f"{what}, projection {k}: reference {r!r}, bss_emu {g!r}"
            continue
        assert len(r) == len(g), f"{what}, item {k}: {len(r)} vs {len(g)} entries"
        r, g = np.array(r), np.array(g)
        if r.ndim == 1:         # the shared RNG's next draws: its state after the script
            np.testing.assert_array_equal(r, g, err_msg=f"{what}: RNG state afterwards")
        elif r.size:
            np.testing.assert_array_equal(r[:, :2], g[:, :2], err_msg=f"{what}, item {k}")
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-15,
                                       err_msg=f"{what}, item {k}")


@pytest.fixture
def context(tmp_path) -> dict:
    path = tmp_path / "connections.txt"
    path.write_text("# columns = ['i', 'j', 'weight']\n"
                    + "".join(f"{i} {j} {w}\n" for i, j, w, _ in CONN_LIST))
    return {"file": str(path)}


@pytest.fixture(autouse=True)
def _quiet():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


@pytest.mark.parametrize("connector", sorted(CONNECTORS))
def test_same_connections_as_pynn_mock(sim, connector, context):
    for topology in TOPOLOGIES:
        if (connector, topology) in DELIBERATE:
            continue
        for kind, seed in WEIGHT_RUNS:
            ctx = dict(context, matrix=np.random.RandomState(seed).rand(*SHAPES[topology]) < 0.3)
            ref = _build(mock, connector, topology, kind, seed, ctx)
            got = _build(sim, connector, topology, kind, seed, ctx, ideal=True)
            _assert_same(ref, got, f"{connector}, {topology}, {kind} weights, seed {seed}")


def _sequence(sim, **setup) -> list:
    """The new user's script: several projections in sequence from one seeded RNG, between
    views of one population, different connectors sharing the RNG, random weights."""
    sim.setup(timestep=DT, min_delay=DT, **setup)
    try:
        rng = sim.NumpyRNG(seed=4242)
        pop = sim.Population(400, sim.IF_cond_exp())
        ext = sim.Population(50, sim.SpikeSourcePoisson(rate=10.0))
        exc, inh = pop[:320], pop[320:]
        weight = _rd(sim, sim.NumpyRNG(seed=7), "uniform", (0.001, 0.005))
        c = sim.FixedProbabilityConnector(0.05, allow_self_connections=False, rng=rng)
        prjs = [
            sim.Projection(exc, pop, c, sim.StaticSynapse(weight=weight, delay=0.2)),
            sim.Projection(inh, pop, c, sim.StaticSynapse(weight=0.05, delay=0.2),
                           receptor_type="inhibitory"),
            sim.Projection(inh, pop, c, sim.StaticSynapse(weight=0.05, delay=0.2),
                           receptor_type="inhibitory"),
            sim.Projection(ext, pop, sim.FixedNumberPreConnector(3, rng=rng),
                           sim.StaticSynapse(weight=weight, delay=0.1)),
            sim.Projection(exc, exc, c, sim.StaticSynapse(weight=weight, delay=0.3)),
            sim.Projection(pop, pop, sim.FixedNumberPostConnector(
                5, with_replacement=True, allow_self_connections=False, rng=rng),
                sim.StaticSynapse(weight=weight, delay=0.4)),
            sim.Projection(ext, exc, sim.FixedTotalNumberConnector(500, rng=rng),
                           sim.StaticSynapse(weight=weight, delay=0.5)),
            sim.Projection(ext, pop, c, sim.StaticSynapse(weight=0.1, delay=0.1)),
        ]
        return [sorted((int(i), int(j), float(w), float(np.rint(d / DT) * DT)) for i, j, w, d
                       in p.get(["weight", "delay"], format="list")) for p in prjs] \
            + [list(rng.next(3))]
    finally:
        sim.end()


def test_projections_in_sequence_with_one_rng(sim):
    ref = _sequence(mock)
    got = _sequence(sim, ideal=True)
    _assert_same(ref, got, "sequence")
    # PyNN's FixedProbability draws from a copy of the RNG: equal shapes, equal networks
    assert len(got[1]) == len(got[2])


def test_no_self_connections_between_overlapping_views(sim):
    """Self-connections are judged by cell, not by position in the view."""
    sim.setup(timestep=DT, min_delay=DT, ideal=True)
    pop = sim.Population(8, sim.IF_cond_exp())
    pre, post = pop[0:5], pop[3:8]
    prj = sim.Projection(pre, post, sim.AllToAllConnector(allow_self_connections=False),
                         sim.StaticSynapse(weight=0.001))
    got = sorted((int(i), int(j)) for i, j, _ in prj.get(["weight"], format="list"))
    expected = sorted((i, j) for i in range(5) for j in range(5) if i != j + 3)
    assert got == expected


FAST = ["AllToAll", "AllToAll-noself", "OneToOne", "FixedProbability",
        "FixedProbability-noself", "FixedProbability-NoMutual", "FixedNumberPre",
        "FixedNumberPre-noself", "FixedNumberPre-replacement",
        "FixedNumberPre-random-n", "FixedNumberPost", "FixedNumberPost-noself",
        "FixedNumberPost-replacement", "FixedNumberPost-replacement-noself",
        "FixedNumberPost-random-n", "FixedTotalNumber", "FromList-4-columns",
        "FromList-2-columns", "FromFile", "Array", "Clone"]


def test_fast_paths_do_not_use_the_generic_code(sim, context, monkeypatch):
    """The vectorised connectors never fall back to PyNN's column-by-column code in the
    cases they reproduce (the speed of big networks depends on it)."""
    def generic(self, *args, **kwargs):
        raise AssertionError(f"{type(self).__name__} used PyNN's generic path")
    monkeypatch.setattr(pynn_connectors.MapConnector, "_standard_connect", generic)
    monkeypatch.setattr(pynn_connectors.FromListConnector, "connect", generic)
    for connector in FAST:
        for kind in ("uniform", "clipped", "constant"):
            ctx = dict(context, matrix=np.random.RandomState(1).rand(12, 12) < 0.3)
            out = _build(sim, connector, "same", kind, 1, ctx, ideal=True)
            assert not any(isinstance(x, str) for x in out), (connector, kind, out)


def test_wafer_mode_makes_the_ideal_connections(sim):
    """The connectors do not depend on the mode: the wafer builds the same (pre, post) list
    (realised weights differ; lost synapses stay in the list)."""
    def pairs(**setup):
        lists = _sequence(sim, **setup)[:-1]
        return [[(i, j) for i, j, _, _ in x] for x in lists]

    ideal = pairs(ideal=True)
    wafer = pairs(ideal=False, defects="none", clip_parameters=True,
                  continue_despite_synapse_loss=True)
    assert ideal == wafer


def test_csa_connector_matches_if_available(sim):
    csa = pytest.importorskip("csa")

    def build(s, **setup):
        s.setup(timestep=DT, min_delay=DT, **setup)
        try:
            a = s.Population(10, s.IF_cond_exp())
            prj = s.Projection(a, a, s.CSAConnector(csa.random(0.3)),
                               s.StaticSynapse(weight=0.002, delay=0.2))
            return [sorted(tuple(float(x) for x in r)
                           for r in prj.get(["weight", "delay"], format="list"))]
        finally:
            s.end()

    np.random.seed(5)       # csa.random draws from numpy's global generator
    ref = build(mock)
    np.random.seed(5)
    _assert_same(ref, build(sim, ideal=True), "CSAConnector")
