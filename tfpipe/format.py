"""The on-disk format, defined once: the writer and every reader import it.

A converted dataset directory looks like this::

    DIR/
      dataset_info.json              TFDS metadata (splits, shard lengths, bytes)
      features.json                  TFDS feature spec: {"image": ..., "label": ClassLabel}
      label.labels.txt               class names, one per line (TFDS ClassLabel)
      {name}-{split}.tfrecord-{i:05d}-of-{n:05d}
      tfpipe.json                    our sidecar, written last: format version, per-shard
                                     record counts and sha256, class counts, pixel mean/std
      quarantine.jsonl               one line per input that did not make it, and why

Each record is a ``tf.train.Example`` holding exactly one image (TFDS keeps
one example per record, so we do too) under two features:

* ``image`` -- ``bytes``: either the raw ``uint8`` pixels in (H, W, C) order
  (``encoding="raw"``, a TFDS ``Tensor(encoding="bytes")``; the cheapest thing
  to read for small images such as 28x28 grayscale) or a JPEG/PNG file
  (``encoding="jpeg"|"png"``, a TFDS ``Image``).
* ``label`` -- ``int64``: the class index into ``class_names``.

Examples are serialised by hand (:func:`serialize_example`) so that writing
needs neither TensorFlow nor a protobuf runtime in worker processes, and so
that the bytes are the same on every machine.
"""

from __future__ import annotations

import io
import json
import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import TfpipeError

FORMAT_VERSION = 1
IMAGE_KEY = "image"
LABEL_KEY = "label"
SIDECAR = "tfpipe.json"
QUARANTINE = "quarantine.jsonl"
TFDS_FILES = ("dataset_info.json", "features.json", f"{LABEL_KEY}.labels.txt")
ENCODINGS = ("raw", "jpeg", "png")
# Images up to this many bytes of pixels are stored raw: decode_raw on a whole
# batch is one memcpy, far cheaper than a JPEG decode per image (see README).
RAW_MAX_BYTES = 64 * 64 * 3
JPEG_QUALITY = 95


def shard_name(name: str, split: str, index: int, count: int) -> str:
    """TFDS file naming: ``{name}-{split}.tfrecord-{index:05d}-of-{count:05d}``."""
    return f"{name}-{split}.tfrecord-{index:05d}-of-{count:05d}"


def choose_encoding(height: int, width: int, channels: int) -> str:
    return "raw" if height * width * channels <= RAW_MAX_BYTES else "jpeg"


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageSpec:
    """Shape and storage encoding of every image in a dataset."""

    height: int
    width: int
    channels: int
    encoding: str

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise TfpipeError(f"image size must be positive, got {self.height}x{self.width}")
        if self.channels not in (1, 3):
            raise TfpipeError(f"channels must be 1 or 3, got {self.channels}")
        if self.encoding not in ENCODINGS:
            raise TfpipeError(f"encoding {self.encoding!r} is not one of {', '.join(ENCODINGS)}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    def encode(self, pixels: np.ndarray) -> bytes:
        """uint8 (H, W, C) array -> the bytes stored in the ``image`` feature."""
        if pixels.shape != self.shape or pixels.dtype != np.uint8:
            raise ValueError(f"expected uint8 {self.shape}, got {pixels.dtype} {pixels.shape}")
        if self.encoding == "raw":
            return np.ascontiguousarray(pixels).tobytes()
        from PIL import Image

        img = Image.fromarray(pixels[:, :, 0] if self.channels == 1 else pixels)
        buf = io.BytesIO()
        if self.encoding == "jpeg":
            img.save(buf, format="JPEG", quality=JPEG_QUALITY)
        else:
            img.save(buf, format="PNG", compress_level=6)
        return buf.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        """Inverse of :meth:`encode`, in numpy (for verify and tests; readers use tf ops)."""
        if self.encoding == "raw":
            return np.frombuffer(data, np.uint8).reshape(self.shape)
        from PIL import Image

        arr = np.asarray(Image.open(io.BytesIO(data)))
        arr = arr.reshape(*arr.shape[:2], -1)
        if arr.shape != self.shape:
            raise ValueError(f"image decodes to {arr.shape}, the dataset says {self.shape}")
        return arr


# --------------------------------------------------------------------------- records


def _varint(value: int) -> bytes:
    if value < 0x80:  # labels and most lengths of small images: one byte
        return bytes((value,))
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _feature_entry(key: str, feature: bytes) -> bytes:
    # map<string, Feature> entry: key = 1, value = 2
    return _field(1, _field(1, key.encode()) + _field(2, feature))


_IMAGE_KEY = _field(1, IMAGE_KEY.encode())
_LABEL_KEY = _field(1, LABEL_KEY.encode())


def serialize_example(image: bytes, label: int) -> bytes:
    """A ``tf.train.Example`` with ``image`` (bytes) and ``label`` (int64), keys sorted.

    Nesting, outermost first: Example.features (1) > Features.feature map
    entries (1) > {key (1), Feature (2)} > Feature.bytes_list (1) or
    .int64_list (3, packed) > value (1). Written by hand: this runs once per
    record, and protobuf's Python runtime would cost several times more.
    """
    if label < 0:
        raise ValueError("labels are class indices, never negative")
    image_feature = _field(1, _field(1, image))
    label_feature = _field(3, _field(1, _varint(label)))
    image_entry = _field(1, _IMAGE_KEY + _field(2, image_feature))
    label_entry = _field(1, _LABEL_KEY + _field(2, label_feature))
    return _field(1, image_entry + label_entry)


def parse_spec():
    """The ``tf.io.parse_example`` spec for one record."""
    import tensorflow as tf

    return {
        IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
        LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    }


# --------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class ShardInfo:
    file: str
    records: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class SplitInfo:
    name: str
    shards: tuple[ShardInfo, ...]
    class_counts: tuple[int, ...]

    @property
    def num_examples(self) -> int:
        return sum(s.records for s in self.shards)

    @property
    def num_bytes(self) -> int:
        return sum(s.bytes for s in self.shards)


@dataclass(frozen=True)
class DatasetInfo:
    """Everything a reader needs, loaded from ``tfpipe.json``.

    ``mean``/``std`` are per-channel pixel statistics of the train split on
    the 0..255 scale (used by ``normalize="standardize"``).
    """

    name: str
    class_names: tuple[str, ...]
    image: ImageSpec
    splits: dict[str, SplitInfo]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    quarantined: dict[str, int] = field(default_factory=dict)
    leaks: int = 0
    duplicates: int = 0
    source: str = ""
    format_version: int = FORMAT_VERSION
    path: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> SplitInfo:
        try:
            return self.splits[name]
        except KeyError:
            raise TfpipeError(
                f"split {name!r} not in {self.path or self.name}; it has {', '.join(self.splits)}"
            ) from None

    def shard_paths(self, split: str) -> list[str]:
        return [os.path.join(self.path, s.file) for s in self.split(split).shards]

    def to_json(self) -> str:
        doc = asdict(self)
        doc.pop("path")
        doc["splits"] = {name: asdict(s) for name, s in self.splits.items()}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, path: str = "") -> DatasetInfo:
        doc = json.loads(text)
        version = doc.get("format_version")
        if version != FORMAT_VERSION:
            raise TfpipeError(
                f"{path or 'dataset'} has tfpipe format version {version}; this tfpipe reads "
                f"version {FORMAT_VERSION}: reconvert it or install a matching tfpipe"
            )
        splits = {
            name: SplitInfo(
                name=name,
                shards=tuple(ShardInfo(**sh) for sh in s["shards"]),
                class_counts=tuple(s["class_counts"]),
            )
            for name, s in sorted(doc["splits"].items(), key=lambda kv: _split_rank(kv[0]))
        }
        return cls(
            name=doc["name"],
            class_names=tuple(doc["class_names"]),
            image=ImageSpec(**doc["image"]),
            splits=splits,
            mean=tuple(doc["mean"]),
            std=tuple(doc["std"]),
            quarantined=doc.get("quarantined", {}),
            leaks=doc.get("leaks", 0),
            duplicates=doc.get("duplicates", 0),
            source=doc.get("source", ""),
            format_version=version,
            path=path,
        )


def _split_rank(name: str) -> tuple[int, str]:
    order = ("train", "validation", "test")
    return (order.index(name) if name in order else len(order), name)


def load_info(directory: str | os.PathLike) -> DatasetInfo:
    """Read ``DIR/tfpipe.json``; a clear error if DIR is not a finished dataset."""
    directory = os.fspath(directory)
    sidecar = Path(directory) / SIDECAR
    if not sidecar.is_file():
        if not Path(directory).exists():
            raise TfpipeError(f"{directory} does not exist; convert a source into it first")
        raise TfpipeError(
            f"{directory} is not a finished tfpipe dataset (no {SIDECAR}); "
            "run `python -m tfpipe.convert SOURCE --out DIR` (a rerun completes an interrupted one)"
        )
    return DatasetInfo.from_json(sidecar.read_text(), path=directory)


def tfds_metadata(info: DatasetInfo) -> dict[str, str]:
    """The files TFDS needs to read the dataset: dataset_info.json, features.json, labels.

    They are written as plain JSON in the shape ``tfds.core.DatasetInfo``
    writes them (``tests/test_convert.py`` checks that
    ``tfds.builder_from_directory`` reads them), so conversion never has to
    import TensorFlow or TFDS.
    """
    template = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"
    dataset_info = {
        "description": f"Converted by tfpipe from {info.source}.",
        "fileFormat": "tfrecord",
        "name": info.name,
        "splits": [
            {
                "filepathTemplate": template,
                "name": name,
                "numBytes": str(split.num_bytes),
                "shardLengths": [str(s.records) for s in split.shards],
            }
            for name, split in info.splits.items()
        ],
        "supervisedKeys": {"tuple": {"items": [{"featureKey": IMAGE_KEY}, {"featureKey": LABEL_KEY}]}},
        "version": "1.0.0",
    }
    spec = info.image
    dims = {"dimensions": [str(d) for d in spec.shape]}
    if spec.encoding == "raw":
        image = {
            "pythonClassName": "tensorflow_datasets.core.features.tensor_feature.Tensor",
            "tensor": {"dtype": "uint8", "encoding": "bytes", "shape": dims},
        }
    else:
        image = {
            "pythonClassName": "tensorflow_datasets.core.features.image_feature.Image",
            "image": {"dtype": "uint8", "encodingFormat": spec.encoding, "shape": dims},
        }
    features = {
        "featuresDict": {
            "features": {
                IMAGE_KEY: image,
                LABEL_KEY: {
                    "pythonClassName": "tensorflow_datasets.core.features.class_label_feature.ClassLabel",
                    "classLabel": {"numClasses": str(info.num_classes)},
                },
            }
        },
        "pythonClassName": "tensorflow_datasets.core.features.features_dict.FeaturesDict",
    }
    return {
        "dataset_info.json": json.dumps(dataset_info, indent=2, sort_keys=True),
        "features.json": json.dumps(features, indent=4, sort_keys=True),
        f"{LABEL_KEY}.labels.txt": "".join(f"{name}\n" for name in info.class_names),
    }


# --------------------------------------------------------------------------- TFRecord framing


def _masked_crc(data: bytes) -> bytes:
    import google_crc32c

    crc = google_crc32c.value(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def frame_record(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC32C of the length, data, masked CRC32C of the data."""
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)
