"""Training: the loss falls, LoRA and full modes, bad input fails early with one clear message."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from prism.student.bundle import save_bundle
from prism.training.errors import EmptyTrainingDataError, HardwareError
from prism.training.split import split_ids
from prism.training.train import check_hardware, prepare_student_base, train, train_student

from .conftest import CONVERSATIONS, tiny_config

#: Loads a saved student in a fresh interpreter the way a user would, and generates from it.
LOAD_AND_GENERATE = """
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer
path = sys.argv[1]
tokenizer = AutoTokenizer.from_pretrained(path)
if json.load(open(path + "/prism_model.json"))["adapter"]:
    from peft import PeftConfig, PeftModel
    base = AutoModelForCausalLM.from_pretrained(PeftConfig.from_pretrained(path).base_model_name_or_path)
    model = PeftModel.from_pretrained(base, path)
    AutoModelForCausalLM.from_pretrained(path)  # transformers' own adapter loading works too
else:
    model = AutoModelForCausalLM.from_pretrained(path)
prompt = tokenizer.apply_chat_template(
    [{"role": "user", "content": "task: find the truck"}], add_generation_prompt=True, tokenize=False)
ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
out = model.generate(**ids, max_new_tokens=8, do_sample=False)
print(json.dumps({"new_tokens": out.shape[1] - ids["input_ids"].shape[1]}))
"""


def load_in_fresh_process(path: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", LOAD_AND_GENERATE, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def split_of(samples, val_frac=0.1):
    return split_ids([s["id"] for s in samples], val_frac, seed=42)


def test_full_finetune_of_the_builtin_base_lowers_the_loss(samples, tiny_base, tmp_path) -> None:
    config = tiny_config(epochs=3)
    bundle, metrics = train_student(samples, split_of(samples), tiny_base, config)
    assert metrics["finetune"] == "full"  # auto: the random-init built-in base trains in full
    assert metrics["train_loss_last"] < metrics["train_loss_first"] - 0.5
    assert metrics["val_loss_after"] < metrics["val_loss_before"]
    assert metrics["n_train"] + metrics["n_val"] == len(samples)
    assert math.isfinite(metrics["tokens_per_second"]) and 0 <= metrics["padding_share"] < 1
    save_bundle(bundle, tmp_path / "student")
    assert load_in_fresh_process(tmp_path / "student")["new_tokens"] > 0


def test_lora_saves_an_adapter_that_loads_in_a_fresh_process(samples, tiny_base, tmp_path) -> None:
    config = tiny_config(finetune="lora", r=4, lora_alpha=8, epochs=1)
    bundle, metrics = train_student(samples, split_of(samples), tiny_base, config)
    assert metrics["trainable_parameters"] < metrics["total_parameters"] / 2
    save_bundle(bundle, tmp_path / "student")
    saved = tmp_path / "student"
    assert (saved / "adapter_config.json").is_file() and not (saved / "model.safetensors").exists()
    adapter = json.loads((saved / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == set(config.target_modules)
    assert load_in_fresh_process(saved)["new_tokens"] > 0


@pytest.mark.parametrize("modules", [["q_pror"], ["q_pror", "v_proj"]])
def test_wrong_target_modules_name_the_field(samples, tiny_base, modules) -> None:
    # One misspelt name among right ones is an error too (the reference's "q_pror" defect).
    config = tiny_config(finetune="lora", target_modules=modules, epochs=1)
    with pytest.raises(ValueError, match=r"target_modules: q_pror not found"):
        train_student(samples, split_of(samples), tiny_base, config)


def test_overlong_rollouts_are_truncated_or_skipped_and_counted(samples, tiny_base) -> None:
    config = tiny_config(max_seq_len=200, epochs=1, val_frac=0.0)
    _, metrics = train_student(samples, split_of(samples, 0.0), tiny_base, config)
    assert metrics["max_seq_len"] == 200
    assert metrics["truncated"] + metrics["skipped"] == len(samples)
    assert metrics["n_train"] == len(samples) - metrics["skipped"]


def test_no_trainable_sample_is_one_clear_error(samples, tiny_base) -> None:
    config = tiny_config(max_seq_len=8, val_frac=0.0)
    with pytest.raises(EmptyTrainingDataError, match=r"no trainable sample.*max_seq_len=8"):
        train_student(samples, split_of(samples, 0.0), tiny_base, config)


def test_debug_runs_a_few_steps(samples, tiny_base) -> None:
    _, metrics = train_student(samples, split_of(samples), tiny_base, tiny_config(debug=True))
    assert metrics["steps"] == 4 and metrics["n_train"] <= 16


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on CPU-only machines")
def test_bit4_without_gpu_is_refused_before_anything_is_built(samples) -> None:
    with pytest.raises(HardwareError, match=r"bit4.*CUDA GPU.*bit4: false"):
        check_hardware(tiny_config(bit4=True))
    with pytest.raises(HardwareError, match=r"bit4"):
        prepare_student_base(samples, None, tiny_config(bit4=True))


def test_builtin_base_is_reused_when_its_spec_is_unchanged(samples, tiny_base) -> None:
    assert prepare_student_base(samples, tiny_base, tiny_config()) is tiny_base
    bigger = tiny_config(builtin_model={**tiny_base.builtin_spec, "num_hidden_layers": 3})
    rebuilt = prepare_student_base(samples, tiny_base, bigger)
    assert rebuilt is not tiny_base and rebuilt.model.config.num_hidden_layers == 3


def test_python_api_trains_and_reuses_the_builtin_base(tmp_path) -> None:
    config = tiny_config(name="api_model", data=str(CONVERSATIONS), debug=True)
    saved = train(config, tmp_path)
    assert saved == tmp_path / "api_model" and (saved / "prism_model.json").is_file()
    base_files = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "student_base").iterdir()}
    train(config, tmp_path)
    assert {
        p.name: p.stat().st_mtime_ns for p in (tmp_path / "student_base").iterdir()
    } == base_files
