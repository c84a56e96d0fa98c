"""Steps marked with fwtop's explicit API until stopped; at exit, a handler that takes 3 s
(longer than a stop's polite grace) and then says so: a stop must let it finish."""

import atexit
import time

import fwtop


def slow_handler() -> None:
    time.sleep(3.0)
    print("exit handler finished", flush=True)


atexit.register(slow_handler)
i = 0
while True:
    time.sleep(0.01)
    i += 1
    fwtop.step(samples=1)
