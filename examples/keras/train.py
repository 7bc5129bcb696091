"""Train a small sequence classifier in Keras on synthetic data and save it as a .keras archive.

    KERAS_BACKEND=torch python examples/keras/train.py [OUT.keras]    (default: examples/keras/model.keras)

The task: say which of three frequency bands a noisy 3-channel signal of 64 steps is in. Seeded and
small (1,536 samples, 8 epochs of 12 batches): about 4 s of training on two idle CPU cores, 10 s in all.
Every layer is named, so that the imported spec reads the same on every run.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

STEPS, CHANNELS, CLASSES = 64, 3, 3


def synthetic(n: int, rng: np.random.Generator):
    """Signals whose frequency band (0, 1 or 2) is the label, with random phases, gains and noise."""
    labels = rng.integers(0, CLASSES, size=n)
    t = np.arange(STEPS)[None, :, None]
    freq = (0.03 + 0.06 * labels + rng.uniform(0, 0.04, size=n))[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, CHANNELS))
    gain = rng.uniform(0.5, 1.5, size=(n, 1, CHANNELS))
    x = gain * np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.3, size=(n, STEPS, CHANNELS))
    return x.astype("float32"), labels


def build() -> keras.Model:
    return keras.Sequential([
        keras.Input((STEPS, CHANNELS), name="signal"),
        layers.Conv1D(16, 5, activation="relu", name="conv_1"),
        layers.MaxPooling1D(2, name="pool"),
        layers.Conv1D(32, 3, padding="same", activation="relu", name="conv_2"),
        layers.BatchNormalization(momentum=0.9, name="norm"),
        layers.LSTM(24, name="lstm"),
        layers.Dense(16, activation="relu", name="hidden"),
        layers.Dropout(0.2, name="dropout"),
        layers.Dense(CLASSES, activation="softmax", name="probs"),
    ], name="band_classifier")


def main(out: str):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = synthetic(1536, rng)
    x_val, y_val = synthetic(512, rng)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=8, validation_data=(x_val, y_val), verbose=2)
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)
    model.save(out)
    np.save(Path(out).with_suffix(".x.npy"), x_val[:32])  # a batch of inputs for `shapeproof run --input`
    print(f"trained in {time.perf_counter() - start:.1f} s; validation accuracy {accuracy:.3f}; saved {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("model.keras")))
