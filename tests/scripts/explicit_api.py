"""A hand-written loop with no optimizer: steps marked with fwtop's explicit API.

Plain Python (no framework), so it also shows the API works without one.
Prints "optimizer steps: N".
"""

import sys
import time

import fwtop

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 8


def train_step(i: int) -> float:
    total = 0.0
    for k in range(20000):
        total += (k % 7) * 1e-6
    time.sleep(0.01)
    return 1.0 / (i + 1)


for i in range(STEPS):
    loss = train_step(i)
    fwtop.step(samples=32, tokens=32 * 128, loss=loss)
print(f"optimizer steps: {STEPS}", flush=True)
