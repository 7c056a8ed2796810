"""Training curves of an in-the-loop run (matplotlib, imported only when plotting)."""
from __future__ import annotations

__all__ = ["plot_history"]


def plot_history(history: dict, path: str | None = None, references: dict | None = None,
                 title: str | None = None):
    """Loss and accuracy against iteration.

    ``history``: :attr:`InTheLoopTrainer.history`; ``references``: horizontal lines, e.g.
    ``{"software ANN": 0.972, "direct transfer": 0.89}`` (accuracies in [0, 1]).  Saves to
    ``path`` (PNG etc.) when given; returns the figure."""
    import matplotlib
    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    it = history.get("iteration", [])
    ax_loss.plot(it, history.get("loss", []), color="tab:gray", lw=1)
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("batch loss (cross-entropy)")
    ax_acc.plot(it, [100 * a for a in history.get("batch_accuracy", [])], color="tab:gray",
                lw=0.8, alpha=0.6, label="training batch")
    ax_acc.plot(history.get("eval_iteration", []),
                [100 * a for a in history.get("eval_accuracy", [])], "o-", color="tab:blue",
                label="test set")
    for k, (name, value) in enumerate((references or {}).items()):
        ax_acc.axhline(100 * value, ls="--", lw=1, color=f"C{k + 2}", label=name)
    ax_acc.set_xlabel("iteration")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.legend(loc="lower right", fontsize="small")
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
