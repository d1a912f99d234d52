"""Named datasets: download once (from a loopback server), convert once, load every split."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import socket
import tarfile
import time

import numpy as np
import pytest

import tfpipe
from tfpipe import datasets
from tfpipe.errors import TfpipeError
from tfpipe.sample import LETTERS, RGB_CLASSES
from tfpipe.testing import LoopbackServer

QUIET = {"workers": 1, "quiet": True, "progress": False}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test reads or fills the user's caches, or follows their mirror settings."""
    monkeypatch.setenv("TFPIPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for var in [spec.env for spec in datasets.DATASETS.values()] + [
        datasets.CIFAR100_LABELS_ENV,
        "TFPIPE_KERAS_MIRROR",
        "TFPIPE_DATA_DIR",
    ]:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def server(sample_tree):
    with LoopbackServer() as srv:
        srv.serve_dir(sample_tree.root)
        yield srv


@pytest.fixture(scope="module")
def via_url(server, tmp_path_factory):
    """sign_language() downloading the sample zip from the loopback server."""
    data_dir = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TFPIPE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        loaded = datasets.sign_language(
            data_dir, batch_size=32, url=server.url("sign-language-img.zip"), convert_options=QUIET
        )
    return loaded, data_dir


def closed_port_url(path: str) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path}"


def pixel_hashes(ds) -> list[str]:
    return [
        hashlib.sha1(np.round(img * 255).astype(np.uint8).tobytes()).hexdigest()
        for images, _ in ds
        for img in images.numpy()
    ]


# --------------------------------------------------------------------------- sign_language


def test_sign_language_end_to_end_from_a_url(via_url, sample_tree):
    loaded, data_dir = via_url
    assert (
        loaded.class_names == LETTERS and "".join(loaded.class_names) == "ABCDEFGHIKLMNOPQRSTUVWXY"
    )
    assert loaded.num_classes == 24 and loaded.input_shape == (28, 28, 1)
    assert loaded.info.path == str(data_dir / "sign_language")
    assert set(loaded.info.splits) == {"train", "validation", "test"}

    images, labels = next(iter(loaded.train))
    assert images.shape == (32, 28, 28, 1) and images.dtype.name == "float32"
    assert labels.shape == (32, 24)
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0

    n_test_folder = len(list((sample_tree.images / "Test").rglob("*.jpg")))
    val, test = pixel_hashes(loaded.validation), pixel_hashes(loaded.test)
    assert len(val) == pytest.approx(0.2 * n_test_folder, abs=24)  # 20% of Test, per class
    assert len(val) + len(test) == n_test_folder  # carved out of Test, nothing lost
    assert not set(val) & set(test), "validation and test share images"
    assert not set(pixel_hashes(loaded.train)) & (set(val) | set(test))


def test_second_call_makes_no_request(via_url, server):
    loaded, data_dir = via_url
    before = server.hits["sign-language-img.zip"]
    assert before == 1
    again = datasets.sign_language(data_dir, url=server.url("sign-language-img.zip"))
    assert server.hits["sign-language-img.zip"] == before
    assert again.info.splits["test"].num_examples == loaded.info.splits["test"].num_examples


def test_validation_is_unshuffled_and_train_is_shuffled(via_url):
    loaded, _ = via_url
    assert pixel_hashes(loaded.validation) == pixel_hashes(loaded.validation)
    assert pixel_hashes(loaded.train) != pixel_hashes(loaded.train)


@pytest.mark.parametrize("how", ["url", "env"])
def test_offline_fails_fast_with_one_line(tmp_path, monkeypatch, how):
    url = closed_port_url("sign-language-img.zip")
    kwargs = {"url": url} if how == "url" else {}
    if how == "env":
        monkeypatch.setenv("TFPIPE_SIGN_LANGUAGE_URL", url)
    start = time.perf_counter()
    with pytest.raises(TfpipeError) as err:
        datasets.sign_language(tmp_path, **kwargs)
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert "\n" not in message
    assert url in message and "connection refused" in message
    assert (
        "source='path/to/sign-language-img.zip'" in message
        and "TFPIPE_SIGN_LANGUAGE_URL" in message
    )
    assert not (tmp_path / "sign_language").exists()


def test_source_zip_needs_no_server(sample_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("TFPIPE_SIGN_LANGUAGE_URL", closed_port_url("never.zip"))
    loaded = datasets.sign_language(
        tmp_path, source=sample_tree.zip, validation_split=0.4, seed=7, convert_options=QUIET
    )
    # non-default split options get their own folder
    assert loaded.info.path == str(tmp_path / "sign_language-val0.4-seed7")
    assert loaded.class_names == LETTERS
    assert loaded.info.splits["validation"].num_examples == 24 * 2  # 40% of 5 per letter
    # asking the finished folder for another encoding is an error, not a silent reuse
    with pytest.raises(TfpipeError, match="encoding='raw', not 'png'.*overwrite"):
        datasets.sign_language(tmp_path, source=sample_tree.zip, validation_split=0.4, seed=7,
                               convert_options={**QUIET, "encoding": "png"})


def test_bad_source_and_options(tmp_path):
    with pytest.raises(TfpipeError, match="does not exist"):
        datasets.sign_language(tmp_path, source=tmp_path / "missing.zip")
    with pytest.raises(TfpipeError, match="fine or coarse"):
        datasets.cifar100(tmp_path, label_mode="int")


def test_course_image_data_generator_and_tfpipe_agree(sample_tree, tmp_path):
    """Same classes in the same order: a model trained on one feeder scores on the other's test data."""
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    from tfpipe.models import base_mlp

    def course_flow(folder):  # the course's exact call
        return ImageDataGenerator(rescale=1 / 255).flow_from_directory(
            str(folder),
            target_size=(28, 28),
            batch_size=128,
            class_mode="categorical",
            color_mode="grayscale",
        )

    train_gen, test_gen = (
        course_flow(sample_tree.images / "Train"),
        course_flow(sample_tree.images / "Test"),
    )
    data = datasets.sign_language(
        tmp_path, batch_size=32, source=sample_tree.zip, convert_options=QUIET
    )
    assert sorted(train_gen.class_indices, key=train_gen.class_indices.get) == list(
        data.class_names
    )

    ours = base_mlp(data.input_shape, data.num_classes)
    ours.fit(data.train, epochs=6, verbose=0, shuffle=False)  # data.train is shuffled
    accuracy = ours.evaluate(test_gen, verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.6, (
        f"tfpipe-trained model scores {accuracy:.2f} on ImageDataGenerator's test (chance 0.04)"
    )

    theirs = base_mlp((28, 28, 1), len(train_gen.class_indices))
    theirs.fit(train_gen, epochs=12, verbose=0)
    accuracy = theirs.evaluate(data.test, verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.6, (
        f"ImageDataGenerator-trained model scores {accuracy:.2f} on tfpipe's test"
    )


# --------------------------------------------------------------------------- RGB trees


def test_rgb_tree_without_split_folders_is_split_70_15_15(sample_tree, tmp_path):
    loaded = datasets.tom_and_jerry(
        tmp_path, batch_size=4, source=sample_tree.rgb, convert_options=QUIET
    )
    assert loaded.class_names == RGB_CLASSES
    assert loaded.input_shape == (72, 128, 3)
    counts = {name: split.num_examples for name, split in loaded.info.splits.items()}
    assert counts == {"train": 4 * 4, "validation": 4, "test": 4}  # 6 per class: 4/1/1, stratified
    images, labels = next(iter(loaded.test))
    assert images.shape[1:] == (72, 128, 3) and labels.shape[1] == 4


def test_rgb_tree_with_split_folders_keeps_them(sample_tree, tmp_path):
    loaded = datasets.malaria(
        tmp_path, source=sample_tree.images, image_size=(32, 32), convert_options=QUIET
    )
    assert loaded.info.path == str(tmp_path / "malaria-size32x32")
    assert loaded.input_shape == (32, 32, 3)
    counts = {name: split.num_examples for name, split in loaded.info.splits.items()}
    assert counts == {"train": 24 * 17, "validation": 24 * 3, "test": 24 * 5}  # 15% of Train


# --------------------------------------------------------------------------- Keras datasets


def test_mnist_from_a_mirror_into_the_keras_cache(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (110, 28, 28), dtype=np.uint8)
    y = np.arange(110) % 10
    buf = io.BytesIO()
    np.savez(buf, x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    with LoopbackServer() as srv:
        url = srv.add("mnist.npz", buf.getvalue(), "application/octet-stream")
        loaded = datasets.mnist(tmp_path / "data", batch_size=8, url=url, convert_options=QUIET)
    assert (tmp_path / "keras" / "datasets" / "mnist.npz").is_file()
    assert loaded.class_names == tuple("0123456789")
    counts = {name: split.num_examples for name, split in loaded.info.splits.items()}
    assert counts == {"train": 90, "validation": 10, "test": 10}  # 10% of train, per class


def fake_cifar100_tarball(path, n: int = 10):
    rng = np.random.default_rng(1)
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                     b"fine_labels": [i % 5 for i in range(n)], b"coarse_labels": [i % 2 for i in range(n)]}  # fmt: skip
            data = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-100-python/{split}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar100_names_come_from_the_course_json(tmp_path, monkeypatch):
    fake_cifar100_tarball(tmp_path / "cifar-100-python.tar.gz")
    names = [f"label_{i}" for i in range(100)]
    with LoopbackServer() as srv:
        monkeypatch.setenv(
            datasets.CIFAR100_LABELS_ENV,
            srv.add("cifar100_labels.json", json.dumps(names).encode()),
        )
        loaded = datasets.cifar100(
            tmp_path / "data",
            batch_size=4,
            source=tmp_path / "cifar-100-python.tar.gz",
            convert_options=QUIET,
        )
    assert loaded.class_names == tuple(names) and loaded.input_shape == (32, 32, 3)
    assert (tmp_path / "keras" / "datasets" / "cifar-100-python.tar.gz").is_file()
    assert loaded.info.splits["test"].num_examples == 10


def test_cifar100_names_fall_back_fast_when_offline(monkeypatch):
    monkeypatch.setenv(datasets.CIFAR100_LABELS_ENV, closed_port_url("cifar100_labels.json"))
    start = time.perf_counter()
    names = datasets.cifar100_class_names("fine", progress=False)
    assert time.perf_counter() - start < 5
    assert names == datasets.CIFAR100_FINE and len(set(names)) == 100
    assert names[:3] == ("apple", "aquarium_fish", "baby") and names[-1] == "worm"
    assert len(datasets.cifar100_class_names("coarse")) == 20


def test_the_table_describes_every_named_dataset():
    for name, spec in datasets.DATASETS.items():
        assert callable(getattr(datasets, name)), name
        assert spec.url.startswith("https://") and spec.env.startswith("TFPIPE_")
    assert tfpipe.datasets is datasets
