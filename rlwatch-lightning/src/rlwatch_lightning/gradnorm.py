"""Global gradient L2 norm without a host sync per parameter.

`torch.nn.utils.clip_grad_norm_` computes the same number, but only when the
user clips, and after our hook would want it. This computes it from
``param.grad`` with one fused ``torch._foreach_norm`` per (device, dtype)
group and leaves the result on the device: the training loop is not stalled;
the value is read later together with the step's other scalars.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def _accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    # Half-precision norms overflow to inf long before the gradients do, which
    # would look like a gradient explosion; float64 must not be narrowed.
    return torch.float64 if dtype == torch.float64 else torch.float32


def _group_norm(grads: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    acc = _accumulation_dtype(dtype)
    foreach_norm = getattr(torch, "_foreach_norm", None)
    if foreach_norm is not None:
        norms = foreach_norm(grads, 2.0, dtype=acc)
    else:  # pragma: no cover - every supported torch has _foreach_norm
        norms = [torch.linalg.vector_norm(g, 2.0, dtype=acc) for g in grads]
    total: torch.Tensor = torch.linalg.vector_norm(torch.stack(norms), 2.0)
    return total


def grad_norm(parameters: Iterable[torch.Tensor]) -> torch.Tensor | None:
    """L2 norm over the gradients of `parameters`, as a 0-d tensor.

    Parameters without a gradient are skipped; sparse gradients count through
    their stored values. The result is float32 (float64 when the gradients
    are) on the device of the first gradient; no value is copied to the host.

    Returns:
        The norm, or None when no parameter has a gradient (e.g. DeepSpeed,
        which keeps gradients in its own buffers).
    """
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    seen: set[int] = set()
    for param in parameters:
        grad = param.grad
        # A parameter shared by two param groups must count once.
        if grad is None or id(param) in seen:
            continue
        seen.add(id(param))
        if grad.is_sparse:
            grad = grad.coalesce().values()
        groups.setdefault((grad.device, grad.dtype), []).append(grad)
    if not groups:
        return None
    partials = [_group_norm(grads, dtype) for (_, dtype), grads in groups.items()]
    if len(partials) == 1:
        return partials[0]
    target = partials[0].device
    stacked = torch.stack([p.to(device=target, dtype=torch.float64) for p in partials])
    total: torch.Tensor = torch.linalg.vector_norm(stacked, 2.0)
    return total


def combine(norms: list[torch.Tensor]) -> torch.Tensor:
    """Norm of several partial norms (one per optimizer stepped in a batch)."""
    if len(norms) == 1:
        return norms[0]
    target = norms[0].device
    stacked = torch.stack([n.to(device=target, dtype=torch.float64) for n in norms])
    total: torch.Tensor = torch.linalg.vector_norm(stacked, 2.0)
    return total
