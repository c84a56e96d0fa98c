"""Reference models: sizes, parameter counts and FLOPs per step, framework-free.

Each reference model is implemented three times (fw_torch.py, fw_jax.py,
fw_tensorflow.py) with the architecture described here; the parameter count
each implementation reports is checked against ``param_count`` in the tests,
and ``flops_per_step`` is the one formula all three share. docs/models.md
explains the formulas.

Stdlib only, Python 3.8 compatible.
"""

from __future__ import annotations

from .common import WorkloadError

MODELS = ("matmul", "mlp", "cnn", "transformer")

# Default sizes: small enough to train at several steps per second on 2 CPU cores.
DEFAULT_SIZES = {
    # n x n GEMM chain of `depth` multiplications per step.
    "matmul": {"width": 512, "depth": 8},
    "mlp": {"batch": 64, "in_dim": 256, "width": 512, "depth": 4, "classes": 10},
    # ResNet-style: `stages` stages of `depth` residual blocks, channels width * 2**stage.
    "cnn": {"batch": 32, "width": 16, "depth": 1, "stages": 3, "classes": 10, "image": 32},
    "transformer": {"batch": 16, "seq_len": 64, "width": 128, "depth": 2, "heads": 4, "vocab": 256},
}

# Hyper-parameters shared by every trainable model in every framework.
ADAM = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
EMBED_STD = 0.02  # token and position embeddings: N(0, 0.02)
LAYERNORM_EPS = 1e-5
# Dense and conv weights: N(0, 1/fan_in) (std = fan_in ** -0.5); biases 0; LayerNorm gain 1, bias 0.


def resolve_sizes(model: str, sizes=None) -> dict:
    """Defaults overlaid with the user's sizes, validated. Raises WorkloadError."""
    if model not in DEFAULT_SIZES:
        raise WorkloadError("unknown model %r: expected one of %s" % (model, ", ".join(MODELS)))
    out = dict(DEFAULT_SIZES[model])
    for key, value in (sizes or {}).items():
        if key not in out:
            raise WorkloadError("model %s has no size %r (it has %s)" % (model, key, ", ".join(sorted(out))))
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise WorkloadError("size %s=%r must be a positive integer" % (key, value))
        out[key] = value
    if model == "transformer" and out["width"] % out["heads"]:
        raise WorkloadError("transformer width %d is not divisible by heads %d" % (out["width"], out["heads"]))
    if model == "cnn" and out["image"] >> (out["stages"] - 1) < 1:
        raise WorkloadError("cnn image %d is too small for %d stages" % (out["image"], out["stages"]))
    return out


def _cnn_shapes(s: dict):
    """Yield (kind, h_out, c_in, c_out) for every 3x3 conv of the cnn, in order."""
    h, w = s["image"], s["width"]
    yield ("stem", h, 3, w)
    c = w
    for stage in range(s["stages"]):
        if stage > 0:
            h = (h - 1) // 2 + 1  # 3x3, stride 2, padding 1
            yield ("down", h, c, c * 2)
            c *= 2
        for _ in range(s["depth"]):
            yield ("block", h, c, c)
            yield ("block", h, c, c)


def cnn_final_channels(s: dict) -> int:
    return s["width"] * 2 ** (s["stages"] - 1)


def param_count(model: str, sizes=None) -> int:
    s = resolve_sizes(model, sizes)
    if model == "matmul":
        return s["width"] ** 2  # the fixed matrix; nothing is trained
    if model == "mlp":
        d, w, c, L = s["in_dim"], s["width"], s["classes"], s["depth"]
        return (d * w + w) + (L - 1) * (w * w + w) + (w * c + c)
    if model == "cnn":
        convs = sum(9 * ci * co + co for _, _, ci, co in _cnn_shapes(s))
        cf = cnn_final_channels(s)
        return convs + cf * s["classes"] + s["classes"]
    # transformer
    V, T, d, L = s["vocab"], s["seq_len"], s["width"], s["depth"]
    per_layer = 12 * d * d + 13 * d  # 2 LayerNorms (4d), qkv (3d^2+3d), proj (d^2+d), mlp (8d^2+5d)
    return V * d + T * d + L * per_layer + 2 * d + d * V


def _macs_per_sample(model: str, s: dict) -> int:
    """Multiply-accumulates of the forward pass's matmuls and convs, per sample."""
    if model == "mlp":
        d, w, c, L = s["in_dim"], s["width"], s["classes"], s["depth"]
        return d * w + (L - 1) * w * w + w * c
    if model == "cnn":
        convs = sum(h * h * 9 * ci * co for _, h, ci, co in _cnn_shapes(s))
        return convs + cnn_final_channels(s) * s["classes"]
    raise ValueError(model)


def flops_per_step(model: str, sizes=None) -> int:
    """Floating-point operations of one training step (one multiply-add = 2 FLOPs).

    Training counts forward + backward as 3x the forward matmul/conv FLOPs
    (6 per multiply-accumulate); element-wise ops, normalisation, softmax and the
    optimizer are not counted. matmul is forward only: 2 n^3 per GEMM.
    """
    s = resolve_sizes(model, sizes)
    if model == "matmul":
        return 2 * s["width"] ** 3 * s["depth"]
    if model in ("mlp", "cnn"):
        return 6 * s["batch"] * _macs_per_sample(model, s)
    B, T, d, L, V = s["batch"], s["seq_len"], s["width"], s["depth"], s["vocab"]
    dense = 6 * B * T * (L * 12 * d * d + d * V)
    attention = 12 * L * B * T * T * d  # QK^T and AV, forward + backward, full (not halved) causal square
    return dense + attention


def samples_per_step(model: str, sizes=None):
    s = resolve_sizes(model, sizes)
    return None if model == "matmul" else s["batch"]


def tokens_per_step(model: str, sizes=None):
    s = resolve_sizes(model, sizes)
    return s["batch"] * s["seq_len"] if model == "transformer" else None


def describe(model: str, sizes=None) -> dict:
    s = resolve_sizes(model, sizes)
    return {
        "sizes": s,
        "params": param_count(model, s),
        "flops_per_step": flops_per_step(model, s),
        "samples_per_step": samples_per_step(model, s),
        "tokens_per_step": tokens_per_step(model, s),
    }
