"""Tiny, hub-free building blocks for the TRL test scripts.

A GPT-2 built from a config with random weights and a word-level tokenizer
built in code: training on the CPU takes seconds and nothing is downloaded.
This module knows nothing about rlwatch: the scripts that use it are plain
user training scripts.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from datasets import Dataset
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

# A model this small runs fastest on one thread, and CI has only two cores.
torch.set_num_threads(1)

WORDS = ["a", "b", "c", "d", "e", "f"]
SPECIALS = ["<pad>", "<eos>", "<unk>"]


def make_tokenizer() -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over a 9-token vocabulary."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<eos>",
        unk_token="<unk>",
    )
    tok.padding_side = "left"
    return tok


def make_model(seed: int = 0) -> GPT2LMHeadModel:
    """A 2-layer, 32-wide GPT-2 with random weights."""
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(SPECIALS) + len(WORDS),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=1,
        eos_token_id=1,
        pad_token_id=0,
    )
    return GPT2LMHeadModel(config)


def save_tiny_model(path: str, seed: int = 0) -> str:
    """Save the tiny model and tokenizer to `path` (TRL builds its reference model from a path)."""
    make_model(seed).save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


def load_tiny_model(out: str) -> GPT2LMHeadModel:
    """Save the tiny model under `out` and load it back, as a user loads a checkpoint."""
    model: GPT2LMHeadModel = AutoModelForCausalLM.from_pretrained(save_tiny_model(os.path.join(out, "tiny-model")))
    return model


def tiny_run_args(out: str, default_lr: str, default_steps: str, batch_size: int) -> dict[str, Any]:
    """Training arguments every tiny script shares (TINY_LR / TINY_STEPS override the defaults)."""
    return {
        "output_dir": out,
        "learning_rate": float(os.environ.get("TINY_LR", default_lr)),
        "max_steps": int(os.environ.get("TINY_STEPS", default_steps)),
        "per_device_train_batch_size": batch_size,
        "logging_steps": 1,
        "save_strategy": "no",
        "use_cpu": True,
        "seed": 0,
        "disable_tqdm": True,
    }


def train_printing_callbacks(trainer: Any) -> None:
    """Print the trainer's callbacks (the tests count rlwatch's) and train."""
    names = [type(cb).__name__ for cb in trainer.callback_handler.callbacks]
    print("CALLBACKS", ",".join(names), flush=True)
    trainer.train()


def prompt_dataset(n: int = 32) -> Dataset:
    """Synthetic prompts of three to five words."""
    rows = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + i % 3)) for i in range(n)]
    return Dataset.from_dict({"prompt": rows})


def preference_dataset(n: int = 16) -> Dataset:
    """Synthetic (prompt, chosen, rejected) triples for DPO."""
    prompts = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(3)) for i in range(n)]
    return Dataset.from_dict(
        {"prompt": prompts, "chosen": ["a a a"] * n, "rejected": ["f e d"] * n}
    )


def reward_count_a(completions: list[str], **kwargs: object) -> list[float]:
    """Fraction of completion words that are "a" (0 for empty completions)."""
    out = []
    for text in completions:
        words = text.split()
        out.append(sum(w == "a" for w in words) / len(words) if words else 0.0)
    return out
