"""Plots of the emulated wafer (matplotlib, imported on use)."""
from __future__ import annotations

import numpy as np

from .hardware import wafer


def plot_wafer_map(filename: str | None = None, ax=None, title: str | None = None):
    """Draw the wafer: every HICANN as a cell of the 36 x 16 grid, coloured by the number of
    neurons placed on it (hatched: spike-source input only; grey: defective), and every L1
    route request as a line from its source HICANN to its target HICANN (red dashed: failed).
    Returns the matplotlib Axes; with ``filename`` the figure is also saved there."""
    try:
        import matplotlib
        if filename is not None and ax is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plot_wafer_map needs matplotlib: pip install matplotlib") from err
    from . import simulator
    from .mapper import _require_mapping
    result = _require_mapping()
    defects = simulator.state.mapper.defects
    neurons = np.bincount(result.placement.hicann[result.placement.hicann >= 0],
                          minlength=wafer.N_HICANN)
    sources = np.bincount(result.sources.hicann[result.sources.hicann >= 0],
                          minlength=wafer.N_HICANN)
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 5.5))
    else:
        fig = ax.figure
    cmap = plt.get_cmap("viridis")
    vmax = max(int(neurons.max()), 1)
    for h in range(wafer.N_HICANN):
        x, y = wafer.HICANN_X[h], wafer.HICANN_Y[h]
        if not defects.hicann_ok[h]:
            face, hatch = "0.6", None
        elif neurons[h]:
            face, hatch = cmap(neurons[h] / vmax), None
        elif sources[h]:
            face, hatch = "white", "///"
        else:
            face, hatch = "white", None
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=face, edgecolor="0.8",
                               hatch=hatch, linewidth=0.5))
    r = result.routes
    src_h = r.source_hicann[r.req_source]
    for ok, style in ((True, dict(color="tab:orange", alpha=0.35, lw=0.6)),
                      (False, dict(color="tab:red", alpha=0.8, lw=0.8, ls="--"))):
        sel = (r.req_ok == ok) & (src_h != r.req_target)
        if np.any(sel):
            xs = np.stack([wafer.HICANN_X[src_h[sel]], wafer.HICANN_X[r.req_target[sel]]])
            ys = np.stack([wafer.HICANN_Y[src_h[sel]], wafer.HICANN_Y[r.req_target[sel]]])
            ax.plot(xs, ys, **style)
    ax.set_xlim(-1, wafer.GRID_WIDTH)
    ax.set_ylim(wafer.GRID_HEIGHT, -1)
    ax.set_aspect("equal")
    ax.set_xlabel("HICANN x")
    ax.set_ylabel("HICANN y")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, vmax))
    fig.colorbar(sm, ax=ax, label="neurons per HICANN", shrink=0.8)
    s = result.statistics
    ax.set_title(title or f"{s.neurons_placed} neurons on {s.hicanns_used} HICANNs, "
                          f"{s.l1_routes - s.l1_routes_failed}/{s.l1_routes} L1 routes, "
                          f"synapse loss {100 * s.synapse_loss:.1f} %")
    if filename is not None:
        fig.savefig(filename, dpi=120, bbox_inches="tight")
    return ax
