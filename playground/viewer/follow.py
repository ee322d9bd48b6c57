"""Follow a run while it trains: which checkpoint to play next, and the run's evaluation curve.

The training process writes checkpoints and evaluations through the store; the viewer only
reads. While the run is running (or about to), the newest checkpoint plays; once it has ended
(finished, stopped or failed) the best one does (a GAN's last one), and the viewer says so. A run
that resumes is followed again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from playground import runs
from playground.errors import CheckpointError
from playground.i18n import Words
from playground.store import Run, Store
from playground.viewer.hud import HudState, Message

LIVE = ("created", "running")
POLL_S = 1.0


class Follower:
    """Which checkpoint to show next. ``ended_pick`` and the sentences below say how a kind of run is
    followed (RL here; ``gan_watch.GanFollower`` shows a GAN's last checkpoint once its run ends)."""

    ended_pick = "best"  # the checkpoint to show once the run has ended

    def no_checkpoint_hint(self, run_id: str) -> Words:
        """What to do about a run that ended without a checkpoint."""
        return Words("viewer.hint_resume_rl", run_id=run_id)

    def ended_message(self, status: str, step: int) -> Message:
        """The run has just ended: what is shown from now on."""
        return Message("viewer.run_ended_best", status=status, step=step)

    def new_checkpoint_message(self, step: int) -> Message:
        return Message("viewer.new_checkpoint_step", step=step)

    def kept_message(self, step: int | None, error: CheckpointError) -> Message:
        """A newer checkpoint could not be loaded: the one shown stays."""
        return Message("viewer.kept_step", step=step, error=error)

    def __init__(self, run_id: str, store: Store) -> None:
        self.run_id = run_id
        self.store = store
        self.status: str | None = None

    def run(self) -> Run:
        return runs.get(self.run_id, self.store)

    def curve(self) -> list[tuple[int, float]]:
        return [(e.step, e.mean) for e in self.store.evaluations(self.run_id, played=True)]

    def choose(self) -> tuple[int, Path, str] | None:
        """(step, path, run status) of the checkpoint to show next, or None while there is none."""
        run = self.run()
        available = runs.checkpoints(run, self.store)
        if not available:
            if run.status not in LIVE:
                raise CheckpointError("viewer.ended_without_checkpoint", run=run.id, status=run.status,
                                      hint=self.no_checkpoint_hint(run.id))
            return None
        if run.status in LIVE:
            step, path = available[-1]
        else:
            step, path = runs.pick_checkpoint(run, self.ended_pick, self.store)
        return step, path, run.status

    def status_change(self, status: str, step: int) -> Message | None:
        """Note the run's status; what to tell the user when it has just ended or started again."""
        message = None
        ended = status not in LIVE
        if ended and self.status in LIVE + (None,):
            message = self.ended_message(status, step)
        elif not ended and self.status not in LIVE:
            message = Message("viewer.run_live_again", status=status)
        self.status = status
        return message

    def first(self, wait: Callable[[str], bool]) -> tuple[int, Path, str] | None:
        """The checkpoint to start with; while there is none, ``wait(message)`` runs between polls.

        ``wait`` returns False to give up (the user quit); then this returns None.
        """
        while True:
            chosen = self.choose()
            if chosen is not None:
                self.status = chosen[2]
                return chosen
            status = self.run().status
            message = Message("viewer.waiting_first", run=self.run_id, status=status)
            if not wait(message):
                return None

    def between_games(self, hud: HudState, load: Callable[[int, Path], None]) -> Message | None:
        """Switch to the checkpoint that should play next; returns what to tell the user, if anything."""
        chosen = self.choose()
        hud.eval_curve = self.curve()
        if chosen is None:
            return None
        step, path, status = chosen
        hud.run_status = status
        message = self.status_change(status, step)
        if step != hud.checkpoint_step:
            try:
                load(step, path)
            except CheckpointError as exc:
                # Training prunes old checkpoints; one may vanish between listing and loading. Try next game.
                return self.kept_message(hud.checkpoint_step, exc)
            if message is None:
                message = self.new_checkpoint_message(step)
        return message

    def refresh(self, hud: HudState, load: Callable[[int, Path], None] | None = None) -> Message | None:
        """During a game: keep the curve and the status current. No switching mid-game, except with ``load``:
        a table (tabular agents) holds nothing about the game being played, so the newest one is loaded
        at once and the values on the grid change while the agent plays. Returns what to tell the user."""
        if load is not None:
            return self.between_games(hud, load)
        hud.eval_curve = self.curve()
        hud.run_status = self.run().status
        return None


def sleep_responsively(seconds: float, keep_going: Callable[[], bool], tick: float = 0.05) -> bool:
    """Sleep in short slices, asking ``keep_going`` between them; False as soon as it says stop."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not keep_going():
            return False
        time.sleep(min(tick, max(0.0, deadline - time.monotonic())))
    return keep_going()
