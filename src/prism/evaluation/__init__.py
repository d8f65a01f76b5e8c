"""Evaluating planners: closed-loop task success on eval task files."""
