"""A Keras model.fit (any backend; no fwtop in it). Prints "optimizer steps: N"."""

import keras
import numpy as np

EPOCHS, BATCHES, BATCH = 2, 5, 16

x = np.random.default_rng(0).normal(size=(BATCHES * BATCH, 8)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
print(f"optimizer steps: {int(model.optimizer.iterations.numpy())}", flush=True)
