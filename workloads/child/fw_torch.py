"""PyTorch implementation of the reference workloads (see docs/models.md).

Loaded by reference.py as ``_fwtop_child.fw_torch``: relative imports only,
stdlib + torch, Python 3.8 compatible.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import models
from .common import WorkloadError, cpu_name, parse_device

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# --------------------------------------------------------------------------- devices


def _build_kind() -> str:
    if getattr(torch.version, "hip", None):
        return "ROCm"
    if getattr(torch.version, "cuda", None):
        return "CUDA"
    return "CPU-only"


def _gpu_device(kind: str, index, requested: str):
    """Resolve cuda[:N] / rocm[:N] to a torch.device, or raise WorkloadError."""
    version = torch.__version__
    build = _build_kind()
    wanted = "ROCm" if kind == "rocm" else "CUDA"
    label = requested if index is not None else "%s:0" % kind
    if build == "CPU-only":
        raise WorkloadError("%s is not available to torch %s (a CPU-only build)" % (label, version))
    if build != wanted:
        hint = "rocm" if build == "ROCm" else "cuda"
        raise WorkloadError("%s is not available to torch %s (a %s build: use %s[:N])" % (label, version, build, hint))
    if not torch.cuda.is_available():
        raise WorkloadError("%s is not available to torch %s (torch sees no %s GPU)" % (label, version, wanted))
    count = torch.cuda.device_count()
    index = 0 if index is None else index
    if index >= count:
        raise WorkloadError(
            "%s:%d is not available to torch %s (it sees %d %s GPU%s: %s:0 to %s:%d)"
            % (kind, index, version, count, wanted, "" if count == 1 else "s", kind, kind, count - 1)
        )
    return torch.device("cuda", index), "%s:%d" % (kind, index)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(text: str):
    """Device string -> (torch.device, resolved name, kind). Raises WorkloadError."""
    kind, index = parse_device(text)
    if kind == "auto":
        if torch.cuda.is_available():
            kind = "rocm" if _build_kind() == "ROCm" else "cuda"
            dev, name = _gpu_device(kind, 0, kind)
            return dev, name, kind
        if _mps_available():
            return torch.device("mps"), "mps", "mps"
        return torch.device("cpu"), "cpu", "cpu"
    if kind == "cpu":
        return torch.device("cpu"), "cpu", "cpu"
    if kind == "mps":
        if not _mps_available():
            mps = getattr(torch.backends, "mps", None)
            why = "not built with MPS" if mps is None or not mps.is_built() else "no MPS device on this machine"
            raise WorkloadError("mps is not available to torch %s (%s)" % (torch.__version__, why))
        return torch.device("mps"), "mps", "mps"
    dev, name = _gpu_device(kind, index, text)
    return dev, name, kind


def _device_name(dev: torch.device, kind: str) -> str:
    if kind in ("cuda", "rocm"):
        return torch.cuda.get_device_name(dev)
    if kind == "mps":
        return "Apple GPU (MPS)"
    return cpu_name()


def _synchronize(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def _check_dtype(dev: torch.device, kind: str, dtype: torch.dtype, name: str, model: str) -> None:
    """Raise WorkloadError if `dtype` cannot run on `dev` (a tiny probe of the ops the model uses)."""
    if dtype == torch.float32:
        return
    where = "%s on %s" % (name, kind if kind != "cpu" else "the CPU")
    if kind in ("cuda", "rocm") and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise WorkloadError(
            "torch %s cannot run %s (%s has no bfloat16 support)"
            % (torch.__version__, where, torch.cuda.get_device_name(dev))
        )
    try:
        a = torch.ones(8, 8, device=dev)
        if model == "matmul":
            out = a.to(dtype) @ a.to(dtype)
        else:
            with torch.autocast(dev.type, dtype=dtype):
                out = a @ a
                if model == "cnn":
                    out = F.conv2d(torch.ones(1, 2, 4, 4, device=dev), torch.ones(2, 2, 3, 3, device=dev), padding=1)
                elif model == "transformer":
                    q = torch.ones(1, 1, 4, 8, device=dev)
                    out = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        _synchronize(dev)
    except (RuntimeError, TypeError, NotImplementedError) as exc:
        raise WorkloadError(
            "torch %s cannot run %s: %s"
            % (torch.__version__, where, str(exc).strip().splitlines()[0] if str(exc) else exc)
        ) from None
    if out.dtype != dtype:
        raise WorkloadError("torch %s cannot run %s (autocast does not support it there)" % (torch.__version__, where))


# --------------------------------------------------------------------------- models


def _init_dense(module: nn.Module, gen: torch.Generator) -> None:
    """docs/models.md init: dense/conv weights N(0, 1/fan_in), biases 0, LayerNorm 1/0, embeddings N(0, 0.02)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                fan_in = m.weight[0].numel()  # in_features, or c_in * kh * kw
                m.weight.normal_(0.0, fan_in**-0.5, generator=gen)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, models.EMBED_STD, generator=gen)


class MLP(nn.Module):
    def __init__(self, s: dict) -> None:
        super().__init__()
        layers = [nn.Linear(s["in_dim"], s["width"]), nn.GELU()]
        for _ in range(s["depth"] - 1):
            layers += [nn.Linear(s["width"], s["width"]), nn.GELU()]
        layers.append(nn.Linear(s["width"], s["classes"]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, stride=1, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, stride=1, padding=1)

    def forward(self, x):
        y = F.relu(self.conv1(x))
        y = self.conv2(y)
        return F.relu(x + y)


class CNN(nn.Module):
    def __init__(self, s: dict) -> None:
        super().__init__()
        c = s["width"]
        layers = [nn.Conv2d(3, c, 3, stride=1, padding=1), nn.ReLU()]
        for stage in range(s["stages"]):
            if stage > 0:
                layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU()]
                c *= 2
            layers += [ResBlock(c) for _ in range(s["depth"])]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, s["classes"])

    def forward(self, x):  # x: NCHW
        return self.head(self.features(x).mean(dim=(2, 3)))


class Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=models.LAYERNORM_EPS)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=models.LAYERNORM_EPS)
        self.w1 = nn.Linear(d, 4 * d)
        self.w2 = nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        # scale defaults to 1/sqrt(d/heads)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, d))
        return x + self.w2(F.gelu(self.w1(self.ln2(x))))


class Transformer(nn.Module):
    def __init__(self, s: dict) -> None:
        super().__init__()
        V, T, d = s["vocab"], s["seq_len"], s["width"]
        self.tok = nn.Embedding(V, d)
        self.pos = nn.Embedding(T, d)
        self.blocks = nn.Sequential(*[Block(d, s["heads"]) for _ in range(s["depth"])])
        self.ln_f = nn.LayerNorm(d, eps=models.LAYERNORM_EPS)
        self.head = nn.Linear(d, V, bias=False)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos.weight[:T]
        return self.head(self.ln_f(self.blocks(x)))


def _make_data(model: str, s: dict, dev: torch.device, seed: int):
    """Fixed synthetic batch, generated on the device from the seed: (inputs, labels)."""
    g = torch.Generator(device=dev)
    g.manual_seed(seed)
    if model == "mlp":
        x = torch.randn(s["batch"], s["in_dim"], generator=g, device=dev)
        teacher = torch.randn(s["in_dim"], s["classes"], generator=g, device=dev)
        return x, torch.argmax(x @ teacher, dim=1)
    if model == "cnn":
        x = torch.randn(s["batch"], 3, s["image"], s["image"], generator=g, device=dev)
        return x, torch.randint(0, s["classes"], (s["batch"],), generator=g, device=dev)
    B, T, V = s["batch"], s["seq_len"], s["vocab"]
    start = torch.randint(0, V, (B, 1), generator=g, device=dev)
    stride = torch.randint(1, 9, (B, 1), generator=g, device=dev)
    tokens = (start + torch.arange(T + 1, device=dev) * stride) % V
    return tokens[:, :T].contiguous(), tokens[:, 1:].contiguous()


def _make_adam(params, lr: float, dev: torch.device):
    kw = dict(lr=lr, betas=(models.ADAM["beta1"], models.ADAM["beta2"]), eps=models.ADAM["eps"])
    try:  # the single-kernel implementation where this torch has one for the device
        return torch.optim.Adam(params, fused=True, **kw)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(params, **kw)


# --------------------------------------------------------------------------- workloads


class _Base:
    preallocates = None

    def __init__(self, dev: torch.device, name: str, kind: str) -> None:
        self.version = str(torch.__version__)
        self._dev = dev
        self.device = name
        self.device_kind = kind
        self.device_name = _device_name(dev, kind)

    def memory(self):
        try:
            if self._dev.type == "cuda":
                return {
                    "allocated": int(torch.cuda.memory_allocated(self._dev)),
                    "reserved": int(torch.cuda.memory_reserved(self._dev)),
                    "peak": int(torch.cuda.max_memory_allocated(self._dev)),
                }
            if self._dev.type == "mps":
                return {
                    "allocated": int(torch.mps.current_allocated_memory()),
                    "reserved": int(torch.mps.driver_allocated_memory()),
                    "peak": None,
                }
        except Exception:  # noqa: BLE001 - memory() must never raise
            return None
        return None


class MatmulWorkload(_Base):
    def __init__(self, cfg: dict, dev, name, kind, dtype) -> None:
        super().__init__(dev, name, kind)
        s = cfg["sizes"]
        n, depth = s["width"], s["depth"]
        g = torch.Generator(device=dev)
        g.manual_seed(cfg["seed"])
        self.x = torch.randn(n, n, generator=g, device=dev).to(dtype)
        self.w = (torch.randn(n, n, generator=g, device=dev) * n**-0.5).to(dtype)
        self.params = self.w.numel()

        def chain(x, w):
            for _ in range(depth):
                x = x @ w
            return x

        self._chain = torch.compile(chain) if cfg["compile"] == "compile" else chain
        self.out = None

    def step(self):
        with torch.no_grad():
            self.out = self._chain(self.x, self.w)
        _synchronize(self._dev)
        return None


class TrainWorkload(_Base):
    def __init__(self, cfg: dict, dev, name, kind, dtype) -> None:
        super().__init__(dev, name, kind)
        model, s = cfg["model"], cfg["sizes"]
        gen = torch.Generator()  # parameter init on the CPU: the same weights on every device
        gen.manual_seed(cfg["seed"])
        net = {"mlp": MLP, "cnn": CNN, "transformer": Transformer}[model](s)
        _init_dense(net, gen)
        self.net = net.to(dev)
        self.params = sum(p.numel() for p in self.net.parameters() if p.requires_grad)
        self.x, self.y = _make_data(model, s, dev, cfg["seed"])
        self.opt = _make_adam(self.net.parameters(), cfg["lr"], dev)
        if dtype == torch.float32:
            self._autocast = contextlib.nullcontext
        else:
            dev_type = dev.type

            def _autocast():
                return torch.autocast(dev_type, dtype=dtype)

            self._autocast = _autocast
        net_ref, x, y, autocast = self.net, self.x, self.y, self._autocast

        def forward_loss():
            with autocast():
                logits = net_ref(x)
            # mean softmax cross-entropy, computed in float32 from the (possibly low-precision) logits
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))

        self._forward_loss = torch.compile(forward_loss) if cfg["compile"] == "compile" else forward_loss

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self._forward_loss()
        loss.backward()
        self.opt.step()
        _synchronize(self._dev)
        return loss.item()


def build(cfg: dict):
    model = cfg["model"]
    if model not in models.MODELS:
        raise WorkloadError("unknown model %r: expected one of %s" % (model, ", ".join(models.MODELS)))
    dtype_name = cfg.get("dtype", "float32")
    if dtype_name not in _DTYPES:
        raise WorkloadError("unknown dtype %r: expected one of %s" % (dtype_name, ", ".join(_DTYPES)))
    if cfg.get("compile", "eager") not in ("eager", "compile"):
        raise WorkloadError("compile mode %r does not apply to torch (choose eager or compile)" % (cfg["compile"],))
    dev, name, kind = resolve_device(cfg.get("device", "auto"))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dtype = _DTYPES[dtype_name]
    _check_dtype(dev, kind, dtype, dtype_name, model)
    torch.manual_seed(cfg["seed"])
    if model == "matmul":
        return MatmulWorkload(cfg, dev, name, kind, dtype)
    return TrainWorkload(cfg, dev, name, kind, dtype)
