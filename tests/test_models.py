"""The course's models, layer for layer, and its training-curve plot."""

from __future__ import annotations

import numpy as np
import pytest

from tfpipe import models
from tfpipe.errors import TfpipeError
from tfpipe.plots import plot_history


@pytest.mark.parametrize("build", [models.base_mlp, models.regularized_mlp, models.cnn])
@pytest.mark.parametrize("shape, classes", [((28, 28, 1), 24), ((32, 32, 3), 100)])
def test_output_shape(build, shape, classes):
    model = build(shape, classes)
    out = np.asarray(model(np.zeros((2, *shape), np.float32), training=False))
    assert out.shape == (2, classes)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)  # softmax
    assert model.loss == "categorical_crossentropy"


def test_base_mlp_has_the_course_parameter_count():
    model = models.base_mlp((28, 28, 1), 24)
    assert model.count_params() == (784 * 256 + 256) + (256 * 128 + 128) + (128 * 24 + 24)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Flatten",
        "Dense",
        "Dense",
        "Dense",
    ]
    assert [layer.units for layer in model.layers[1:]] == [256, 128, 24]


def test_regularized_mlp_has_l2_and_dropout():
    import keras

    model = models.regularized_mlp((28, 28, 1), 24)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:2]
    for layer in hidden:
        assert isinstance(layer.kernel_regularizer, keras.regularizers.L2)
        assert layer.kernel_regularizer.l2 == pytest.approx(1e-5)
    assert all(
        layer.rate == 0.2 for layer in model.layers if isinstance(layer, keras.layers.Dropout)
    )
    assert model.layers[-1].kernel_regularizer is None
    # same weights as the base model: regularisation adds no parameters
    assert model.count_params() == models.base_mlp((28, 28, 1), 24).count_params()


def test_cnn_layers():
    model = models.cnn((28, 28, 1), 24)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
    ]
    assert [model.layers[0].filters, model.layers[2].filters] == [32, 64]


def test_sparse_loss_for_integer_labels_and_uncompiled():
    model = models.base_mlp((28, 28, 1), 24, loss="sparse_categorical_crossentropy")
    history = model.fit(np.zeros((4, 28, 28, 1), np.float32), np.arange(4), epochs=1, verbose=0)
    assert "accuracy" in history.history
    assert not models.cnn((28, 28, 1), 24, compile=False).compiled


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(TfpipeError, match="loss"):
        models.base_mlp((28, 28, 1), 24, loss="mse")
    with pytest.raises(TfpipeError, match="input_shape"):
        models.base_mlp((28, 28), 24)


def test_plot_history_writes_a_png(tmp_path):
    history = {"accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.4, 0.7, 0.75],
               "loss": [1.5, 0.6, 0.3], "val_loss": [1.6, 0.9, 0.8]}  # fmt: skip
    out = plot_history(history, tmp_path / "curves" / "base.png", title="base_mlp")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000


def test_plot_history_takes_a_keras_history(tmp_path):
    model = models.base_mlp((28, 28, 1), 24)
    x, y = np.zeros((8, 28, 28, 1), np.float32), np.eye(24)[np.arange(8)]
    history = model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0)
    assert plot_history(history, tmp_path / "h.png").stat().st_size > 0
    with pytest.raises(TfpipeError, match="no 'accuracy' or 'loss'"):
        plot_history({"mae": [1.0]}, tmp_path / "x.png")
