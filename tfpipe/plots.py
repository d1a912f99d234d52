"""Training curves as the course draws them (its ``visualizacion_resultados``).

Accuracy on the left, loss on the right, one line per epoch for train and one
for validation, saved as a PNG. Uses matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import TfpipeError


def plot_history(history, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Save accuracy and loss per epoch, train against validation, side by side.

    Args:
        history: what ``model.fit`` returns (a ``keras.callbacks.History``) or
            its ``.history`` dict: ``{"accuracy": [...], "loss": [...],
            "val_accuracy": [...], "val_loss": [...]}``; the ``val_`` curves
            are optional.
        path: the PNG to write; its folder is created.
        title: drawn above both panels (e.g. the model's name).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TfpipeError: the history has neither accuracy nor loss.
    """
    curves: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    metrics = [m for m in ("accuracy", "loss") if curves.get(m)]
    if not metrics:
        raise TfpipeError(
            f"plot_history: no 'accuracy' or 'loss' in the history (it has {', '.join(curves) or 'nothing'})"
        )
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    # A Figure on an Agg canvas, not pyplot: it never touches the user's
    # backend (a notebook keeps its own), needs no display, and is freed with
    # the object, so it is safe in loops and threads.
    fig = Figure(figsize=(6 * len(metrics), 4.5), layout="tight")
    FigureCanvasAgg(fig)
    for ax, metric in zip(fig.subplots(1, len(metrics), squeeze=False)[0], metrics):
        train = list(curves[metric])
        epochs = range(1, len(train) + 1)
        ax.plot(epochs, train, "o-", label=f"train {metric}")
        val = curves.get(f"val_{metric}")
        if val:
            ax.plot(range(1, len(val) + 1), list(val), "s--", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(metric.capitalize())
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out
