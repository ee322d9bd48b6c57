"""The viewer's own user errors; the CLI prints each as one sentence and exits with status 2."""

from __future__ import annotations

from playground.errors import PlaygroundError


class NoDisplay(PlaygroundError):
    """A window was asked for where there is no screen to show it on."""


class RecordingError(PlaygroundError):
    """A ``--record`` path that cannot be written, or a format we do not write."""


class NotPlayable(PlaygroundError):
    """A game a person cannot play with a keyboard (continuous actions, no key mapping)."""
