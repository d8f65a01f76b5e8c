"""The ``best_model`` link of an iterative run: relative, switched atomically, a copy where
symlinks fail."""

from __future__ import annotations

import json
import os
from pathlib import Path

from prism.datasets.model_link import ModelLinkDataset


def _model_dirs(out: Path) -> None:
    for n in (1, 2):
        (out / f"iterative_model_episode_{n}").mkdir(parents=True)
        (out / f"iterative_model_episode_{n}" / "weights").write_text(str(n))


def test_best_model_is_a_relative_link_switched_atomically(tmp_path, monkeypatch):
    _model_dirs(tmp_path)
    link = ModelLinkDataset(str(tmp_path / "best_model"), "iterative_model_episode_{episode}")
    link.save({"episode": 1})
    assert os.readlink(tmp_path / "best_model") == "iterative_model_episode_1"

    # Re-pointed by renaming a new link over the old one: never a moment without best_model.
    replaced, real_replace, real_unlink = [], os.replace, os.unlink
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append(b), real_replace(a, b)))

    def unlink(path, *args, **kwargs):
        assert Path(path) != tmp_path / "best_model", "best_model was removed before replaced"
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    link.save({"episode": 2})
    assert [Path(p) for p in replaced] == [tmp_path / "best_model"]
    assert (tmp_path / "best_model" / "weights").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no leftovers
        "best_model",
        "iterative_model_episode_1",
        "iterative_model_episode_2",
    ]
    assert not link.exists()  # re-pointed by every run


def test_best_model_is_copied_where_symlinks_fail(tmp_path, monkeypatch):
    _model_dirs(tmp_path)

    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks are not supported here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    link = ModelLinkDataset(str(tmp_path / "best_model"), "iterative_model_episode_{episode}")
    link.save({"episode": 1})
    link.save({"episode": 2})
    best = tmp_path / "best_model"
    assert not best.is_symlink() and (best / "weights").read_text() == "2"
    assert json.dumps(sorted(p.name for p in tmp_path.iterdir())) == json.dumps(
        ["best_model", "iterative_model_episode_1", "iterative_model_episode_2"]
    )
