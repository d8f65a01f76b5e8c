"""The pipelines' figures are drawn without pyplot: importing them leaves the backend alone (a
notebook keeps its inline plots) and they save anywhere, headless included."""

from __future__ import annotations

import subprocess
import sys

MODULES = (
    "prism.pipelines.evaluation.nodes",
    "prism.pipelines.generation.plots",
    "prism.pipelines.iterative.plots",
    "prism.pipelines.pretraining.nodes",
)


def test_importing_the_pipelines_leaves_matplotlibs_backend_alone():
    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        + "".join(f"import {module}\n" for module in MODULES)
        + "import sys; print('backend', matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "backend svg False", done.stdout + done.stderr


def test_a_figure_saves_without_pyplot(tmp_path):
    from prism.pipelines.generation.plots import plot_generation_stats

    stats = {
        "by_kind": {"existence": {"passed": 2, "failed": 1}},
        "failed_by_reason": {"wrong_answer": 1},
        "passed": 2,
        "total": 3,
        "success_rate": 2 / 3,
    }
    plot_generation_stats(stats).savefig(tmp_path / "stats.png")
    assert (tmp_path / "stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
