"""A PyTorch loop on the GPU when there is one (cuda), else the CPU. Prints "optimizer steps: N"."""

import sys

import torch
from torch import nn

device = "cuda" if torch.cuda.is_available() else "cpu"
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 8
model = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 1)).to(device)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x, y = torch.randn(512, 256, device=device), torch.randn(512, 1, device=device)
for _ in range(steps):
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
print(f"device {device}", flush=True)
print(f"optimizer steps: {steps}", flush=True)
