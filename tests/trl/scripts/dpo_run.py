"""A plain TRL DPO training script: no rlwatch anywhere.

Environment: TINY_OUT (output folder), TINY_STEPS, TINY_LR.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tiny_setup import load_tiny_model, make_tokenizer, preference_dataset, tiny_run_args, train_printing_callbacks
from trl import DPOConfig, DPOTrainer


def main() -> None:
    out = os.environ.get("TINY_OUT", "out")
    tokenizer = make_tokenizer()
    model = load_tiny_model(out)
    args = DPOConfig(**tiny_run_args(out, "1e-4", "4", batch_size=4), report_to="none")
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=preference_dataset(),
        processing_class=tokenizer,
    )
    train_printing_callbacks(trainer)


if __name__ == "__main__":
    main()
