"""The table and figure datasets: stock behaviour, atomic saves to local disk."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from prism.datasets import AtomicCSVDataset, AtomicMatplotlibDataset


def _figure(label: str):
    figure, axes = plt.subplots()
    axes.plot([0, 1], [0, 1], label=label)
    return figure


def test_a_table_round_trips_and_previews(tmp_path):
    dataset = AtomicCSVDataset(
        filepath=str(tmp_path / "t" / "metrics.csv"), save_args={"index": False}
    )
    table = pd.DataFrame({"episode": [1, 2], "task/accuracy": [0.25, 0.5]})
    dataset.save(table)
    pd.testing.assert_frame_equal(dataset.load(), table)
    assert dataset.preview(nrows=1)["data"] == [[1, 0.25]]  # kedro-viz's table preview
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["metrics.csv"]


def test_a_figure_saves_as_png(tmp_path):
    path = tmp_path / "plot.png"
    AtomicMatplotlibDataset(filepath=str(path), save_args={"dpi": 50}).save(_figure("a"))
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("kind", ["table", "figure"])
def test_a_save_killed_half_way_leaves_the_old_file(tmp_path, monkeypatch, kind):
    if kind == "table":
        path = tmp_path / "metrics.csv"
        dataset = AtomicCSVDataset(filepath=str(path))
        old, new = pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [2, 3]})
    else:
        path = tmp_path / "plot.png"
        dataset = AtomicMatplotlibDataset(filepath=str(path))
        old, new = _figure("old"), _figure("new")
    dataset.save(old)
    before = path.read_bytes()

    def die(fd):  # the bytes are written, not yet in place: the moment a kill would hurt
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", die)
    with pytest.raises(KeyboardInterrupt):
        dataset.save(new)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
