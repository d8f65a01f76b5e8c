"""Benchmark of the student's training pipeline on CPU (or whatever device torch picks).

Measures, on one conversations file and the built-in tiny model:

* throughput: tokens/s of our pipeline (``prism.training.fit.fit``: tokenization with
  assistant-only labels, group-by-length batching, Trainer) against a bare ``transformers.Trainer``
  on the same model init, the same token ids and batch size (labels = inputs, default collator):
  their ratio is our overhead;
* padding: the share of padding tokens per batch with random batching and with group-by-length;
* peak memory: the peak RSS of each run (each runs in its own subprocess).

``--compare-finetune`` instead trains the random-init built-in base with LoRA and with full
fine-tuning for the same steps and reports validation loss and *first-step accuracy*: on held-out
rollouts, whether the first action of the student's first plan (greedy) equals the teacher's,
e.g. ``map_region(intersection_3)`` – a look-up of a node name in the scene graph.

Run from the project root::

    python bench/training.py [--data data/01_raw/initial_dataset.json] [--epochs 1]
    python bench/training.py --compare-finetune --epochs 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

DEFAULT_DATA = "data/01_raw/initial_dataset.json"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _setup(args: argparse.Namespace) -> tuple[list[dict], Any, Any, Any]:
    from prism.formats.conversations import read_samples
    from prism.training.base_models import BuiltinModelSpec, build_builtin_base
    from prism.training.config import TrainConfig
    from prism.training.split import split_ids

    samples = read_samples(args.data)
    config = TrainConfig(
        report_to="none",
        epochs=args.epochs,
        max_seq_len=args.max_seq_len,
        per_device_train_batch_size=args.batch_size,
        val_frac=args.val_frac,
        logging_steps=10,
        builtin_model=BuiltinModelSpec(max_position_embeddings=args.max_seq_len),
    )
    split = split_ids([s["id"] for s in samples], config.val_frac, config.seed)
    base = build_builtin_base(
        [t["value"] for s in samples for t in s["conversations"]], config.builtin_model
    )
    return samples, split, base, config


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    """Our pipeline end to end (encoding included), without validation passes."""
    from prism.training.fit import fit

    samples, split, base, config = _setup(args)
    config.val_frac = 0.0
    split = {**split, "train": split["train"] + split["val"], "val": []}
    started = time.perf_counter()
    _, metrics = fit(samples, split, base, config)
    seconds = time.perf_counter() - started
    n_tokens = metrics["tokens_per_second"] * metrics["train_seconds"]
    return {
        "tokens": n_tokens,
        "seconds_train": metrics["train_seconds"],
        "seconds_total": seconds,
        "tokens_per_s_train": metrics["tokens_per_second"],
        "tokens_per_s_total": n_tokens / seconds,
        "padding_share": metrics["padding_share"],
        "loss_first": metrics["train_loss_first"],
        "loss_last": metrics["train_loss_last"],
        "truncated": metrics["truncated"],
        "skipped": metrics["skipped"],
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_bare(args: argparse.Namespace, group_by_length: bool = False) -> dict[str, Any]:
    """A bare Trainer on the same init and token ids: full-sequence labels, stock collator."""
    import tempfile

    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from prism.training.fit import encode_samples

    samples, _, base, config = _setup(args)
    examples, _ = encode_samples(samples, base.tokenizer, config.max_seq_len)
    data = [{"input_ids": e.input_ids} for e in examples]
    n_tokens = sum(len(e.input_ids) for e in examples) * args.epochs
    with tempfile.TemporaryDirectory() as work_dir:
        trainer = Trainer(
            model=base.model,
            args=TrainingArguments(
                output_dir=work_dir,
                num_train_epochs=args.epochs,
                learning_rate=1e-3,
                per_device_train_batch_size=args.batch_size,
                report_to=[],
                save_strategy="no",
                use_cpu=True,
                logging_steps=10,
                disable_tqdm=True,
                train_sampling_strategy="group_by_length" if group_by_length else "random",
            ),
            train_dataset=data,
            data_collator=DataCollatorForLanguageModeling(base.tokenizer, mlm=False),
        )
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    return {
        "tokens": n_tokens,
        "seconds_train": seconds,
        "tokens_per_s_train": n_tokens / seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }


def padding_shares(args: argparse.Namespace) -> dict[str, float]:
    """Padding share of one epoch's batches, random order vs group-by-length."""
    from prism.training.collate import expected_padding_share
    from prism.training.fit import encode_samples

    samples, _, base, config = _setup(args)
    examples, _ = encode_samples(samples, base.tokenizer, config.max_seq_len)
    lengths = [len(e.input_ids) for e in examples]
    return {
        "random": expected_padding_share(lengths, args.batch_size, group_by_length=False),
        "group_by_length": expected_padding_share(lengths, args.batch_size, group_by_length=True),
    }


_FIRST_ACTION = re.compile(r'"plan":\s*"\[\s*([a-z_]+\([^,)]*)')


def first_action(text: str) -> str | None:
    """``map_region(intersection_3`` from a planner turn's JSON text (None if unparsable)."""
    match = _FIRST_ACTION.search(text)
    return match.group(1).strip() if match else None


def is_planner_turn(text: str) -> bool:
    """Whether ``text`` is a JSON object with exactly the four keys of a planner turn."""
    try:
        turn = json.loads(text)
    except ValueError:
        return False
    return isinstance(turn, dict) and set(turn) == {
        "primary_goal",
        "relevant_graph",
        "reasoning",
        "plan",
    }


def run_finetune_arm(args: argparse.Namespace) -> dict[str, Any]:
    """Train one fine-tuning mode on the random-init base; val loss and first-step accuracy."""
    import torch

    from prism.formats.conversations import to_chat_messages
    from prism.training.fit import fit

    samples, split, base, config = _setup(args)
    config.finetune = args.arm
    config.learning_rate = args.lr
    config.r = args.r
    config.lora_alpha = 2 * args.r
    bundle, metrics = fit(samples, split, base, config)
    model, tokenizer = bundle.model, bundle.tokenizer
    val_ids = set(split["val"])
    correct = total = well_formed = 0
    for sample in samples:
        if sample["id"] not in val_ids:
            continue
        messages = to_chat_messages(sample)
        first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
        prompt = tokenizer.apply_chat_template(
            messages[:first], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
        if ids["input_ids"].shape[1] > args.max_seq_len - args.new_tokens:
            continue
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=args.new_tokens, do_sample=False)
        text = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        expected = first_action(messages[first]["content"])
        total += 1
        well_formed += is_planner_turn(text)
        correct += expected is not None and first_action(text) == expected
    return {
        "arm": args.arm,
        "lr": args.lr,
        "r": args.r,
        "steps": metrics["steps"],
        "trainable_parameters": metrics["trainable_parameters"],
        "train_seconds": round(metrics["train_seconds"], 1),
        "val_loss_before": metrics["val_loss_before"],
        "val_loss_after": metrics["val_loss_after"],
        "well_formed_turns": f"{well_formed}/{total}",
        "first_step_accuracy": f"{correct}/{total}",
    }


def _in_subprocess(part: str, argv: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--part", part, *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"{part} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-seq-len", type=int, default=2048)
    parser.add_argument("--val-frac", type=float, default=0.1)
    parser.add_argument("--compare-finetune", action="store_true")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--r", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--arm", default="full", help=argparse.SUPPRESS)
    parser.add_argument("--part", help=argparse.SUPPRESS)
    args = parser.parse_args()
    parts = {
        "ours": run_ours,
        "bare": run_bare,
        "bare_grouped": lambda a: run_bare(a, group_by_length=True),
        "padding": padding_shares,
        "arm": run_finetune_arm,
    }
    if args.part:
        print(json.dumps(parts[args.part](args)))
        return
    argv = [a for a in sys.argv[1:] if a != "--compare-finetune"]
    print(
        f"data {args.data}, epochs {args.epochs}, batch {args.batch_size}, "
        f"{os.cpu_count()} CPU cores"
    )
    if args.compare_finetune:
        for arm in ("full", "lora"):
            print(json.dumps(_in_subprocess("arm", [*argv, "--arm", arm])))
        return
    ours = _in_subprocess("ours", argv)
    bare = _in_subprocess("bare", argv)
    grouped = _in_subprocess("bare_grouped", argv)
    padding = _in_subprocess("padding", argv)
    print(
        f"ours : {ours['tokens_per_s_train']:8.0f} tokens/s in training "
        f"({ours['tokens_per_s_total']:.0f} tokens/s incl. tokenization and masking), "
        f"loss {ours['loss_first']:.3f} -> {ours['loss_last']:.3f}, "
        f"{ours['truncated']} truncated / {ours['skipped']} skipped, "
        f"peak RSS {ours['peak_rss_mb']:.0f} MB"
    )
    print(
        f"bare : {bare['tokens_per_s_train']:8.0f} tokens/s, peak RSS {bare['peak_rss_mb']:.0f} MB"
    )
    print(
        f"bare + group_by_length: {grouped['tokens_per_s_train']:8.0f} tokens/s, "
        f"peak RSS {grouped['peak_rss_mb']:.0f} MB"
    )
    print(
        f"ratio ours/bare (training only): {ours['tokens_per_s_train'] / bare['tokens_per_s_train']:.2f}"
        f" vs random batching, {ours['tokens_per_s_train'] / grouped['tokens_per_s_train']:.2f}"
        " vs the same length grouping (= our overhead)"
    )
    print(
        f"padding share per batch: random {padding['random']:.1%}, "
        f"group_by_length {padding['group_by_length']:.1%} (ours ran {ours['padding_share']:.1%})"
    )


if __name__ == "__main__":
    main()
