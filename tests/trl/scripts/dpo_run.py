"""A plain TRL DPO training script: no rlwatch anywhere.

Environment: TINY_OUT (output folder), TINY_STEPS, TINY_LR.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tiny_setup import make_tokenizer, preference_dataset, save_tiny_model
from transformers import AutoModelForCausalLM
from trl import DPOConfig, DPOTrainer


def main() -> None:
    out = os.environ.get("TINY_OUT", "out")
    tokenizer = make_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(save_tiny_model(os.path.join(out, "tiny-model")))
    args = DPOConfig(
        output_dir=out,
        learning_rate=float(os.environ.get("TINY_LR", "1e-4")),
        max_steps=int(os.environ.get("TINY_STEPS", "4")),
        per_device_train_batch_size=4,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=preference_dataset(),
        processing_class=tokenizer,
    )
    names = [type(cb).__name__ for cb in trainer.callback_handler.callbacks]
    print("CALLBACKS", ",".join(names), flush=True)
    trainer.train()


if __name__ == "__main__":
    main()
