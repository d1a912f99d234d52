"""The course's main project on tfpipe: sign-language letters, base MLP against regularised MLP.

What the course does with ``ImageDataGenerator`` and ``flow_from_directory``,
in a few calls: load the data (downloaded and converted once), train each
model with validation, evaluate it on test images it has never seen, and save
the accuracy/loss curves.

Offline, on the synthetic look-alike of the course's zip::

    python -m tfpipe.sample /tmp/sample          # writes /tmp/sample/sign-language-img.zip
    python examples/sign_language.py --source /tmp/sample/sign-language-img.zip --epochs 5

Online, the course's real data (downloaded from its bucket on first use)::

    python examples/sign_language.py --epochs 20 --out plots

Unlike the course, the test set here is disjoint from the validation set
(``tfpipe.datasets.sign_language`` carves validation out of Test and keeps
the rest as test), so the test accuracy is measured on unseen images.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import tfpipe
from tfpipe import models
from tfpipe.errors import TfpipeError
from tfpipe.plots import plot_history

BUILDERS = {"base": models.base_mlp, "regularized": models.regularized_mlp, "cnn": models.cnn}


@dataclass
class Result:
    """One model trained and evaluated.

    ``images_per_s`` is the training throughput in steady state: the train
    part of every epoch after the first (the first one also traces the graph
    and fills caches; it is reported as ``first_epoch_s``). With a single
    epoch, that epoch is all there is.
    """

    name: str
    epochs: int
    train_accuracy: float
    val_accuracy: float | None
    test_accuracy: float | None
    images_per_s: float
    first_epoch_s: float
    history: dict = field(repr=False, default_factory=dict)


def _epoch_timer(keras):
    class EpochTimer(keras.callbacks.Callback):
        """Seconds spent on the training batches of each epoch (validation excluded)."""

        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = self._last = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self._last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(self._last - self._start)

    return EpochTimer()


def train_and_evaluate(
    model, train, validation, test, *, epochs: int, num_train: int, verbose: int = 2
) -> Result:
    """Fit ``model`` on ``train`` (with ``validation`` if any), evaluate on ``test``; time it.

    Works for any feeder Keras accepts: a ``tf.data.Dataset`` from tfpipe, or
    the course's ``ImageDataGenerator`` iterators.
    """
    from tensorflow import keras

    timer = _epoch_timer(keras)
    # shuffle=False: the feeders shuffle themselves (tfpipe's train split,
    # flow_from_directory); Keras's own shuffle only reorders in-memory arrays.
    history = model.fit(
        train,
        validation_data=validation,
        epochs=epochs,
        callbacks=[timer],
        verbose=verbose,
        shuffle=False,
    ).history
    test_accuracy = None
    if test is not None:
        test_accuracy = float(model.evaluate(test, verbose=0, return_dict=True)["accuracy"])
    steady = timer.seconds[1:] or timer.seconds
    return Result(
        name=model.name,
        epochs=epochs,
        train_accuracy=float(history["accuracy"][-1]),
        val_accuracy=float(history["val_accuracy"][-1]) if "val_accuracy" in history else None,
        test_accuracy=test_accuracy,
        images_per_s=num_train / max(statistics.median(steady), 1e-9),
        first_epoch_s=timer.seconds[0],
        history=history,
    )


def format_results(results: list[Result], label: str = "model") -> str:
    """A small table: one row per result."""
    shown = lambda v: "    -" if v is None else f"{v:5.3f}"  # noqa: E731
    lines = [
        f"  {label:<20}{'train acc':>10}{'val acc':>9}{'test acc':>10}{'train img/s':>13}{'1st epoch s':>13}"
    ]
    for r in results:
        lines.append(
            f"  {r.name:<20}{shown(r.train_accuracy):>10}{shown(r.val_accuracy):>9}"
            f"{shown(r.test_accuracy):>10}{r.images_per_s:>13,.0f}{r.first_epoch_s:>13.2f}"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--source",
        metavar="PATH",
        help="local sign-language-img.zip or its folder (default: download)",
    )
    p.add_argument("--epochs", type=int, default=20, help="epochs per model (the course: 20)")
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="converted datasets root (default: $TFPIPE_DATA_DIR or tfrecords)",
    )
    p.add_argument(
        "--out", metavar="DIR", default=".", help="where the curves PNGs go (default: .)"
    )
    p.add_argument(
        "--models", default="base,regularized", help=f"comma-separated, of {', '.join(BUILDERS)}"
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    return p


def main(argv: list[str] | None = None) -> list[Result]:
    """Run the project; returns one :class:`Result` per model (the demo reads them)."""
    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in BUILDERS]
    if unknown or not names:
        raise TfpipeError(
            f"--models: {', '.join(unknown) or 'none given'}; choose from {', '.join(BUILDERS)}"
        )
    if args.epochs < 1:
        raise TfpipeError(f"--epochs: {args.epochs} must be at least 1")

    data = tfpipe.datasets.sign_language(
        args.data_dir, args.batch_size, source=args.source, seed=args.seed
    )
    splits = data.info.splits
    counts = ", ".join(
        f"{name} {splits[name].num_examples:,}"
        for name in ("train", "validation", "test")
        if name in splits
    )
    print(f"sign_language: {data.num_classes} classes ({''.join(data.class_names)}); {counts}")

    results = []
    for name in names:
        model = BUILDERS[name](data.input_shape, data.num_classes)
        print(f"training {model.name} for {args.epochs} epoch(s)")
        result = train_and_evaluate(
            model,
            data.train,
            data.validation,
            data.test,
            epochs=args.epochs,
            num_train=data.info.splits["train"].num_examples,
            verbose=args.verbose,
        )
        png = plot_history(result.history, Path(args.out) / f"{model.name}.png", title=model.name)
        print(f"  curves: {png}")
        results.append(result)
    print(format_results(results))
    return results


if __name__ == "__main__":
    try:
        main()
    except TfpipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
