"""Synapse switches (V-bus -> synapse driver) and synapse-driver geometry, as numpy tables.

Facts from the BSS-1 coordinate library (halco, ``VLineOnHICANN::toSynapseDriverOnHICANN``,
``SynapseSwitchOnHICANN::column``, ``SynapseSwitchRowOnWafer::toSynapseDriverOnWafer``,
``SynapseDriverOnHICANN::toSynapseDriverOnQuadrant``), summarised in
``shared/reference/brainscales1.md`` sections 4.2 and 6.6.  The code here is our own.

Switch matrix
-------------
Each half of the chip has a switch matrix of 224 *switch rows* (one per driver line
y = 0..223) x 128 V-buses.  V-bus ``v`` has switches on 28 rows: two adjacent rows in every
16-row period (7 periods in the top half, 7 in the bottom half)::

    o(v) = 2 * ((v % 32) // 4)          for the left half (v < 128)
    o(v) = 14 - 2 * ((v % 32) // 4)     for the right half (v >= 128), mirrored
    top rows:    16 k + o + {0, 1}               k = 0..6
    bottom rows: 126 - o + 16 k + {0, 1}         k = 0..6

Of each adjacent pair one row belongs to a *left-side* driver and the other to a
*right-side* driver (top half: odd lines left, even lines right; bottom half mirrored).  A
switch row whose driver sits on the matrix's own side feeds the local driver; the other one
feeds the facing driver with the same line number on the neighbouring HICANN (west
neighbour's right drivers for the left matrix, east neighbour's left drivers for the right
matrix).  Hence a V-bus reaches 14 drivers on its own chip and 14 on the neighbour, and the
drivers of side ``s`` a V-bus ``v`` reaches are ``reachable_drivers(v, s)`` whether ``v`` lies
on the driver's own HICANN or on the neighbour (this is how marocco looks them up).

Quadrants and chains
--------------------
Drivers 0..111 serve the top synapse array, 112..223 the bottom one; each (array, side)
quadrant holds 56 drivers, indexed ``(line // 2) % 56`` along the chip edge.  A driver chain
is a run of consecutive quadrant indices (adjacent drivers on the same edge).  Driver ``d``
drives synapse rows ``2 d`` and ``2 d + 1``.
"""
from __future__ import annotations

import numpy as np

from . import wafer

N_DRIVERS = wafer.N_SYNAPSE_DRIVERS            # 224
DRIVERS_PER_QUADRANT = wafer.DRIVERS_PER_QUADRANT  # 56
DRIVERS_PER_SIDE = 2 * DRIVERS_PER_QUADRANT     # 112
SWITCHES_PER_SIDE = 14                          # per V-bus, per vertical half (top/bottom)
LEFT, RIGHT = 0, 1
TOP, BOTTOM = 0, 1


def switch_offset(v):
    """Offset ``o(v)`` of the V-bus's switch pair inside every 16-row period."""
    v = np.asarray(v, dtype=np.int64)
    o = 2 * ((v % 32) // 4)
    return np.where(v < 128, o, 14 - o)


def switch_rows(v):
    """The 28 switch rows (driver lines 0..223) V-bus ``v`` has switches on, ascending:
    14 in the top half, 14 in the bottom half.  Shape ``v.shape + (28,)``."""
    o = switch_offset(v)[..., None]
    k = np.arange(7, dtype=np.int64)
    pair = np.array([0, 1], dtype=np.int64)
    top = (16 * k[:, None] + pair[None, :]).ravel()            # 0,1,16,17,...,96,97
    bottom = (126 + 16 * k[:, None] + pair[None, :]).ravel()   # 126,127,...,222,223
    return np.concatenate([top + o, bottom - o], axis=-1)


def line_side(line):
    """Side (0 left, 1 right) of the driver on a switch row / driver line (same rule as
    :func:`wafer.driver_side`)."""
    return wafer.driver_side(line)


def reachable_drivers(v, side):
    """The 14 synapse drivers of side ``side`` (0 left, 1 right) V-bus ``v`` can reach as
    primary drivers, ascending (7 top, 7 bottom).  Shape ``broadcast(v, side).shape + (14,)``.
    """
    v, side = np.broadcast_arrays(np.asarray(v, dtype=np.int64),
                                  np.asarray(side, dtype=np.int64))
    rows = switch_rows(v)                                      # (..., 28)
    # pairs (even offset index, odd offset index); pick the member whose side matches
    pairs = rows.reshape(rows.shape[:-1] + (14, 2))
    first_side = line_side(pairs[..., 0])
    pick = (first_side != side[..., None]).astype(np.int64)
    return np.take_along_axis(pairs, pick[..., None], axis=-1)[..., 0]


#: REACHABLE[side, v, k]: the k-th of the 14 drivers of ``side`` reachable from V-bus v
REACHABLE = np.stack([reachable_drivers(np.arange(wafer.N_VLINES), s) for s in (LEFT, RIGHT)])


def switch_target(hicann, v, line):
    """HICANN and driver fed by the synapse switch of V-bus ``v`` (on HICANN ``hicann``) in
    switch row ``line``: the local driver if its side matches the V-bus's half, otherwise the
    facing driver (same line) of the west (left half) or east (right half) neighbour.
    Returns ``(hicann', driver)``; ``hicann'`` is -1 where that neighbour does not exist.
    Does not check that the switch exists (see :func:`switch_exists`)."""
    hicann, v, line = np.broadcast_arrays(np.asarray(hicann, dtype=np.int64),
                                          np.asarray(v, dtype=np.int64),
                                          np.asarray(line, dtype=np.int64))
    half = (v >= 128).astype(np.int64)
    local = line_side(line) == half
    neighbour = np.where(half == 0, wafer.NEIGHBOUR[wafer.WEST][hicann],
                         wafer.NEIGHBOUR[wafer.EAST][hicann])
    return np.where(local, hicann, neighbour), line


def switch_exists(v, line):
    """Whether V-bus ``v`` has a synapse switch in switch row ``line``."""
    v, line = np.broadcast_arrays(np.asarray(v, dtype=np.int64),
                                  np.asarray(line, dtype=np.int64))
    return np.any(switch_rows(v) == line[..., None], axis=-1)


# ---------------------------------------------------------------- quadrants and chains
def driver_quadrant(driver):
    """Quadrant of a driver as (array, side): array 0 top / 1 bottom, side 0 left / 1 right."""
    d = np.asarray(driver, dtype=np.int64)
    return wafer.driver_array(d), wafer.driver_side(d)


def quadrant_index(driver):
    """Position 0..55 of a driver along its quadrant's edge: ``(line // 2) % 56``."""
    return (np.asarray(driver, dtype=np.int64) // 2) % DRIVERS_PER_QUADRANT


def quadrant_driver(array, side, index):
    """Driver line of quadrant ``(array, side)`` at edge position ``index`` (inverse of
    :func:`driver_quadrant` / :func:`quadrant_index`)."""
    array = np.asarray(array, dtype=np.int64)
    side = np.asarray(side, dtype=np.int64)
    index = np.asarray(index, dtype=np.int64)
    odd = (side == LEFT) != (array == BOTTOM)   # top-left and bottom-right drivers are odd
    return (array * DRIVERS_PER_QUADRANT + index) * 2 + odd.astype(np.int64)


#: QUADRANT_DRIVERS[side, array, index] -> driver line
QUADRANT_DRIVERS = np.array([[quadrant_driver(a, s, np.arange(DRIVERS_PER_QUADRANT))
                              for a in (TOP, BOTTOM)] for s in (LEFT, RIGHT)])


def driver_rows(driver):
    """The two synapse rows (0..447) a driver drives: ``2 d`` and ``2 d + 1``."""
    d = np.asarray(driver, dtype=np.int64)[..., None]
    return 2 * d + np.array([0, 1])
