"""prism: distil a small on-device robot planner from a large teacher, as a Kedro project."""

__version__ = "0.1.0"
