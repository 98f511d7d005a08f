"""Figures: spectrogram grids, autoencoder in/out comparisons, training curves."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from specae.files import save_figure  # noqa: E402


def spectrogram_grid(images, titles, path, suptitle=None, columns=4):
    """A grid of (n_mels, n_frames) images, low frequencies at the bottom.

    Drawn as one image (the tiles pasted into a canvas, white between them) in one axes, with the
    titles as text: a tenth of the time of a grid of subplots, which the spectrogram stage notices."""
    rows = max(1, int(np.ceil(len(images) / columns)))
    height, width = np.shape(images[0])
    gap_x, gap_y = max(2, width // 16), max(2, height // 4)  # room for a title above each tile
    canvas = np.full((rows * (height + gap_y), columns * (width + gap_x) - gap_x), np.nan, dtype=np.float32)
    figure = plt.figure(figsize=(2.2 * columns, 2.2 * rows))
    axis = figure.add_axes([0.01, 0.01, 0.98, 0.97 - (0.25 / rows if suptitle else 0.0)])
    for index, (image, title) in enumerate(zip(images, titles)):
        row, column = divmod(index, columns)
        bottom, left = (rows - 1 - row) * (height + gap_y), column * (width + gap_x)
        canvas[bottom:bottom + height, left:left + width] = image
        axis.text(left + width / 2, bottom + height + gap_y * 0.15, title, ha="center", va="bottom", fontsize=7)
    colours = plt.get_cmap("magma").with_extremes(bad="white")
    axis.imshow(canvas, origin="lower", aspect="auto", cmap=colours, vmin=0.0, vmax=1.0, interpolation="nearest")
    axis.set_axis_off()
    if suptitle:
        figure.suptitle(suptitle)
    save_figure(figure, path, dpi=90)
    plt.close(figure)


def inout_comparison(inputs, outputs, path, title, labels):
    """Inputs on the top row, reconstructions below, on the same colour scale."""
    count = len(inputs)
    figure, axes = plt.subplots(2, count, figsize=(2.2 * count, 4.6), squeeze=False)
    for column in range(count):
        for row, image in enumerate((inputs[column], outputs[column])):
            axis = axes[row, column]
            axis.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=0.0, vmax=1.0)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[0, column].set_title(labels[column], fontsize=8)
    axes[0, 0].set_ylabel("input")
    axes[1, 0].set_ylabel("reconstruction")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    plt.close(figure)


def comparison_figure(runs, path, n_seeds):
    """Validation loss and accuracy per epoch, mean line and ± std band per model."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for name, curves in runs.items():
        epochs = curves["epochs"]
        for axis, key in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
            mean, std = curves[key].mean(axis=0), curves[key].std(axis=0)
            line, = axis.plot(epochs, mean, marker="o", markersize=3, label=name)
            axis.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    loss_axis.set_ylabel("test loss (softmax cross-entropy)")
    accuracy_axis.set_ylabel("test accuracy")
    accuracy_axis.axhline(0.9, color="grey", linewidth=0.8, linestyle=":")
    for axis in (loss_axis, accuracy_axis):
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle("{}: mean ± std over {} seeds, speaker-disjoint test set".format(
        " vs ".join(runs), n_seeds), fontsize=10)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    plt.close(figure)


def confusion_matrix(confusion, path, title):
    """Counts per (true digit, predicted digit), with the numbers written in the cells."""
    figure, axis = plt.subplots(figsize=(5.5, 5))
    axis.imshow(confusion, cmap="Blues")
    for (row, column), count in np.ndenumerate(confusion):
        if count:
            axis.text(column, row, str(count), ha="center", va="center", fontsize=7,
                      color="white" if count > confusion.max() / 2 else "black")
    axis.set_xticks(range(10))
    axis.set_yticks(range(10))
    axis.set_xlabel("predicted digit")
    axis.set_ylabel("spoken digit")
    axis.set_title(title, fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    plt.close(figure)


def roc_figure(curves, path, title, marks=()):
    """ROC curves: ``curves`` maps a label to ``(false_positive_rate, true_positive_rate, auc)``;
    ``marks`` are ``(label, fpr, tpr)`` points such as the chosen threshold."""
    figure, axis = plt.subplots(figsize=(5.5, 5))
    for label, (fpr, tpr, auc) in curves.items():
        axis.plot(fpr, tpr, label="{} (AUC {:.3f})".format(label, auc))
    for label, fpr, tpr in marks:
        axis.plot([fpr], [tpr], "ko", markersize=5)
        axis.annotate(label, (fpr, tpr), textcoords="offset points", xytext=(6, -12), fontsize=7)
    axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    axis.set_xlabel("held-out digits rejected (false positive rate)")
    axis.set_ylabel("other sounds rejected (true positive rate)")
    axis.set_xlim(-0.01, 1.01)
    axis.set_ylim(-0.01, 1.01)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower right")
    axis.set_title(title, fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    plt.close(figure)


def latent_map(points, labels, path, title, axis_labels=("PC 1", "PC 2")):
    """A 2-D scatter of latent points coloured by digit, with each digit's centre labelled."""
    figure, axis = plt.subplots(figsize=(6, 5.5))
    colours = plt.get_cmap("tab10")
    labels = np.asarray(labels)
    for digit in np.unique(labels):
        chosen = points[labels == digit]
        axis.scatter(chosen[:, 0], chosen[:, 1], s=8, alpha=0.6, color=colours(int(digit) % 10), label=str(digit))
        centre = chosen.mean(axis=0)
        axis.text(centre[0], centre[1], str(digit), fontsize=12, weight="bold", ha="center", va="center")
    axis.set_xlabel(axis_labels[0])
    axis.set_ylabel(axis_labels[1])
    axis.legend(title="digit", fontsize=7, markerscale=2, loc="best")
    axis.grid(alpha=0.3)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    plt.close(figure)


def separation_figure(rows, path, title):
    """One row per example, four dB images each (mixture, mask, estimate, reference), frequency upwards.

    ``rows`` is a list of ``(label, mixture_db, mask, estimate_db, reference_db)`` with (freq, time) arrays;
    the mask is drawn on [0, 1], the spectrograms on the mixture's top 80 dB."""
    figure, axes = plt.subplots(len(rows), 4, figsize=(12, 2.4 * len(rows)), squeeze=False)
    for axes_row, (label, mixture, mask, estimate, reference) in zip(axes, rows):
        top = float(np.max(mixture))
        for axis, image, name in zip(axes_row, (mixture, mask, estimate, reference),
                                     ("mixture", "mask", "estimate", "reference")):
            limits = (0.0, 1.0) if name == "mask" else (top - 80.0, top)
            axis.imshow(image, origin="lower", aspect="auto", cmap="viridis" if name == "mask" else "magma",
                        vmin=limits[0], vmax=limits[1], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title("{}: {}".format(label, name), fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    plt.close(figure)
