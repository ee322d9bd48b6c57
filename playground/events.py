"""Every kind of event the store keeps, with its payload's fields, defined in one place.

Events are the store's log of what happened (a run started, a game was played, an award was given);
the game reads them for evidence and the UI for its news. Writers build one of these payloads and
``record`` it; ``parse`` turns a stored payload back into its type (unknown keys of older versions
are dropped, missing ones take their defaults), so a reader never guesses at a dict's shape.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from playground.store import Store


@dataclass(frozen=True)
class Event:
    """A payload; ``KIND`` is the event's name in the store."""

    KIND: ClassVar[str] = ""

    @property
    def kind(self) -> str:
        return self.KIND

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunStarted(Event):
    KIND = "run_started"
    pid: int | None = None
    player: str | None = None  # who started it, as the door that created the run said
    device: str | None = None


@dataclass(frozen=True)
class RunEnded(Event):
    """``run_finished``, ``run_stopped`` or ``run_failed``: the kind carries the status."""

    status: str = "finished"
    step: int | None = None
    error: str | None = None

    @property
    def kind(self) -> str:
        return f"run_{self.status}"

    def payload(self) -> dict[str, Any]:
        return {"step": self.step, "error": self.error}


@dataclass(frozen=True)
class StopRequested(Event):
    KIND = "stop_requested"


@dataclass(frozen=True)
class Evaluated(Event):
    """Whole games played with a checkpoint (the scores themselves are in the evaluations table)."""

    KIND = "evaluation"
    step: int = 0
    mean: float = 0.0
    std: float = 0.0
    n: int = 0


@dataclass(frozen=True)
class RunImported(Event):
    KIND = "run_imported"
    source: str = ""
    step: int = 0


@dataclass(frozen=True)
class RunsCompared(Event):
    KIND = "runs_compared"
    runs: list[str] = field(default_factory=list)
    metric: str | None = None
    player: str | None = None


@dataclass(frozen=True)
class LatentSteered(Event):
    """A person moved through a generator's latent space by hand (the Watch page's Steer tab, ``gan watch``)."""

    KIND = "latent_steered"
    run: str = ""
    how: str = ""  # walk (gan watch's l), interpolate, arithmetic, codes or class
    player: str | None = None


@dataclass(frozen=True)
class ProfileCreated(Event):
    KIND = "profile"
    player: str = ""


@dataclass(frozen=True)
class HumanGamePlayed(Event):
    """A whole game played by a person with the keyboard (``playground play``)."""

    KIND = "human_game"
    player: str = ""
    env: str = ""
    game: str = ""
    score: float = 0.0
    seed: int | None = None
    frames: int = 0


@dataclass(frozen=True)
class DuelPlayed(Event):
    """A person and a run's agent played the same game with the same seed (``playground duel``)."""

    KIND = "duel"
    player: str = ""
    run_id: str = ""
    checkpoint: str = ""
    env: str = ""
    game: str = ""
    seed: int = 0
    human_score: float = 0.0
    agent_score: float = 0.0
    winner: str = "draw"  # human, agent or draw


@dataclass(frozen=True)
class ChallengeMet(Event):
    """A challenge's award: XP for the player, with the evidence that earned it (one per challenge and player)."""

    KIND = "award"
    challenge: str = ""
    player: str = ""
    xp: int = 0
    tier: str = ""
    title: str = ""
    value: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadgeEarned(Event):
    """A badge for a milestone, with its evidence (one per badge and player)."""

    KIND = "achievement"
    achievement: str = ""
    player: str = ""
    icon: str = ""
    name: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def _kinds() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    stack = list(Event.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.KIND:
            found[cls.KIND] = cls
    for status in ("finished", "stopped", "failed"):
        found[f"run_{status}"] = RunEnded
    return found


def stored_payload(event: Event) -> dict[str, Any]:
    """The payload as the store keeps it: JSON, so NaN and infinities (a failed game's score) become null."""
    return json_safe(event.payload())


def json_safe(value: Any) -> Any:
    """``value`` with every NaN and infinity made None (JSON has neither), in dicts and lists too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def record(store: Store, event: Event, run_id: str | None = None) -> int:
    """Store ``event``; returns its id."""
    return store.add_event(event.kind, stored_payload(event), run_id=run_id)


def record_once(store: Store, event: Event, key: tuple[str, ...], run_id: str | None = None) -> int | None:
    """Store ``event`` unless one of its kind has the same ``key`` fields; the new id, or None."""
    return store.add_event_once(event.kind, stored_payload(event), key=key, run_id=run_id)


def parse(kind: str, payload: dict[str, Any]) -> Event | None:
    """A stored payload as its type; None for a kind not defined here."""
    cls = _kinds().get(kind)
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in payload.items() if k in names}
    if cls is RunEnded:
        values["status"] = kind.removeprefix("run_")
    return cls(**values)
