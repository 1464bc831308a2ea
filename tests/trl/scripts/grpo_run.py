"""A plain TRL GRPO (or RLOO) training script: no rlwatch in it.

Only TINY_USER_CALLBACK=1 makes it pass ``RLWatchCallback()`` itself, as a
user choosing the explicit way would. Run as ``python grpo_run.py`` with
environment variables choosing the case: TINY_OUT (output folder),
TINY_LR (learning rate), TINY_STEPS, TINY_BETA (KL coefficient), TINY_MAX_COMPLETION,
TINY_NAN_AT (poison the training forward with NaN from this step on),
TINY_LR_JUMP_AT / TINY_LR_JUMP (raise the learning rate mid-run), TINY_SCHEDULER,
TINY_MAX_GRAD_NORM (0 disables clipping), TINY_REPORT_TO,
TINY_TRAINER=grpo|rloo.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch
from tiny_setup import (
    load_tiny_model,
    make_tokenizer,
    prompt_dataset,
    reward_count_a,
    tiny_run_args,
    train_printing_callbacks,
)
from transformers import TrainerCallback


class NaNAfterStep(TrainerCallback):
    """Make every grad-enabled forward produce NaN hidden states from a given step on."""

    def __init__(self, model: torch.nn.Module, step: int) -> None:
        self.step = step
        self.armed = False
        # Hook the final layer norm: TRL projects through the LM head itself.
        model.get_decoder().ln_f.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):  # type: ignore[no-untyped-def]
        if self.armed and torch.is_grad_enabled():
            return output * float("nan")
        return output

    def on_step_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self.armed = state.global_step + 1 >= self.step


class LearningRateJump(TrainerCallback):
    """Raise the (constant) learning rate to `lr` from step `step` on: a bad config change mid-run."""

    def __init__(self, step: int, lr: float) -> None:
        self.step = step
        self.lr = lr

    def on_step_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):  # type: ignore[no-untyped-def]
        if state.global_step + 1 >= self.step and optimizer is not None:
            for group in optimizer.param_groups:
                group["lr"] = self.lr
            if lr_scheduler is not None and hasattr(lr_scheduler, "base_lrs"):
                lr_scheduler.base_lrs = [self.lr] * len(lr_scheduler.base_lrs)


def main() -> None:
    kind = os.environ.get("TINY_TRAINER", "grpo")
    beta = float(os.environ.get("TINY_BETA", "0.04"))
    nan_at = int(os.environ.get("TINY_NAN_AT", "0"))
    jump_at = int(os.environ.get("TINY_LR_JUMP_AT", "0"))
    out = os.environ.get("TINY_OUT", "out")
    tokenizer = make_tokenizer()
    model = load_tiny_model(out)
    common = dict(
        **tiny_run_args(out, "1e-5", "6", batch_size=8),
        num_generations=4,
        max_completion_length=int(os.environ.get("TINY_MAX_COMPLETION", "16")),
        report_to=os.environ.get("TINY_REPORT_TO", "none"),
        max_grad_norm=float(os.environ.get("TINY_MAX_GRAD_NORM", "1.0")),
        lr_scheduler_type=os.environ.get("TINY_SCHEDULER", "linear"),
        beta=beta,
        # Tiny model on a CPU: full precision, no activation checkpointing.
        bf16=False,
        activation_checkpointing=False,
    )
    callbacks: list[TrainerCallback] = []
    if jump_at:
        callbacks.append(LearningRateJump(jump_at, float(os.environ.get("TINY_LR_JUMP", "5e-2"))))
    if nan_at:
        callbacks.append(NaNAfterStep(model, nan_at))
    if os.environ.get("TINY_USER_CALLBACK"):
        from rlwatch_trl import RLWatchCallback  # the user's explicit choice

        callbacks.append(RLWatchCallback())
    if kind == "rloo":
        from trl import RLOOConfig, RLOOTrainer

        trainer = RLOOTrainer(
            model=model,
            reward_funcs=reward_count_a,
            args=RLOOConfig(**common),
            train_dataset=prompt_dataset(),
            processing_class=tokenizer,
            callbacks=callbacks or None,
        )
    else:
        from trl import GRPOConfig, GRPOTrainer

        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward_count_a,
            args=GRPOConfig(**common),
            train_dataset=prompt_dataset(),
            processing_class=tokenizer,
            callbacks=callbacks or None,
        )
    train_printing_callbacks(trainer)


if __name__ == "__main__":
    main()
