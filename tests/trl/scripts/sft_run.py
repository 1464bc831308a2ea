"""A plain TRL SFT training script: no rlwatch anywhere.

Environment: TINY_OUT (output folder), TINY_STEPS, TINY_LR.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from datasets import Dataset
from tiny_setup import WORDS, load_tiny_model, make_tokenizer, tiny_run_args, train_printing_callbacks
from trl import SFTConfig, SFTTrainer


def main() -> None:
    out = os.environ.get("TINY_OUT", "out")
    tokenizer = make_tokenizer()
    model = load_tiny_model(out)
    texts = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(6)) for i in range(32)]
    args = SFTConfig(**tiny_run_args(out, "1e-3", "4", batch_size=4), report_to="none", bf16=False)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts}),
                         processing_class=tokenizer)
    train_printing_callbacks(trainer)


if __name__ == "__main__":
    main()
