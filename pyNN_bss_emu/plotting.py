"""Plots of the emulated wafer and of recorded data, one call each (matplotlib, imported on use).

* :func:`plot_wafer_map`: the mapping on the wafer (neurons per HICANN, L1 routes, synapse
  loss per HICANN);
* :func:`plot_raster`: spike raster of one or several populations;
* :func:`plot_membrane`: membrane traces ``v`` (mV over ms);
* :func:`plot_weights`: realised against requested weights of a Projection.

Every function takes ``path`` (save the figure there, PNG/PDF/SVG by extension) and works in
any matplotlib backend; nothing changes the user's backend.  The training curve of
:mod:`pyNN_bss_emu.training` is :func:`pyNN_bss_emu.training.plotting.plot_history`.
"""
from __future__ import annotations

import numpy as np

from .hardware import wafer

__all__ = ["plot_wafer_map", "plot_raster", "plot_membrane", "plot_weights"]

#: resolution of saved figures (dots per inch)
DPI = 100


def _pyplot(what: str):
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(f"{what} needs matplotlib: pip install matplotlib") from err
    return plt


def _save(fig, path, dpi) -> None:
    if path is not None:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")


# ================================================================== wafer map
def _hicann_grid(values: np.ndarray) -> np.ndarray:
    """Per-HICANN values on the 16 x 36 grid (NaN where the wafer has no HICANN)."""
    grid = np.full((wafer.GRID_HEIGHT, wafer.GRID_WIDTH), np.nan)
    grid[wafer.HICANN_Y, wafer.HICANN_X] = values
    return grid


def _cell_outlines(hicanns, color, lw):
    """Outlines of the given HICANNs' grid cells (a collection, no patches)."""
    from matplotlib.collections import LineCollection
    x, y = wafer.HICANN_X[hicanns], wafer.HICANN_Y[hicanns]
    corners = np.array([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5)])
    loops = np.stack([x, y], axis=1)[:, None, :] + corners[None, :, :]
    return LineCollection(list(loops), colors=color, linewidths=lw)


def plot_wafer_map(path: str | None = None, ax=None, title: str | None = None,
                   filename: str | None = None, dpi: int = DPI, wafer: int = 0):
    """Draw the current mapping on the wafer (call after the first ``run()``; ``run(0)`` maps).

    Top panel: every HICANN as a cell of the 36 x 16 grid, coloured by the number of neurons
    placed on it (hatched: spike-source input only; grey: defective; red edge: synapses to its
    neurons were lost), and every L1 route request as a line from its source HICANN to its
    target HICANN (orange; red dashed: failed).  Bottom panel: synapse loss per HICANN, the
    percentage of the synapses onto its neurons that the mapping could not realise (white: no
    synapses end there), with the lost count written in the cells that lose any.

    ``path`` (or its older name ``filename``): save the figure there.  ``ax``: draw only the
    top panel into this Axes.  Returns the Axes of the top panel (``ax.figure`` is the
    Figure).  ``wafer``: which wafer of a multi-wafer system (``setup(wafers=...)``)."""
    plt = _pyplot("plot_wafer_map")
    from .hardware import wafer as wafer_hw
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    from .wafer_api import get_defects, get_mapping, get_synapse_loss_per_hicann
    path = path if path is not None else filename
    result = get_mapping()
    n_wafers = len(getattr(result, "wafers", [result]))
    if not 0 <= int(wafer) < n_wafers:
        raise ValueError(f"plot_wafer_map(wafer={wafer!r}): the system has {n_wafers} "
                         f"wafer(s), 0..{n_wafers - 1}")
    if n_wafers > 1:
        result = result.wafers[wafer]
        if result is None:
            raise ValueError(f"plot_wafer_map(wafer={wafer}): nothing was placed on wafer "
                             f"{wafer}")
    defects = get_defects(wafer)
    neurons = np.bincount(result.placement.hicann[result.placement.hicann >= 0],
                          minlength=wafer_hw.N_HICANN)
    sources = np.bincount(result.sources.hicann[result.sources.hicann >= 0],
                          minlength=wafer_hw.N_HICANN)
    requested, lost = get_synapse_loss_per_hicann()
    # per system HICANN (k * 384 + h): this wafer's part
    requested = requested[wafer * wafer_hw.N_HICANN:(wafer + 1) * wafer_hw.N_HICANN] \
        if n_wafers > 1 else requested
    lost = lost[wafer * wafer_hw.N_HICANN:(wafer + 1) * wafer_hw.N_HICANN] \
        if n_wafers > 1 else lost
    ax_loss = None
    if ax is None:
        fig, (ax, ax_loss) = plt.subplots(2, 1, figsize=(10, 9.5), constrained_layout=True)
    else:
        fig = ax.figure
    cmap = plt.get_cmap("viridis")
    vmax = max(int(neurons.max()), 1)
    for h in range(wafer_hw.N_HICANN):
        x, y = wafer_hw.HICANN_X[h], wafer_hw.HICANN_Y[h]
        if not defects.hicann_ok[h]:
            face, hatch = "0.6", None
        elif neurons[h]:
            face, hatch = cmap(neurons[h] / vmax), None
        elif sources[h]:
            face, hatch = "white", "///"
        else:
            face, hatch = "white", None
        edge, lw = ("tab:red", 1.5) if lost[h] else ("0.8", 0.5)
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=face, edgecolor=edge,
                               hatch=hatch, linewidth=lw))
    r = result.routes
    src_h = r.source_hicann[r.req_source]
    for ok, style in ((True, dict(color="tab:orange", alpha=0.35, lw=0.6)),
                      (False, dict(color="tab:red", alpha=0.8, lw=0.8, ls="--"))):
        sel = (r.req_ok == ok) & (src_h != r.req_target)
        if np.any(sel):
            xs = np.stack([wafer_hw.HICANN_X[src_h[sel]], wafer_hw.HICANN_X[r.req_target[sel]]])
            ys = np.stack([wafer_hw.HICANN_Y[src_h[sel]], wafer_hw.HICANN_Y[r.req_target[sel]]])
            ax.plot(xs, ys, **style)
    for a in (ax, ax_loss):
        if a is None:
            continue
        a.set_xlim(-1, wafer_hw.GRID_WIDTH)
        a.set_ylim(wafer_hw.GRID_HEIGHT, -1)
        a.set_aspect("equal")
        a.set_xlabel("HICANN x (grid column)")
        a.set_ylabel("HICANN y (grid row)")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Line2D([], [], color="tab:orange", lw=1, label="L1 route"),
               Line2D([], [], color="tab:red", lw=1, ls="--", label="failed route"),
               Patch(facecolor="white", edgecolor="0.5", hatch="///",
                     label="spike sources only"),
               Patch(facecolor="0.6", edgecolor="0.8", label="defective"),
               Patch(facecolor="white", edgecolor="tab:red", lw=1.5, label="synapses lost")]
    ax.legend(handles=handles, loc="upper left", fontsize="x-small", framealpha=0.9)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, vmax))
    fig.colorbar(sm, ax=ax, label="neurons per HICANN", shrink=0.8)
    s = result.statistics
    ax.set_title(title or f"{s.neurons_placed} neurons on {s.hicanns_used} HICANNs, "
                          f"{s.l1_routes - s.l1_routes_failed}/{s.l1_routes} L1 routes, "
                          f"synapse loss {100 * s.synapse_loss:.1f} %")
    if ax_loss is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(requested > 0, 100.0 * lost / requested, np.nan)
        edges_x = np.arange(wafer_hw.GRID_WIDTH + 1) - 0.5
        edges_y = np.arange(wafer_hw.GRID_HEIGHT + 1) - 0.5
        # background: white HICANNs (grey: defective), nothing where the wafer has none
        ax_loss.pcolormesh(edges_x, edges_y,
                           np.ma.masked_invalid(_hicann_grid((~defects.hicann_ok) * 1.0)),
                           cmap=ListedColormap(["white", "0.6"]), vmin=0, vmax=1)
        ax_loss.add_collection(_cell_outlines(np.arange(wafer_hw.N_HICANN), "0.8", 0.5))
        vmax_loss = max(float(np.nanmax(frac)) if np.any(requested) else 0.0, 1.0)
        mesh = ax_loss.pcolormesh(edges_x, edges_y, np.ma.masked_invalid(_hicann_grid(frac)),
                                  cmap="Reds", vmin=0, vmax=vmax_loss)
        targets = np.flatnonzero(requested)
        ax_loss.add_collection(_cell_outlines(targets, "0.3", 0.8))
        losing = np.flatnonzero(lost)
        if losing.size <= 60:
            for h in losing:
                ax_loss.text(wafer_hw.HICANN_X[h], wafer_hw.HICANN_Y[h], str(int(lost[h])),
                             ha="center", va="center", fontsize=6,
                             color="white" if frac[h] > 0.6 * vmax_loss else "black")
        fig.colorbar(mesh, ax=ax_loss, label="synapse loss per HICANN (%)", shrink=0.8)
        n_target = int(np.sum(requested > 0))
        ax_loss.set_title(f"synapse loss per HICANN of the target neurons: "
                          f"{int(lost.sum())} of {int(requested.sum())} synapses lost, on "
                          f"{losing.size} of {n_target} target HICANNs")
    _save(fig, path, dpi)
    return ax


# ================================================================== recorded data
def _is_population(obj) -> bool:
    from pyNN import common
    return isinstance(obj, (common.Population, common.PopulationView, common.Assembly))


def _label_of(obj, seg) -> str:
    """A Block's name (PyNN: the population label), else the population the data come from."""
    import neo
    if isinstance(obj, neo.Block) and obj.name:
        return str(obj.name)
    for item in list(seg.spiketrains) + list(seg.analogsignals):
        label = item.annotations.get("source_population")
        if label:
            return str(label)
    return str(seg.name or "")


def _segments(data, variable: str, segment: int, func: str) -> list:
    """[(label, neo Segment)] of a Block, Segment, Population (its get_data(variable)), or a
    list/tuple/dict of them (dict keys are the labels)."""
    import neo
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, (list, tuple)):
        items = [(None, d) for d in data]
    else:
        items = [(None, data)]
    if not items:
        raise ValueError(f"{func}(data=...): the list of data sets is empty")
    out = []
    for label, obj in items:
        if _is_population(obj):
            obj = obj.get_data(variable)
        if isinstance(obj, neo.Block):
            if not obj.segments:
                raise ValueError(f"{func}(data=...): the neo Block "
                                 f"'{obj.name}' holds no segments")
            try:
                seg = obj.segments[segment]
            except IndexError:
                raise ValueError(f"{func}(segment={segment}): the Block '{obj.name}' has "
                                 f"{len(obj.segments)} segment(s)") from None
        elif isinstance(obj, neo.Segment):
            seg = obj
        else:
            raise TypeError(f"{func}(data=...): expected a neo Block or Segment, a Population "
                            f"(its get_data() is used) or a list/dict of them, got "
                            f"{type(obj).__name__}")
        out.append((str(label) if label is not None else _label_of(obj, seg), seg))
    return out


def _panels(plt, n: int, heights, width: float = 9.0):
    heights = np.clip(np.asarray(heights, dtype=float), 1.0, 4.0)
    fig, axes = plt.subplots(n, 1, figsize=(width, 0.6 + 1.4 * heights.sum()), sharex=True,
                             squeeze=False, constrained_layout=True,
                             gridspec_kw={"height_ratios": heights})
    return fig, list(axes[:, 0])


def plot_raster(data, path: str | None = None, segment: int = -1, title: str | None = None,
                markersize: float = 2.0, dpi: int = DPI):
    """Spike raster (neuron index over time in ms), one panel per population.

    ``data``: a neo Block (its segment number ``segment``, default the last) or Segment as
    ``Population.get_data()`` returns them, a Population itself (its ``get_data('spikes')``),
    or a list or dict (``{label: data}``) of those for several populations in one figure.
    Spikes must have been recorded (``pop.record('spikes')``).  ``path``: save the figure
    there.  Returns the matplotlib Figure."""
    plt = _pyplot("plot_raster")
    sets = _segments(data, "spikes", segment, "plot_raster")
    missing = [label for label, seg in sets if not seg.spiketrains]
    if missing:
        raise ValueError(f"plot_raster(data=...): no spike trains in "
                         f"{', '.join(map(repr, missing))} (record them with "
                         "pop.record('spikes') before the run)")
    fig, axes = _panels(plt, len(sets), [len(seg.spiketrains) / 50.0 for _, seg in sets])
    for k, (ax, (label, seg)) in enumerate(zip(axes, sets)):
        trains = list(seg.spiketrains)
        n_spikes, t0, t1 = 0, np.inf, -np.inf
        for i, st in enumerate(trains):
            times = np.asarray(st.rescale("ms").magnitude, dtype=float)
            index = int(st.annotations.get("source_index", i))
            ax.plot(times, np.full(times.size, index), "|", color=f"C{k % 10}",
                    markersize=markersize * 2, markeredgewidth=0.8)
            n_spikes += times.size
            t0 = min(t0, float(st.t_start.rescale("ms").magnitude))
            t1 = max(t1, float(st.t_stop.rescale("ms").magnitude))
        duration_s = (t1 - t0) / 1e3 if t1 > t0 else np.nan
        rate = n_spikes / len(trains) / duration_s if duration_s > 0 else np.nan
        ax.set_title(f"{label}: {n_spikes} spikes from {len(trains)} neurons, mean rate "
                     f"{rate:.1f} Hz", fontsize="medium")
        ax.set_ylabel("neuron index")
        ax.set_xlim(t0, t1)
        ax.set_ylim(-0.5, max(len(trains), 1) - 0.5)
    axes[-1].set_xlabel("time (ms)")
    if title:
        fig.suptitle(title)
    _save(fig, path, dpi)
    return fig


def plot_membrane(data, path: str | None = None, segment: int = -1, title: str | None = None,
                  max_traces: int = 10, dpi: int = DPI):
    """Membrane potential traces ``v`` (mV over time in ms), one panel per population.

    ``data`` as for :func:`plot_raster` (a Population gives its ``get_data('v')``); ``v`` must
    have been recorded (``pop.record('v')``).  At most ``max_traces`` neurons per population
    are drawn.  ``path``: save the figure there.  Returns the matplotlib Figure."""
    plt = _pyplot("plot_membrane")
    sets = _segments(data, "v", segment, "plot_membrane")
    signals = []
    for label, seg in sets:
        sigs = [s for s in seg.analogsignals if s.name == "v"]
        if not sigs:
            raise ValueError(f"plot_membrane(data=...): no membrane potential 'v' in "
                             f"{label!r} (record it with pop.record('v') before the run)")
        signals.append((label, sigs))
    fig, axes = _panels(plt, len(signals), [2.0] * len(signals))
    for ax, (label, sigs) in zip(axes, signals):
        drawn = total = 0
        for sig in sigs:
            t = np.asarray(sig.times.rescale("ms").magnitude, dtype=float)
            v = np.asarray(sig.rescale("mV").magnitude, dtype=float)
            ids = sig.array_annotations.get("channel_index", np.arange(v.shape[1]))
            total += v.shape[1]
            for c in range(v.shape[1]):
                if drawn >= max_traces:
                    break
                ax.plot(t, v[:, c], lw=0.8, label=f"neuron {int(ids[c])}")
                drawn += 1
        ax.set_title(f"{label}: membrane potential of {drawn} of {total} recorded "
                     f"neuron{'s' if total != 1 else ''}", fontsize="medium")
        ax.set_ylabel("v (mV)")
        if drawn <= 10:
            ax.legend(loc="upper right", fontsize="x-small", ncol=min(drawn, 5))
    axes[-1].set_xlabel("time (ms)")
    if title:
        fig.suptitle(title)
    _save(fig, path, dpi)
    return fig


# ================================================================== weights
def plot_weights(projection, path: str | None = None, title: str | None = None,
                 dpi: int = DPI):
    """Realised against requested weights of a Projection, one point per connection.

    Requested: the weights given to the Projection (µS; nA for current-based targets);
    realised: what ``Projection.get('weight', ...)`` reports, on the wafer the 4-bit
    synapse weights with the wafer's fixed pattern (``NaN`` for synapses lost in the
    mapping: counted in the title and marked red below the axis).  With ``setup(ideal=True)``
    every point lies on the identity line.  On the wafer the network must have been mapped
    (after a ``run()``; ``run(0)`` maps).  ``path``: save the figure there.  Returns the
    matplotlib Figure."""
    from .control import get_backend
    from .projections import Projection
    if not isinstance(projection, Projection):
        raise TypeError(f"plot_weights(projection=...): expected a pyNN.bss_emu Projection, "
                        f"got {type(projection).__name__}")
    backend = get_backend()
    if not backend.realised_values_known():
        raise RuntimeError("plot_weights: the network has not been mapped yet, so the "
                           "realised weights are unknown; call sim.run(0) (or run()) first")
    n = len(projection)
    if n == 0:
        raise ValueError(f"plot_weights(projection=...): projection '{projection.label}' has "
                         "no connections")
    plt = _pyplot("plot_weights")
    requested = np.asarray(projection.get_requested("weight", format="list",
                                                    with_address=False), dtype=float).reshape(-1)
    realised = np.asarray(projection.get("weight", format="list", with_address=False),
                          dtype=float).reshape(-1)
    lost = np.isnan(realised)
    ok = ~lost
    on_line = np.isclose(realised[ok], requested[ok], rtol=1e-9, atol=1e-12)
    unit = "µS" if projection.post.conductance_based else "nA"
    fig, ax = plt.subplots(figsize=(6, 5.2), constrained_layout=True)
    ax.scatter(requested[ok], realised[ok], s=10, alpha=0.5, color="tab:blue",
               edgecolors="none", label=f"realised ({int(ok.sum())})")
    values = np.concatenate([requested, realised[ok]])
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1e-3) * 0.05
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="identity")
    if np.any(lost):
        ax.plot(requested[lost], np.zeros(int(lost.sum())), "|", color="tab:red",
                markersize=12, transform=ax.get_xaxis_transform(),
                label=f"lost in the mapping ({int(lost.sum())})")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"requested weight ({unit})")
    ax.set_ylabel(f"realised weight ({unit})")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title or f"'{projection.label}' on the {backend.description}: {n} connections, "
                          f"{int(lost.sum())} lost (NaN), {int(np.sum(~on_line))} off the "
                          f"identity", fontsize="medium")
    _save(fig, path, dpi)
    return fig
