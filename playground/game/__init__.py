"""The game: challenges, tiers, achievements and leaderboards, built on the store's evidence.

For the doors (CLI, web UI, viewer)::

    from playground.game import Game, sync
    game = Game()                  # reads the store once and records what is newly earned
    game.profile("ada")            # tier, XP, progress, the one suggested next challenge
    game.cards("ada", tier="入门")  # challenge cards; game.challenge(id, player) for one in detail
    game.leaderboard("Pong")       # agents and people, with the evidence of each entry
    game.achievements("ada")       # badges
    sync()                         # just record new awards (after a run, an evaluation or a game)

``profiles.active_player()`` is who plays on this machine; ``results`` has the human-result events.
"""

from playground.game.core import Game, SyncReport, load_catalogue, sync
from playground.game.profiles import active_player

__all__ = ["Game", "SyncReport", "active_player", "load_catalogue", "sync"]
