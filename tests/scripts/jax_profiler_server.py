"""A JAX loop that runs until killed, with a profiler server on the port given (for fwtop attach)."""

import os
import sys

import jax
import jax.numpy as jnp

port = int(sys.argv[1])
jax.profiler.start_server(port)


@jax.jit
def train_step(w, x):
    return w - 0.01 * jax.grad(lambda w: jnp.mean((x @ w) ** 2))(w)


w = jnp.ones((64, 64))
x = jnp.ones((128, 64))
print(f"pid {os.getpid()} serving profiles on {port}", flush=True)
while True:
    w = train_step(w, x).block_until_ready()
