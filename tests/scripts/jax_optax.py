"""A JAX + optax training loop, the update inside jax.jit (no fwtop in it).

Prints "optimizer steps: N".
"""

import sys

import jax
import jax.numpy as jnp
import optax

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 10

key = jax.random.PRNGKey(0)
params = {"w": jax.random.normal(key, (8, 1)) * 0.1, "b": jnp.zeros((1,))}
x = jax.random.normal(jax.random.PRNGKey(1), (32, 8))
y = x.sum(axis=1, keepdims=True)
opt = optax.adam(1e-2)
state = opt.init(params)


def loss_fn(p):
    return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)


@jax.jit
def train_step(p, s):
    loss, grads = jax.value_and_grad(loss_fn)(p)
    updates, s = opt.update(grads, s, p)
    return optax.apply_updates(p, updates), s, loss


steps = 0
for _ in range(STEPS):
    params, state, loss = train_step(params, state)
    steps += 1
print(f"final loss {float(loss):.4f}")
print(f"optimizer steps: {steps}", flush=True)
