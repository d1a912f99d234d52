"""``make demo``: every course layout through tfpipe, then tfpipe against ImageDataGenerator.

Usage::

    python -m tfpipe.demo --data tfrecords [--per-class 200] [--epochs 3] [--overwrite]

Offline, in a few minutes on two cores:

1. writes the synthetic course data into ``DATA/sample`` (once; kept for reruns);
2. converts every layout the course uses into ``DATA/<name>``, printing each
   conversion's summary: the Train/Test image tree, the zip (through
   :func:`tfpipe.datasets.sign_language`, validation carved from Test), the
   dirty CSV, the clean CSVs, the base64 JSON, the JSON URL list (its images
   served by a loopback HTTP server) and the RGB tree (64x64, 70/15/15);
   finished datasets are reused unless ``--overwrite``;
3. runs ``examples/sign_language.py`` briefly (the base MLP) and trains the
   same model fed by the course's ``ImageDataGenerator.flow_from_directory``,
   then prints both test accuracies and training images/s side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import TfpipeError
from .format import DatasetInfo

SAMPLE_MARKER = ".tfpipe-sample-complete"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sign_language.py"
CSV_CLASS_NAMES = tuple(
    "ABCDEFGHIJKLMNOPQRSTUVWXY"
)  # CSV labels are letter indices 0..24 (J=9 unused)


@dataclass(frozen=True)
class Converted:
    layout: str
    info: DatasetInfo
    seconds: float
    reused: bool


def write_sample(root: Path, per_class: int):
    """The synthetic course data in ``root``, written once (a marker file records completion)."""
    from . import sample

    tree = sample.SampleTree(root)
    if (root / SAMPLE_MARKER).is_file():
        print(f"sample: reusing {root} (delete it to rewrite)")
        return tree
    print(f"sample: writing {per_class} train images per letter into {root}")
    tree = sample.write(
        root,
        train_per_class=per_class,
        test_per_class=max(per_class // 4, 5),
        rgb_per_class=max(per_class // 10, 6),
    )
    (root / SAMPLE_MARKER).write_text(f"{per_class}\n")
    return tree


def loopback_url_list(tree, server) -> Path:
    """The course's URL list, pointed at ``server`` (which serves the sample root)."""
    out = tree.url_list.with_name("data.loopback.jsonl")
    lines = []
    for line in tree.url_list.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            # .../img_mnist/29_B.jpg -> http://127.0.0.1:PORT/img_mnist/29_B.jpg
            record["content"] = server.url(
                "/".join(urlsplit(record["content"]).path.split("/")[-2:])
            )
            lines.append(json.dumps(record))
    out.write_text("\n".join(lines) + "\n")
    return out


def convert_all(tree, data: Path, *, overwrite: bool, workers: int) -> list[Converted]:
    """Convert every layout; returns what each produced."""
    from . import datasets
    from .convert import convert
    from .format import SIDECAR
    from .testing import LoopbackServer

    done: list[Converted] = []
    common = dict(overwrite=overwrite, workers=workers, progress=False)

    def run(layout: str, folder: str, make, *args, **kwargs) -> None:
        reused = (data / folder / SIDECAR).is_file() and not overwrite
        print(f"\n== {layout}")
        start = time.perf_counter()
        info = make(*args, **kwargs)
        done.append(Converted(layout, info, time.perf_counter() - start, reused))

    def sign_language_zip(zip_path) -> DatasetInfo:
        return datasets.sign_language(data, source=zip_path, convert_options=common).info

    with LoopbackServer() as server:
        server.serve_dir(tree.root)
        csv = dict(class_names=CSV_CLASS_NAMES)
        run("zip -> tfpipe.datasets.sign_language (validation = 20% of Test; convert, verify, load)",
            "sign_language", sign_language_zip, tree.zip)  # fmt: skip
        jobs = [  # (what, dataset name, source, convert options)
            ("image tree (Train/Test folders)", "sign_language_tree", tree.images, {}),
            ("dirty CSV (sign_mnist_train_clean.csv)", "sign_mnist_dirty", tree.dirty_csv, csv),
            ("clean CSV, train (sign_mnist_train.csv)", "sign_mnist_train", tree.train_csv, csv),
            ("clean CSV, test (sign_mnist_test.csv)", "sign_mnist_test", tree.test_csv, csv),
            ("base64 JSON (sign_mnist_base64/data.json)", "sign_mnist_base64", tree.base64_json, {}),
            (f"JSON URL list, images from {server.url('')}", "sign_mnist_json",
             loopback_url_list(tree, server), {}),
            ("RGB tree, 64x64, train=70,validation=15,test=15", "tom_and_jerry_sample", tree.rgb,
             dict(image_size=(64, 64), split="train=70,validation=15,test=15")),
        ]  # fmt: skip
        for what, name, source, options in jobs:
            run(what, name, convert, source, data / name, name=name, **common, **options)
    return done


def conversions_table(done: list[Converted]) -> str:
    lines = [
        f"  {'dataset':<22}{'train':>7}{'val':>6}{'test':>6}{'classes':>8}  {'quarantined':<32}{'time':>8}"
    ]
    for c in done:
        n = {
            s: c.info.splits[s].num_examples if s in c.info.splits else 0
            for s in ("train", "validation", "test")
        }
        why = ", ".join(f"{k} {v}" for k, v in c.info.quarantined.items()) or "-"
        when = "reused" if c.reused else f"{c.seconds:.1f} s"
        lines.append(
            f"  {c.info.name:<22}{n['train']:>7,}{n['validation']:>6,}{n['test']:>6,}"
            f"{c.info.num_classes:>8}  {why:<32}{when:>8}"
        )
    return "\n".join(lines)


def load_example():
    """``examples/sign_language.py`` as a module (it is a script, not part of the package)."""
    if not EXAMPLE.is_file():
        raise TfpipeError(
            f"{EXAMPLE} not found: run the demo from a tfpipe source checkout (make demo)"
        )
    spec = importlib.util.spec_from_file_location("tfpipe_example_sign_language", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def image_data_generator_run(example, tree, test, class_names, *, epochs: int, batch_size: int):
    """The course's feeding, exactly: ImageDataGenerator + flow_from_directory, same model."""
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    from .models import base_mlp

    flow = dict(
        target_size=(28, 28),
        batch_size=batch_size,
        class_mode="categorical",
        color_mode="grayscale",
    )
    train_gen = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        str(tree.images / "Train"), **flow
    )
    val_gen = ImageDataGenerator(rescale=1 / 255, validation_split=0.2).flow_from_directory(
        str(tree.images / "Test"), subset="validation", **flow
    )
    order = sorted(train_gen.class_indices, key=train_gen.class_indices.get)
    if tuple(order) != tuple(class_names):
        raise TfpipeError(
            f"class order differs: ImageDataGenerator {order} vs tfpipe {list(class_names)}"
        )
    model = base_mlp((28, 28, 1), len(order))
    # Tested on tfpipe's test split: the same held-out images for both feeders
    # (the class orders agree, checked above).
    return example.train_and_evaluate(
        model, train_gen, val_gen, test, epochs=epochs, num_train=train_gen.samples, verbose=2
    )


@contextlib.contextmanager
def _default_env(name: str, value: str):
    """Set an environment variable for the block unless the user already set it."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tfpipe.demo", description=__doc__.split("\n")[0])
    p.add_argument(
        "--data",
        default="tfrecords",
        help="where the sample and the datasets go (default: tfrecords)",
    )
    p.add_argument(
        "--per-class", type=int, default=200, help="sample train images per letter (default 200)"
    )
    p.add_argument(
        "--epochs", type=int, default=3, help="epochs of the base MLP per feeder (default 3)"
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument(
        "--workers", type=int, default=min(os.cpu_count() or 1, 2), help="conversion processes"
    )
    p.add_argument("--overwrite", action="store_true", help="reconvert datasets that already exist")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.per_class < 1 or args.epochs < 1:
        print("error: --per-class and --epochs must be at least 1", file=sys.stderr)
        return 2
    data = Path(args.data)
    started = time.perf_counter()
    try:
        tree = write_sample(data / "sample", args.per_class)
        # Downloads (the URL list's images) are cached under DATA, not in the user's cache.
        with _default_env("TFPIPE_CACHE_DIR", str(data / ".cache")):
            done = convert_all(tree, data, overwrite=args.overwrite, workers=args.workers)

        print("\n== examples/sign_language.py (base MLP)")
        example = load_example()
        (ours,) = example.main(
            [
                "--source",
                str(tree.zip),
                "--data-dir",
                str(data),
                "--out",
                str(data / "plots"),
                "--epochs",
                str(args.epochs),
                "--models",
                "base",
                "--batch-size",
                str(args.batch_size),
            ]
        )
        print("\n== the same model fed by ImageDataGenerator.flow_from_directory")
        from . import datasets

        loaded = datasets.sign_language(data, args.batch_size, source=tree.zip)
        theirs = image_data_generator_run(
            example,
            tree,
            loaded.test,
            loaded.class_names,
            epochs=args.epochs,
            batch_size=args.batch_size,
        )
    except TfpipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    ours.name, theirs.name = "tfpipe", "ImageDataGenerator"
    n_test = loaded.info.splits["test"].num_examples
    print(f"\n== conversions ({len(done)} layouts, into {data})")
    print(conversions_table(done))
    print(
        f"\n== base MLP, {args.epochs} epoch(s), batch {args.batch_size}, "
        f"{loaded.info.splits['train'].num_examples:,} training images; "
        f"test = the same {n_test:,} held-out images for both"
    )
    print(example.format_results([ours, theirs], label="fed by"))
    print(
        f"  comparison: tfpipe feeds {ours.images_per_s / max(theirs.images_per_s, 1e-9):.1f}x the "
        f"training images/s of ImageDataGenerator; test accuracy {ours.test_accuracy:.3f} vs "
        f"{theirs.test_accuracy:.3f}"
    )
    print(f"demo finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
