"""The framework-free model formulas (the frameworks are checked against these in test_frameworks)."""

import pytest

from fwtop.workloads.child import models
from fwtop.workloads.child.common import WorkloadError


def test_mlp_params_and_flops_by_hand():
    s = {"batch": 2, "in_dim": 3, "width": 4, "depth": 2, "classes": 5}
    # (3*4+4) + (4*4+4) + (4*5+5)
    assert models.param_count("mlp", s) == 16 + 20 + 25
    assert models.flops_per_step("mlp", s) == 6 * 2 * (3 * 4 + 4 * 4 + 4 * 5)


def test_cnn_params_and_flops_by_hand():
    s = {"batch": 1, "width": 2, "depth": 1, "stages": 2, "classes": 3, "image": 4}
    # stem 3->2, block 2 convs 2->2, down 2->4, block 2 convs 4->4, head 4->3
    convs = (9 * 3 * 2 + 2) + 2 * (9 * 2 * 2 + 2) + (9 * 2 * 4 + 4) + 2 * (9 * 4 * 4 + 4)
    assert models.param_count("cnn", s) == convs + 4 * 3 + 3
    macs = 16 * 9 * 3 * 2 + 2 * 16 * 9 * 2 * 2 + 4 * 9 * 2 * 4 + 2 * 4 * 9 * 4 * 4 + 4 * 3
    assert models.flops_per_step("cnn", s) == 6 * macs


def test_transformer_params_and_flops_by_hand():
    s = {"batch": 2, "seq_len": 3, "width": 4, "depth": 1, "heads": 2, "vocab": 5}
    d = 4
    layer = 2 * (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    assert models.param_count("transformer", s) == 5 * d + 3 * d + layer + 2 * d + d * 5
    dense = 6 * 2 * 3 * (12 * d * d + d * 5)
    assert models.flops_per_step("transformer", s) == dense + 12 * 1 * 2 * 3 * 3 * d


def test_matmul():
    assert models.flops_per_step("matmul", {"width": 10, "depth": 3}) == 2 * 1000 * 3
    assert models.param_count("matmul", {"width": 10, "depth": 3}) == 100
    assert models.samples_per_step("matmul") is None


def test_tokens_and_samples():
    d = models.describe("transformer", {"batch": 3, "seq_len": 7})
    assert d["tokens_per_step"] == 21 and d["samples_per_step"] == 3


@pytest.mark.parametrize(
    "model, sizes, message",
    [
        ("resnet", {}, "unknown model"),
        ("mlp", {"seq_len": 3}, "has no size"),
        ("mlp", {"batch": 0}, "positive integer"),
        ("mlp", {"batch": "8"}, "positive integer"),
        ("transformer", {"width": 10, "heads": 3}, "not divisible"),
        ("cnn", {"image": 2, "stages": 3}, "too small"),
    ],
)
def test_bad_sizes(model, sizes, message):
    with pytest.raises(WorkloadError, match=message):
        models.resolve_sizes(model, sizes)


def test_defaults_are_sane():
    for model in models.MODELS:
        d = models.describe(model)
        assert d["params"] > 0 and d["flops_per_step"] > 0
