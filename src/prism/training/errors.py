"""Errors of the student's training that a user fixes by changing input or configuration.

They subclass the built-in type a caller would expect (``ValueError`` for bad values,
``RuntimeError`` for what this machine cannot do); being defined in prism, the ``prism`` CLI
prints them as one message instead of a traceback.
"""

from __future__ import annotations


class TrainConfigError(ValueError):
    """A training parameter has an invalid value; the message names the field and the fix."""


class HardwareError(RuntimeError):
    """The configuration asks for hardware this machine lacks (a GPU for ``bit4``, ...)."""


class EmptyTrainingDataError(ValueError):
    """No sample is left to train on; the message says why."""
