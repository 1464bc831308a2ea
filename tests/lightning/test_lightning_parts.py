"""The adapter's pure parts: name map, gradient norm, tensor reading."""

from __future__ import annotations

import math

import pytest
import torch
from rlwatch_lightning.convert import read_stacked, scalars_to_floats
from rlwatch_lightning.gradnorm import combine, grad_norm
from rlwatch_lightning.names import DEFAULT_NAME_MAP, build_name_map, resolve


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        ("entropy", "entropy"),
        ("entropy_step", "entropy"),
        ("kl", "kl_divergence"),
        ("kl_divergence_step", "kl_divergence"),
        ("approx_kl", "kl_divergence"),
        ("train/approx_kl_step", "kl_divergence"),
        ("reward", "reward_mean"),
        ("reward_mean_step", "reward_mean"),
        ("reward_std", "reward_std"),
        ("advantage_std_step", "advantage_std"),
        ("rl/policy/entropy", "entropy"),
    ],
)
def test_default_map_covers_the_documented_spellings(key: str, canonical: str) -> None:
    assert resolve(key, DEFAULT_NAME_MAP, include_unmapped=False) == canonical


def test_epoch_aggregates_and_unknown_keys_are_skipped_unless_asked() -> None:
    assert resolve("reward_epoch", DEFAULT_NAME_MAP, include_unmapped=True) is None
    assert resolve("val_loss", DEFAULT_NAME_MAP, include_unmapped=False) is None
    assert resolve("val_loss", DEFAULT_NAME_MAP, include_unmapped=True) == "val_loss"
    assert resolve("loss", DEFAULT_NAME_MAP, include_unmapped=False) is None  # read from outputs instead
    assert resolve("val/reward", DEFAULT_NAME_MAP, include_unmapped=False) is None  # not a training metric
    assert resolve("test/policy/kl", DEFAULT_NAME_MAP, include_unmapped=False) is None


def test_user_entries_extend_and_override_the_default() -> None:
    merged = build_name_map({"policy_kl": "kl_divergence", "entropy": None, "reward_epoch": "reward_mean"})
    assert resolve("policy_kl", merged, False) == "kl_divergence"
    assert resolve("entropy", merged, False) is None
    assert resolve("reward_epoch", merged, False) == "reward_mean"  # named explicitly: read
    assert "policy_kl" not in DEFAULT_NAME_MAP  # the default is not modified
    with pytest.raises(TypeError, match="name_map"):
        build_name_map({"kl": 3})  # type: ignore[dict-item]


def _with_grads(*grads: torch.Tensor) -> list[torch.nn.Parameter]:
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros_like(g, dtype=torch.float32 if g.is_sparse else g.dtype))
        p.grad = g
        params.append(p)
    return params


def test_grad_norm_matches_torch_over_mixed_dtypes_and_skips_missing_grads() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(5, 3, generator=gen)
    b = torch.randn(7, generator=gen, dtype=torch.float64)
    c = (torch.randn(4, generator=gen) * 100).to(torch.float16)
    params = [*_with_grads(a, b, c), torch.nn.Parameter(torch.ones(2))]  # last has no grad
    expected = torch.cat([a.flatten().double(), b.double(), c.double()]).norm().item()
    result = grad_norm(params)
    assert result is not None and result.ndim == 0
    assert result.item() == pytest.approx(expected, rel=1e-3)


def test_half_precision_gradients_do_not_overflow_the_norm() -> None:
    big = torch.full((64,), 60000.0, dtype=torch.float16)  # norm 480000 > float16 max
    result = grad_norm(_with_grads(big))
    assert result is not None and math.isfinite(result.item())
    assert result.item() == pytest.approx(480000.0, rel=1e-3)


def test_grad_norm_counts_sparse_gradients_and_shared_parameters_once() -> None:
    sparse = torch.sparse_coo_tensor(torch.tensor([[0, 3]]), torch.tensor([3.0, 4.0]), (6,), check_invariants=True)
    [p] = _with_grads(sparse)
    result = grad_norm([p, p])
    assert result is not None and result.item() == pytest.approx(5.0)
    assert grad_norm([torch.nn.Parameter(torch.ones(3))]) is None


def test_combine_is_the_norm_of_the_parts() -> None:
    assert combine([torch.tensor(3.0), torch.tensor(4.0)]).item() == pytest.approx(5.0)
    only = torch.tensor(2.0)
    assert combine([only]) is only


def test_scalars_to_floats_reads_tensors_and_passes_everything_else() -> None:
    values = {
        "a": torch.tensor(1.5),
        "b": torch.tensor([2.5], dtype=torch.float64),
        "c": torch.tensor(float("nan")),
        "d": 7,
        "e": torch.ones(3),
    }
    out = scalars_to_floats(values)
    assert out["a"] == 1.5 and out["b"] == 2.5 and math.isnan(out["c"]) and out["d"] == 7
    assert out["e"] is values["e"]  # not a scalar: the core decides
    assert all(type(out[k]) is float for k in "abc")


def test_the_accelerator_path_reads_all_scalars_in_one_stack() -> None:
    # No GPU here: run the stacking reader on CPU tensors (same code path).
    items = [("a", torch.tensor(1.25)), ("b", torch.tensor([2.0], dtype=torch.float16)), ("c", torch.tensor(3))]
    assert read_stacked(items, torch.device("cpu")) == {"a": 1.25, "b": 2.0, "c": 3.0}
