"""Kedro pipelines of the project, one folder each."""
