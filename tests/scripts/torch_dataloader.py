"""PyTorch with a DataLoader and two worker processes (no fwtop in it). Prints "optimizer steps: N"."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    data = TensorDataset(torch.randn(96, 16), torch.randn(96, 1))
    loader = DataLoader(data, batch_size=16, num_workers=2)
    model = nn.Linear(16, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    steps = 0
    for _ in range(2):
        for x, y in loader:
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            steps += 1
    print(f"optimizer steps: {steps}", flush=True)


if __name__ == "__main__":
    main()
