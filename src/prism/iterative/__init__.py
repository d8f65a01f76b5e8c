"""The seed's interfaces to the iterative loop, over ``kedro run --pipelines iterative``.

* :class:`IterativeTrainingPipeline` – the seed's Python API (``run_pipeline()``);
* ``src/prism/iterative/run_iterative_training.py`` – the seed's command line.

Both only translate their arguments into the runtime parameters of the Kedro pipeline
(:mod:`prism.pipelines.iterative`), which is the one implementation of the loop.
"""

from prism.iterative.iterative_training import (
    IterativeRunResult,
    IterativeTrainingPipeline,
    find_project_root,
)

__all__ = ["IterativeRunResult", "IterativeTrainingPipeline", "find_project_root"]
