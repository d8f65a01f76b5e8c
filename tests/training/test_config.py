"""TrainConfig: the seed's fields and snippet, validation naming the field, the YAML parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from prism.training.base_models import BuiltinModelSpec
from prism.training.config import LLAMA_PROJECTIONS, TrainConfig
from prism.training.errors import TrainConfigError

PARAMETERS = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_training.yml"


def test_seed_snippet_works() -> None:
    from prism.training.train import TrainConfig as SeedImport

    config = SeedImport(
        name="iterative_model",
        data="/path/to/initial_data.json",
        r=32,
        base_model="llama-3.2-3b",
        epochs=3,
    )
    assert (config.r, config.epochs, config.base_model) == (32, 3, "llama-3.2-3b")


def test_default_targets_are_the_real_llama_projections() -> None:
    assert TrainConfig().target_modules == list(LLAMA_PROJECTIONS)
    assert "q_proj" in LLAMA_PROJECTIONS and "q_pror" not in LLAMA_PROJECTIONS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("val_frac", 1.0),
        ("val_frac", -0.1),
        ("r", 0),
        ("epochs", 0),
        ("learning_rate", -1.0),
        ("lora_dropout", 1.0),
        ("report_to", "mlflow"),
        ("finetune", "qlora"),
        ("nproc", 0),
        ("target_modules", []),
        ("max_steps", 0),
        ("per_device_train_batch_size", 2.5),
        ("r", True),
        ("bit4", "false"),
        ("seed", 1.5),
    ],
)
def test_invalid_values_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(TrainConfigError, match=rf"TrainConfig\.{field} must be"):
        TrainConfig(**{field: value})


def test_unknown_parameter_key_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown key.*'epoch'"):
        TrainConfig.from_dict({"epoch": 3})


def test_builtin_spec_is_validated() -> None:
    with pytest.raises(ValueError, match=r"builtin_model.hidden_size"):
        TrainConfig(builtin_model={"hidden_size": 100, "num_attention_heads": 3})


def test_parameters_file_holds_every_field_and_round_trips() -> None:
    params = yaml.safe_load(PARAMETERS.read_text())["training"]
    config = TrainConfig.from_dict(params)
    assert set(params) == set(TrainConfig().to_dict())
    assert isinstance(config.builtin_model, BuiltinModelSpec)
    assert TrainConfig.from_dict(config.to_dict()) == config
