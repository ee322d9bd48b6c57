"""Errors a user can cause. Each carries one sentence: what was wrong and what to do.

A sentence is a key of the translation table (``playground/strings/``) and its values, put into words
when it is shown: ``raise BadConfig("config.not_finite", key="lr", value="inf")``. ``str(error)`` is the
sentence in this process's language (``--lang``, ``PLAYGROUND_LANG``); the web UI asks for each browser
session's own with :meth:`PlaygroundError.sentence`.

The CLI prints ``error: <sentence>`` and exits with status 2; the UI shows the sentence.
Anything that is not a ``PlaygroundError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any

from playground.i18n import Words


class PlaygroundError(Exception):
    """Base class for every error a user can cause: a translation key and the values its sentence names."""

    def __init__(self, key: str, /, **values: Any) -> None:
        self.words = Words(key, **values)
        super().__init__(key)

    @property
    def key(self) -> str:
        return self.words.key

    @property
    def values(self) -> dict[str, Any]:
        return self.words.values

    def sentence(self, lang: str | None = None) -> str:
        """The sentence in ``lang`` (default: this process's language)."""
        return self.words.render(lang)

    def __str__(self) -> str:
        return self.sentence()

    def __reduce__(self) -> tuple[Any, ...]:  # to and from worker processes, with its values
        return (_rebuilt, (type(self), self.key, self.values, self.__dict__))


def _rebuilt(cls: type[PlaygroundError], key: str, values: dict[str, Any], state: dict[str, Any]) -> PlaygroundError:
    error = cls.__new__(cls)
    Exception.__init__(error, key)
    error.__dict__.update(state)
    return error


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


class QuotaExceeded(PlaygroundError):
    """A served app's limit (running jobs, disk for uploads) would be passed: nothing was started or kept."""


class NotAllowed(PlaygroundError):
    """The signed-in person may not do this to this run (it is someone else's), or may not use this path."""


class SignInRefused(PlaygroundError):
    """A wrong name or password, or a sign-in tried again too soon after one."""
