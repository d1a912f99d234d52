"""The course's three models, layer for layer, ready to ``fit`` on :func:`tfpipe.load` data.

Each builder takes the image shape and the number of classes and returns a
``keras.Sequential``, compiled with Adam and accuracy unless ``compile=False``::

    data = tfpipe.datasets.sign_language()
    model = tfpipe.models.base_mlp((28, 28, 1), data.num_classes)
    model.fit(data.train, validation_data=data.validation, epochs=20)

The loss must match the labels: ``"categorical_crossentropy"`` for one-hot
labels (``label_mode="categorical"``, the default of ``tfpipe.load``) and
``"sparse_categorical_crossentropy"`` for class indices (``label_mode="int"``).
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import TfpipeError

LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")
L2 = 1e-5  # the course's regularisation strength
DROPOUT = 0.2


def base_mlp(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    compile: bool = True,
    loss: str = "categorical_crossentropy",
):
    """The course's base MLP: Flatten, Dense 256 relu, Dense 128 relu, Dense softmax.

    Args:
        input_shape: (H, W, C) of one image, e.g. ``(28, 28, 1)``.
        num_classes: size of the softmax layer.
        compile: compile with Adam, ``loss`` and accuracy.
        loss: ``"categorical_crossentropy"`` (one-hot labels) or
            ``"sparse_categorical_crossentropy"`` (integer labels).

    Returns:
        A ``keras.Sequential`` named ``base_mlp``.
    """
    return _compiled(_mlp(input_shape, num_classes, "base_mlp", regularize=False), compile, loss)


def regularized_mlp(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    compile: bool = True,
    loss: str = "categorical_crossentropy",
):
    """The base MLP with L2(1e-5) kernel regularisers and Dropout(0.2) after each hidden layer.

    Args and Returns: as :func:`base_mlp`; the model is named ``regularized_mlp``.
    """
    return _compiled(_mlp(input_shape, num_classes, "regularized_mlp", regularize=True), compile, loss)


def _mlp(input_shape: Sequence[int], num_classes: int, name: str, *, regularize: bool):
    """Flatten, Dense 256 relu, Dense 128 relu, softmax; ``regularize`` adds L2 and Dropout."""
    keras = _keras()
    layers = keras.layers
    hidden = []
    for units in (256, 128):
        l2 = keras.regularizers.L2(L2) if regularize else None
        hidden.append(layers.Dense(units, activation="relu", kernel_regularizer=l2))
        if regularize:
            hidden.append(layers.Dropout(DROPOUT))
    return keras.Sequential(
        [keras.Input(shape=_shape(input_shape)), layers.Flatten(), *hidden,
         layers.Dense(_classes(num_classes), activation="softmax")],
        name=name,
    )


def cnn(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    compile: bool = True,
    loss: str = "categorical_crossentropy",
):
    """The course's CNN: Conv 32 3x3, MaxPool 2, Conv 64 3x3, MaxPool 2, Flatten, Dense 128, softmax.

    Args and Returns: as :func:`base_mlp`; the model is named ``cnn``.
    """
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input(shape=_shape(input_shape)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(_classes(num_classes), activation="softmax"),
        ],
        name="cnn",
    )
    return _compiled(model, compile, loss)


def _keras():
    # Imported here so that `import tfpipe.models` (and `tfpipe --help`) stays cheap.
    from tensorflow import keras

    return keras


def _shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise TfpipeError(f"input_shape: {tuple(input_shape)} must be (height, width, channels)")
    return shape


def _classes(num_classes: int) -> int:
    if int(num_classes) < 2:
        raise TfpipeError(f"num_classes: {num_classes} must be at least 2")
    return int(num_classes)


def _compiled(model, compile: bool, loss: str):
    if loss not in LOSSES:
        raise TfpipeError(f"loss: {loss!r} is not one of {', '.join(LOSSES)}")
    if compile:
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model
