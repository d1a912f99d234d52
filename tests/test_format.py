"""The on-disk format: hand-written records are exactly what TensorFlow writes and reads."""

from __future__ import annotations

import numpy as np
import pytest

from tfpipe.format import ImageSpec, frame_record, serialize_example


@pytest.mark.parametrize("image, label", [(b"x" * 784, 3), (bytes(range(256)) * 400, 130), (b"", 0)])
def test_serialize_example_is_protobufs_deterministic_bytes(image, label):
    import tensorflow as tf

    ref = tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }))
    assert serialize_example(image, label) == ref.SerializeToString(deterministic=True)


def test_framed_records_are_what_tf_io_writes(tmp_path):
    import tensorflow as tf

    records = [serialize_example(bytes([i]) * 50, i) for i in range(5)]
    ours, theirs = tmp_path / "ours.tfrecord", tmp_path / "theirs.tfrecord"
    ours.write_bytes(b"".join(frame_record(r) for r in records))
    with tf.io.TFRecordWriter(str(theirs)) as writer:
        for r in records:
            writer.write(r)
    assert ours.read_bytes() == theirs.read_bytes()
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(ours))] == records


@pytest.mark.parametrize("encoding", ["raw", "png", "jpeg"])
def test_image_spec_round_trips(encoding):
    spec = ImageSpec(12, 20, 3, encoding)
    yy, xx = np.mgrid[0:12, 0:20]
    pixels = np.stack([yy * 20, xx * 12, yy * 5 + xx * 5], axis=-1).astype(np.uint8)  # smooth: JPEG keeps it
    back = spec.decode(spec.encode(pixels))
    assert back.shape == spec.shape
    if encoding == "jpeg":
        assert np.abs(back.astype(int) - pixels).mean() < 4  # lossy, but the same picture
    else:
        assert (back == pixels).all()


def test_image_spec_validates_itself():
    from tfpipe.errors import TfpipeError

    with pytest.raises(TfpipeError, match="channels"):
        ImageSpec(28, 28, 2, "raw")
    with pytest.raises(TfpipeError, match="encoding"):
        ImageSpec(28, 28, 1, "gif")
