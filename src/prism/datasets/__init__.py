"""Custom Kedro datasets of prism (declared by ``type: prism.datasets.<Name>`` in
``conf/base/catalog*.yml``).

Imported lazily: the model datasets pull in torch and transformers, which a generation run or a
test of the JSON datasets should not pay for.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AtomicCSVDataset": "atomic",
    "AtomicJSONDataset": "json_store",
    "AtomicMatplotlibDataset": "atomic",
    "ConversationsFileDataset": "conversations_file",
    "EvalTaskFileDataset": "eval_task_file",
    "HFModelDataset": "hf_model",
    "JsonStoreDataset": "json_store",
    "ModelLinkDataset": "model_link",
    "SavedModelDirDataset": "local_path",
    "StudentBaseDataset": "hf_model",
    "WorkDirDataset": "local_path",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'prism.datasets' has no attribute {name!r}")
    return getattr(import_module(f"prism.datasets.{_EXPORTS[name]}"), name)
