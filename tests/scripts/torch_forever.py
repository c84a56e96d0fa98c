"""A PyTorch loop that runs until killed (for fwtop attach and py-spy). Prints its pid."""

import os

import torch
from torch import nn


def train_forever() -> None:
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x, y = torch.randn(256, 64), torch.randn(256, 1)
    print(f"pid {os.getpid()} training", flush=True)
    while True:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


if __name__ == "__main__":
    torch.set_num_threads(1)
    train_forever()
