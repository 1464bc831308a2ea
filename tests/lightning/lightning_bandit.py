"""A tiny policy-gradient problem trained with real Lightning, for the tests.

Contextual bandit: 4 contexts, 3 actions, reward 1 for the action that
matches ``context % 3`` (plus a little noise), 0 otherwise. The policy is one
linear layer trained with REINFORCE and a mean baseline. Each step logs what
an RL module logs: entropy, KL to the initial (reference) policy, reward mean
and std, advantage std, and sets ``rlwatch_rewards``. The module also keeps
reference values (loss, gradient norm before clipping) per optimizer step so
tests can compare what rlwatch stored with what training saw.

Imported by the tests and by ``ddp_run.py`` (run in a subprocess).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightning.pytorch as lp
import torch
from torch.utils.data import DataLoader, Dataset

N_CONTEXTS = 4
N_ACTIONS = 3
BATCH = 32


class _Contexts(Dataset[torch.Tensor]):
    """Item i is a batch of contexts drawn from a generator seeded with i."""

    def __init__(self, n_batches: int) -> None:
        self.n_batches = n_batches

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, index: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(1000 + index)
        return torch.randint(0, N_CONTEXTS, (BATCH,), generator=gen)


if TYPE_CHECKING:
    _ModuleBase = lp.LightningModule  # what the mixin is mixed into, for the type checker
else:
    _ModuleBase = object


class BanditPolicyLogic(_ModuleBase):
    """Training logic, mixed into a LightningModule of either namespace.

    Args:
        n_batches: batches per epoch.
        lr: SGD learning rate.
        nan_at_step: make the loss NaN in the batch that produces this
            optimizer step (rlwatch step numbers are ``global_step`` after the
            optimizer step, so the first is 1).
        skip_nan_updates: zero non-finite gradients before the optimizer
            step (after rlwatch has read them), as a loss scaler skipping a
            bad step would, so training survives the NaN; without it the
            weights turn NaN and the next batch raises.
        lr_gamma: multiply the learning rate by this after every optimizer
            step (a per-step scheduler), so step t uses ``lr * gamma**(t-1)``.
        sparse_every: also log ``sparse_metric`` every n-th batch only.
        rewards_mode: what ``rlwatch_rewards`` holds: ``"sampled"`` (the
            batch's rewards), ``"alternating"`` (every sample ``batch_idx % 2``,
            so a step's rewards are known exactly) or ``"first_batch_only"``
            (set in batch 0, then left alone).
    """

    def __init__(
        self,
        n_batches: int = 16,
        lr: float = 0.05,
        nan_at_step: int | None = None,
        sparse_every: int = 0,
        rewards_mode: str = "sampled",
        skip_nan_updates: bool = False,
        lr_gamma: float | None = None,
    ) -> None:
        super().__init__()
        self.n_batches = n_batches
        self.lr = lr
        self.nan_at_step = nan_at_step
        self.sparse_every = sparse_every
        self.rewards_mode = rewards_mode
        self.skip_nan_updates = skip_nan_updates
        self.lr_gamma = lr_gamma
        self.policy = torch.nn.Linear(N_CONTEXTS, N_ACTIONS)
        self.reference = torch.nn.Linear(N_CONTEXTS, N_ACTIONS).requires_grad_(False)
        self.reference.load_state_dict(self.policy.state_dict())
        self.rlwatch_rewards: Any = None
        self.ref_losses: dict[int, float] = {}
        self.ref_grad_norms: dict[int, float] = {}

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        contexts = batch.reshape(-1)
        onehot = torch.nn.functional.one_hot(contexts, N_CONTEXTS).float()
        logits = self.policy(onehot)
        dist = torch.distributions.Categorical(logits=logits)
        actions = dist.sample()
        good = (actions == contexts % N_ACTIONS).float()
        rewards = good + 0.05 * torch.randn_like(good)
        advantages = rewards - rewards.mean()
        loss = -(dist.log_prob(actions) * advantages).mean()
        step = self.global_step + 1  # the step this batch's optimizer step produces
        if self.nan_at_step is not None and step == self.nan_at_step:
            loss = loss * float("nan")
        ref_logp = torch.log_softmax(self.reference(onehot), dim=-1)
        logp = torch.log_softmax(logits, dim=-1)
        kl = (logp.exp() * (logp - ref_logp)).sum(-1).mean()
        self.log("entropy", dist.entropy().mean())
        self.log("train/kl", kl)
        self.log("reward", rewards.mean(), on_step=True, on_epoch=True)
        self.log("reward_std", rewards.std())
        self.log("advantage_std", advantages.std())
        if self.sparse_every and batch_idx % self.sparse_every == 0:
            self.log("sparse_metric", float(batch_idx))
        if self.rewards_mode == "alternating":
            self.rlwatch_rewards = torch.full((BATCH,), float(batch_idx % 2))
        elif self.rewards_mode == "sampled" or batch_idx == 0:
            self.rlwatch_rewards = rewards.detach()
        self.ref_losses[step] = float(loss.detach())
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        self.ref_grad_norms[self.global_step + 1] = float(torch.nn.utils.get_total_norm(grads))
        if self.skip_nan_updates:
            for grad in grads:
                grad.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.policy.parameters(), lr=self.lr)
        if self.lr_gamma is None:
            return optimizer
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.lr_gamma)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def train_dataloader(self) -> DataLoader[torch.Tensor]:
        return DataLoader(_Contexts(self.n_batches), batch_size=None, num_workers=0)


class BanditPolicy(BanditPolicyLogic, lp.LightningModule):
    """The bandit policy as a ``lightning.pytorch`` module."""


def make_trainer(namespace: Any = lp, **kwargs: Any) -> Any:
    """A quiet CPU Trainer of `namespace` (``lightning.pytorch`` or ``pytorch_lightning``)."""
    options: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 2,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    options.update(kwargs)
    return namespace.Trainer(**options)
