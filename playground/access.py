"""Who may do what to a run: the one rule every door asks.

On a laptop (the app on localhost, the CLI) the person at the machine owns everything: ``actor`` is None and every
check passes. On a served app the actor is the signed-in person: everyone sees every run that is not private
(learning from each other is the point), a student stops, resumes, deletes and changes only their own runs, and a
teacher may act on all of them. The checks live here and in the functions that act, not in which buttons a page
draws, so a request a page never offered is refused the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.errors import NotAllowed
from playground.store import Run


@dataclass(frozen=True)
class Actor:
    """A signed-in person on a served app."""

    name: str
    role: str = "student"

    @property
    def teacher(self) -> bool:
        return self.role == "teacher"


def owner(run: Run) -> str:
    """Who a run belongs to: the player its door recorded (older runs recorded none: the machine's person)."""
    if run.player:
        return run.player
    from playground.game.profiles import default_owner

    return default_owner()


def may_manage(actor: Actor | None, run: Run) -> bool:
    """Stop, resume, delete, make private: the owner, a teacher, or the machine's own person."""
    return actor is None or actor.teacher or owner(run) == actor.name


def may_see(actor: Actor | None, run: Run) -> bool:
    return actor is None or actor.teacher or not run.private or owner(run) == actor.name


def check_manage(actor: Actor | None, run: Run) -> None:
    if not may_manage(actor, run):
        raise NotAllowed("access.not_yours", run=run.id, owner=owner(run))


def check_see(actor: Actor | None, run: Run) -> None:
    """A private run is, to anyone else, a run that is not there."""
    if not may_see(actor, run):
        from playground.errors import RunNotFound
        from playground.i18n import Words

        raise RunNotFound("runs.not_found", ref=run.id, hint=Words("runs.not_found_hint"))


def visible(actor: Actor | None, found: list[Run]) -> list[Run]:
    return [run for run in found if may_see(actor, run)]


def door_actor() -> Actor | None:
    """Whom a ``playground`` process acts for. A child the served app started (PLAYGROUND_SERVED=1) acts for the
    person it names (PLAYGROUND_PLAYER), with their account's role; any other process is the machine's own person
    (None): the CLI is the door of whoever sits at the machine."""
    import os

    from playground import settings

    if not settings.served():
        return None
    from playground.store import get_store

    name = os.environ.get("PLAYGROUND_PLAYER") or ""
    row = get_store().user(name) if name else None
    if row is None:
        raise NotAllowed("access.unknown_person", name=name)
    return Actor(name, row["role"])
