"""Two torch.optim optimizers stepping in every iteration (GAN-like). Prints "optimizer steps: N"
(iterations: each one steps both optimizers)."""

import sys

import torch
from torch import nn

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 6
gen, disc = nn.Linear(8, 8), nn.Linear(8, 1)
opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3)
opt_d = torch.optim.SGD(disc.parameters(), lr=1e-3)
z = torch.randn(16, 8)
for _ in range(steps):
    opt_d.zero_grad()
    disc(gen(z).detach()).mean().backward()
    opt_d.step()
    opt_g.zero_grad()
    (-disc(gen(z)).mean()).backward()
    opt_g.step()
print(f"optimizer steps: {steps}", flush=True)
