"""Short-term plasticity on the wafer's synapse drivers (``shared/reference/brainscales1.md``
sections 3.5, 4.6, 14.8-14.10).

STP keys
    The STP circuit is configured per synapse driver (both its rows): ``stp_enable``,
    ``stp_mode`` (depression or facilitation) and a 3-bit ``stp_cap`` giving
    ``U = 0.25 + 0.15 * cap / 7``.  Every connection therefore needs a driver with one
    particular setting, its *STP key*:

    * ``0``: static (STP circuit off);
    * ``1 + cap`` (1..8): depression (``tau_rec > 0``, ``tau_facil == 0``);
    * ``9 + cap`` (9..16): facilitation (``tau_facil > 0``);
    * ``17``: static, rows for STDP synapses only (:data:`PLASTIC`).

    Connections with different keys never share a driver.  A Tsodyks-Markram connection with
    ``tau_rec == tau_facil == 0`` counts as depression with its cap: the engine's
    Tsodyks-Markram model still scales such a synapse by U (full recovery between spikes), so
    it needs an enabled STP circuit, not a static driver.  (On the wafer
    ``TsodyksMarkramSynapse.check`` rejects it anyway: the time constant must lie in
    6..5900 ms.)

Shared time constants
    The STP time constant is a floating-gate voltage (``V_dtc``) shared by all drivers of an
    FG block, i.e. of one quadrant of the HICANN's drivers (top/bottom array x left/right
    side; block ``2 * array + side``).  The circuit has one recovery time constant for both
    modes (the ESS model recovers the inactive partition with it in depression and in
    facilitation), so in each block all STP synapses share one value: the depressing ones'
    ``tau_rec`` and the facilitating ones' ``tau_facil``.  :func:`share_time_constants`
    chooses the value requested by most realised synapses of the block (ties: the smaller
    value) and reports the blocks where requests differed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hardware import wafer

STATIC = 0
DEPRESSION = 1            # keys 1..8: depression with cap = key - 1
FACILITATION = 9          # keys 9..16: facilitation with cap = key - 9
#: key 17: static driver (STP off) whose rows hold STDP synapses only (issue 15): a row's
#: gmax is set by its largest weight, so plastic synapses do not share rows with static ones
PLASTIC = 17
N_CAPS = 8
N_KEYS = 18
MODE_NAMES = ("static", "depression", "facilitation")
#: range of U set by the 3-bit cap (4.6)
U_RANGE = (0.25, 0.40)


#: recovery / facilitation time constant of the driver's STP circuit, bio ms (V_dtc range at
#: a speed-up of 1e4, brainscales1.md 4.6)
TAU_RANGE_MS = (6.0, 5900.0)


def circuit_violation(U: np.ndarray, tau_rec: np.ndarray, tau_facil: np.ndarray
                      ) -> str | None:
    """Why Tsodyks-Markram parameters cannot be realised by a synapse driver's STP circuit
    (depression or facilitation, not both; 3-bit U in ``U_RANGE``; time constant in
    ``TAU_RANGE_MS``), or None if they can."""
    both = (tau_rec > 0) & (tau_facil > 0)
    if np.any(both):
        return ("depression (tau_rec) and facilitation (tau_facil) cannot be active at the "
                f"same time; set one of them to 0 (got tau_rec={float(tau_rec[both][0]):g}, "
                f"tau_facil={float(tau_facil[both][0]):g})")
    lo, hi = U_RANGE
    bad = (U < lo - 1e-9) | (U > hi + 1e-9)
    if np.any(bad):
        return (f"'U' = {float(U[bad][0]):g} is outside the driver's range {lo}..{hi} "
                "(3-bit U_SE)")
    tau = np.maximum(tau_rec, tau_facil)
    lo, hi = TAU_RANGE_MS
    bad = (tau < lo) | (tau > hi)
    if np.any(bad):
        return (f"time constant {float(tau[bad][0]):g} ms is outside the driver's range "
                f"{lo}..{hi} ms")
    return None


def realisable(stp: np.ndarray) -> np.ndarray:
    """The nearest (n, 3) Tsodyks-Markram parameters (U, tau_rec, tau_facil; NaN rows:
    static) a driver's STP circuit realises: U clamped into ``U_RANGE`` (its 3-bit level is
    chosen by :func:`u_cap`), the time constant into ``TAU_RANGE_MS``, and depression kept
    where both depression and facilitation were asked for (the circuit does one of them)."""
    out = np.array(stp, dtype=float, copy=True).reshape(-1, 3)
    plastic = ~np.isnan(out[:, 0])
    p = out[plastic]
    p[:, 0] = np.clip(p[:, 0], *U_RANGE)
    both = (p[:, 1] > 0) & (p[:, 2] > 0)
    p[both, 2] = 0.0
    for col in (1, 2):
        on = p[:, col] > 0
        p[on, col] = np.clip(p[on, col], *TAU_RANGE_MS)
    out[plastic] = p
    return out


def realised_u(U) -> np.ndarray:
    """U as the driver's 3-bit cap realises it (8 levels from 0.25 to 0.40)."""
    lo, hi = U_RANGE
    return lo + (hi - lo) * u_cap(U) / (N_CAPS - 1)


def u_cap(U) -> np.ndarray:
    """3-bit cap (0..7) nearest to ``U``."""
    lo, hi = U_RANGE
    U = np.asarray(U, dtype=float)
    return np.clip(np.rint((U - lo) / (hi - lo) * (N_CAPS - 1)), 0, N_CAPS - 1).astype(np.int64)


def stp_keys(stp: np.ndarray) -> np.ndarray:
    """STP key per connection from an (n, 3) array of (U, tau_rec, tau_facil), NaN rows for
    static synapses (``Projection._stp``)."""
    stp = np.asarray(stp, dtype=float).reshape(-1, 3)
    plastic = ~np.isnan(stp[:, 0])
    keys = np.zeros(stp.shape[0], dtype=np.int64)
    if np.any(plastic):
        p = stp[plastic]
        cap = u_cap(p[:, 0])
        keys[plastic] = np.where(p[:, 2] > 0, FACILITATION, DEPRESSION) + cap
    return keys


def stp_classes(keys) -> tuple[np.ndarray, np.ndarray]:
    """The STP keys present in ``keys``, ascending (``[0]`` if there are none), and every
    connection's STP class: the index of its key among them.  Row classes, driver needs and
    per-driver settings are counted per class, so an all-static network has one class."""
    keys = np.asarray(keys, dtype=np.int64)
    present = np.bincount(keys, minlength=1) > 0
    if not present.any():
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.flatnonzero(present), (np.cumsum(present) - 1)[keys]


def key_mode(keys) -> np.ndarray:
    """0 static, 1 depression, 2 facilitation per STP key."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.where((keys <= 0) | (keys == PLASTIC), 0,
                    np.where(keys < FACILITATION, 1, 2))


def key_cap(keys) -> np.ndarray:
    """3-bit cap per STP key (-1 for static)."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.where((keys <= 0) | (keys == PLASTIC), -1, (keys - 1) % N_CAPS)


def driver_mode_counts(driver_stp: np.ndarray) -> dict:
    """Used drivers per STP mode, ``{"static": n, "depression": n, "facilitation": n}``, from
    a ``driver_stp`` table (-1 unused, else the STP key)."""
    d = np.asarray(driver_stp).ravel()
    d = d[d >= 0]
    n = np.bincount(key_mode(d), minlength=3)
    return {name: int(n[i]) for i, name in enumerate(MODE_NAMES)}


def fg_block_of_driver(hicann, driver) -> np.ndarray:
    """Global shared FG block (``hicann * 4 + 2 * array + side``) whose STP voltages a
    synapse driver uses (-1 where ``hicann`` or ``driver`` is -1)."""
    h = np.asarray(hicann, dtype=np.int64)
    d = np.asarray(driver, dtype=np.int64)
    ok = (h >= 0) & (d >= 0)
    dd = np.maximum(d, 0)
    block = h * 4 + 2 * wafer.driver_array(dd) + wafer.driver_side(dd)
    return np.where(ok, block, -1)


@dataclass
class SharedTimeConstants:
    """Result of :func:`share_time_constants`.

    ``tau[k]`` the time constant connection k gets (its request where it is not a realised
    STP synapse); per conflicting block b (listed in ``conflict_blocks``):
    ``conflict_values[i]`` the distinct values requested (ascending),
    ``conflict_counts[i]`` synapses per value, ``conflict_chosen[i]`` the value used,
    ``conflict_members[i]`` the connections of the block that had to change.
    """
    tau: np.ndarray
    conflict_blocks: np.ndarray
    conflict_values: list
    conflict_counts: list
    conflict_chosen: np.ndarray
    conflict_members: list


def share_time_constants(tau, block, plastic) -> SharedTimeConstants:
    """One STP time constant per FG block: every connection with ``plastic[k]`` and
    ``block[k] >= 0`` gets the value of ``tau`` requested by most such connections of its
    block (ties: the smaller value); the others keep theirs."""
    tau = np.asarray(tau, dtype=float)
    block = np.asarray(block, dtype=np.int64)
    sel = np.flatnonzero(np.asarray(plastic, dtype=bool) & (block >= 0))
    out = tau.copy()
    empty = SharedTimeConstants(out, np.zeros(0, np.int64), [], [], np.zeros(0), [])
    if sel.size == 0:
        return empty
    b, t = block[sel], tau[sel]
    # distinct (block, value) pairs and their counts
    order = np.lexsort((t, b))
    bs, ts = b[order], t[order]
    new_pair = np.r_[True, (bs[1:] != bs[:-1]) | (ts[1:] != ts[:-1])]
    pair_start = np.flatnonzero(new_pair)
    pair_count = np.diff(np.r_[pair_start, bs.size])
    pair_block, pair_tau = bs[pair_start], ts[pair_start]
    # per block: the pair with most synapses (first = smallest value among equals)
    blk_start = np.flatnonzero(np.r_[True, pair_block[1:] != pair_block[:-1]])
    n_pairs = np.diff(np.r_[blk_start, pair_block.size])
    if np.all(n_pairs == 1):
        return empty
    rank = np.lexsort((pair_tau, -pair_count, pair_block))        # best pair of a block first
    best_pair = rank[np.r_[True, pair_block[rank][1:] != pair_block[rank][:-1]]]
    chosen = pair_tau[best_pair]                                  # per block (ascending block)
    blocks = pair_block[blk_start]
    blk_idx = np.searchsorted(blocks, b)
    out[sel] = chosen[blk_idx]
    bad = np.flatnonzero(n_pairs > 1)
    by_block = sel[np.argsort(blk_idx, kind="stable")]
    bounds = np.searchsorted(np.sort(blk_idx), np.arange(blocks.size + 1))
    values, counts, members = [], [], []
    for i in bad:
        lo, hi = blk_start[i], blk_start[i] + n_pairs[i]
        values.append(pair_tau[lo:hi])
        counts.append(pair_count[lo:hi])
        m = by_block[bounds[i]:bounds[i + 1]]
        members.append(m[tau[m] != chosen[i]])
    return SharedTimeConstants(out, blocks[bad], values, counts, chosen[bad], members)


# ------------------------------------------------------------ the driver's equations (issue 15)
#: largest facilitation strength lambda the driver realises (V_stdf) [E]
LAMBDA_MAX = 4.0


def stp_weight_scale(stp: np.ndarray) -> np.ndarray:
    """Per connection: the factor a synapse driver with STP programs the weight with (its
    realised U; 1 for static rows).  The driver's first spike carries the full programmed
    weight, Tsodyks-Markram's first spike U w (ESS ``syndriver::pulse``)."""
    p = realisable(stp)
    return np.where(np.isnan(p[:, 0]), 1.0, realised_u(np.nan_to_num(p[:, 0], nan=U_RANGE[0])))


def driver_parameters(stp_realised: np.ndarray) -> np.ndarray:
    """(n, 2) (lambda, N) of the driver's equations that reproduce Tsodyks-Markram with the
    realised (U, tau_rec, tau_facil) (NaN rows: static), given the weight programmed as U w:

    * depression: I is Tsodyks-Markram's 1 - x (same update, same recovery), so factor
      1 - I = x with lambda = 1, N = 0: U w x as NEST's ``tsodyks_synapse`` for
      tau_psc << tau_rec;
    * facilitation: I is u before the spike's update, Tsodyks-Markram's amplitude
      w (U + (1 - U) u): lambda = (1 - U) / U, N = 0 (exact without depression).
    """
    p = np.asarray(stp_realised, dtype=float).reshape(-1, 3)
    out = np.full((p.shape[0], 2), np.nan)
    on = ~np.isnan(p[:, 0])
    U = p[on, 0]
    fac = p[on, 2] > 0
    out[on, 0] = np.where(fac, np.minimum((1.0 - U) / U, LAMBDA_MAX), 1.0)
    out[on, 1] = 0.0
    return out
