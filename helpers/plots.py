"""The course's three recurring figures: training curves, image grids, confusion matrices.

Every function checks its input and raises ``ValueError`` with the shape it wanted,
and returns the matplotlib ``Figure`` so a notebook can save or adjust it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


def _history_dict(h) -> dict[str, list[float]]:
    """Accept a Keras ``History``, its ``.history`` dict, or any mapping of metric -> list."""
    hist = getattr(h, "history", h)
    if not isinstance(hist, Mapping) or not hist:
        raise ValueError(
            f"expected a keras History or a dict of metric lists, got {type(h).__name__}"
        )
    return {k: list(map(float, v)) for k, v in hist.items()}


def plot_history(
    histories,
    labels: Sequence[str] | None = None,
    metrics=("accuracy", "loss"),
    title: str | None = None,
    splits=("train", "validation"),
    val_label: str = "validation",
):
    """Training curves: one panel per metric, train solid and validation dashed.

    ``histories`` is one History (or dict) or a list of them; ``labels`` names each run.
    ``splits`` picks the curves: ``("validation",)`` compares many runs' validation curves
    without crowding the plot; ``val_label`` renames the dashed curves (e.g. "test" when the
    ``val_*`` entries were measured on the test set). Epochs are counted from 1, as Keras prints them.
    """
    unknown = set(splits) - {"train", "validation"}
    if unknown or not splits:
        raise ValueError(f"splits must be drawn from ('train', 'validation'), got {splits!r}")
    runs = list(histories) if isinstance(histories, (list, tuple)) else [histories]
    dicts = [_history_dict(h) for h in runs]
    if labels is None:
        labels = [f"run {i + 1}" for i in range(len(dicts))] if len(dicts) > 1 else [""]
    if len(labels) != len(dicts):
        raise ValueError(f"{len(dicts)} histories but {len(labels)} labels")
    metrics = [m for m in metrics if any(m in d for d in dicts)]
    if not metrics:
        raise ValueError(f"none of the metrics is recorded; available: {sorted(dicts[0])}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, (d, label) in enumerate(zip(dicts, labels, strict=True)):
            color = f"C{i}"
            prefix = f"{label} " if label else ""
            if metric in d and "train" in splits:
                ax.plot(
                    range(1, len(d[metric]) + 1), d[metric], color=color, label=f"{prefix}train"
                )
            if f"val_{metric}" in d and "validation" in splits:
                ax.plot(
                    range(1, len(d[f"val_{metric}"]) + 1),
                    d[f"val_{metric}"],
                    color=color,
                    linestyle="--",
                    label=f"{prefix}{val_label}",
                )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7 if len(dicts) > 2 else 8, ncol=2 if len(dicts) > 2 else 1)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _as_square_images(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(f"flat images of length {x.shape[1]} are not square")
        x = x.reshape(len(x), side, side)
    if x.ndim != 3:
        raise ValueError(
            f"images must be (N, H, W), (N, H, W, 1) or (N, H*W); got shape {np.shape(images)}"
        )
    return x


def plot_image_grid(
    images,
    labels=None,
    predictions=None,
    class_names=None,
    ncols: int = 8,
    title: str | None = None,
):
    """A grid of grey images titled with their label, and the prediction when given.

    A wrong prediction is titled in red, so mistakes stand out.
    """
    x = _as_square_images(images)
    n = len(x)
    for name, arr in (("labels", labels), ("predictions", predictions)):
        if arr is not None and len(arr) != n:
            raise ValueError(f"{n} images but {len(arr)} {name}")

    def name_of(k):
        return class_names[int(k)] if class_names is not None else str(int(k))

    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.5 * ncols, 1.7 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, ax in enumerate(axes.ravel()[:n]):
        ax.imshow(x[i], cmap="gray_r")
        parts, color = [], "black"
        if labels is not None:
            parts.append(name_of(labels[i]))
        if predictions is not None:
            parts.append(f"pred {name_of(predictions[i])}")
            if labels is not None and int(predictions[i]) != int(labels[i]):
                color = "red"
        ax.set_title("\n".join(parts), fontsize=8, color=color)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts ``cm[i, j]`` of samples whose true class is i and predicted class is j."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape} vs {y_pred.shape}")
    k = num_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true.astype(int), y_pred.astype(int)), 1)
    return cm


def plot_confusion_matrix(
    y_true, y_pred, class_names=None, normalize: bool = False, title: str | None = None
):
    """Heat map of the confusion matrix with counts (or row fractions) written in each cell."""
    k = len(class_names) if class_names is not None else None
    cm = confusion_matrix(y_true, y_pred, k)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(cm))]
    fig, ax = plt.subplots(figsize=(0.6 * len(cm) + 3, 0.6 * len(cm) + 2.5))
    im = ax.imshow(shown, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(cm)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(cm)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    thresh = shown.max() / 2
    for i in range(len(cm)):
        for j in range(len(cm)):
            text = f"{shown[i, j]:.2f}" if normalize else str(cm[i, j])
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shown[i, j] > thresh else "black",
            )
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    return fig
