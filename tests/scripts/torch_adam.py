"""A plain PyTorch training loop with torch.optim.Adam (no fwtop in it).

Usage: python torch_adam.py [STEPS] [--fail-at N]
Prints "optimizer steps: N" at the end.
"""

import argparse

import torch
from torch import nn


def train(steps: int, fail_at: int) -> int:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(64, 32), torch.randn(64, 1)
    done = 0
    for i in range(steps):
        if i == fail_at:
            raise RuntimeError(f"deliberate failure at step {i}")
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        done += 1
    return done


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("steps", type=int, nargs="?", default=12)
    parser.add_argument("--fail-at", type=int, default=-1)
    parser.add_argument("--exit", type=int, default=0)
    a = parser.parse_args()
    n = train(a.steps, a.fail_at)
    print(f"optimizer steps: {n}", flush=True)
    raise SystemExit(a.exit)
