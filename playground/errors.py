"""Errors a user can cause. Each carries one sentence: what was wrong and what to do.

The CLI prints ``error: <sentence>`` and exits with status 2; the UI shows the sentence.
Anything that is not a ``PlaygroundError`` is a bug and keeps its traceback.
"""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base class for every error a user can cause."""


class UnknownAlgorithm(PlaygroundError):
    pass


class UnknownEnvironment(PlaygroundError):
    pass


class IncompatibleEnvironment(PlaygroundError):
    """The environment exists but the algorithm cannot train on it (DQN on continuous actions)."""


class MissingDependency(PlaygroundError):
    pass


class BadConfig(PlaygroundError):
    """A hyperparameter, preset or option that does not validate."""


class RunNotFound(PlaygroundError):
    pass


class RunStateError(PlaygroundError):
    """The run exists but cannot do what was asked in its current state."""


class CheckpointError(PlaygroundError):
    """A checkpoint is missing, corrupt, truncated or does not fit the model."""


class StoreError(PlaygroundError):
    """The home folder or database cannot be used."""


class WorkerLost(PlaygroundError):
    """A worker process died or went silent. The model the parent holds is intact, so the run keeps a
    checkpoint of it before it ends failed (``model_intact``), and can resume from there."""

    model_intact = True


class DataError(PlaygroundError):
    """A dataset that cannot be used: a missing folder, an unreadable image, a wrong layout."""
