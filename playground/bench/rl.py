"""rl: environment steps per second of training on Atari Pong: PPO, A2C, our DQN and our Rainbow with the RL
Zoo's hyperparameters on our training path (fast ALE vector env, our agents), against plain
stable-baselines3 run the way RL Baselines3 Zoo runs it (``playground.peers.sb3_zoo``).

Both sides continue one model from round to round, so every round is real training (PPO: whole
rollouts plus their updates). DQN's Zoo entry collects 100k steps before its first update; here
both sides start updating after ``DQN_LEARNING_STARTS`` steps, so the figure is DQN's training
speed, not random play.

The DQN family against SB3's DQN with the Zoo's Atari settings (1 env, one gradient step of 32 per 4 steps):
``dqn`` is ours with those very settings, acting in its preset's 8 envs at a time (its ``train_freq`` counts
transitions, so 8 envs keep the Zoo's replay ratio); ``rainbow`` is our ``rainbow`` preset with the Zoo's
100k buffer, the same replay ratio and batch. Each is followed by its learner alone, the bound both meet on a
CPU: gradient steps alone (sampling, forward, backward, optimizer, on the memory the training rounds filled), as
environment steps per second at one gradient step per 4 steps, ours (the Nature DQN network, or Rainbow's with its
prioritized sampling and C51 update, in its number format) against SB3's ``train``.

PPO's and A2C's learner figures are their training on games that cost nothing: one rollout of each side's own
games, recorded beforehand and handed back to SB3's ``collect_rollouts`` (``playground.bench.replayed``). They are
followed by their games alone (each side's vector env stepped with random actions, no network): on 2 cores the
network and the games take turns, so the two together give the ceiling with the games, which the report states
beside the learner's own.

Every learner figure also counts its arithmetic (``playground.bench.arithmetic``): the FLOPs of one step on each
side and this machine's matrix-product speed, so the report says what share of the machine each side uses and how
far ours could go at most; and it names the oneDNN kernels our side ran, pass by pass, with their speed
(``playground.bench.onednn``): where on this CPU the learner's time goes.

Our path is what ``playground rl train`` runs, CPU choices included (the image CNN under bfloat16
autocast where the CPU computes bfloat16 natively); both sides keep torch's default thread count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from playground.bench import Figure, alternate, level_of, per_second, replayed
from playground.bench.arithmetic import arithmetic_notes
from playground.bench.env import stepping
from playground.bench.onednn import kernels_of
from playground.bench.ours import learn_steps, our_agent, train_steps

ENV_ID = "ALE/Pong-v5"
DQN_LEARNING_STARTS = 1000
# RL Baselines3 Zoo's Atari DQN (hyperparams/dqn.yml, entry 'atari'; the same numbers as sb3_zoo.ATARI["dqn"]),
# given to our DQN by name.
ZOO_DQN = {"buffer_size": 100_000, "learning_rate": 1e-4, "batch_size": 32, "target_update_interval": 1000,
           "train_freq": 4, "gradient_steps": 1, "exploration_fraction": 0.1, "exploration_final_eps": 0.01}
TRANSITIONS_PER_GRADIENT_STEP = 4  # the Zoo's train_freq with gradient_steps 1
KERNEL_GRADIENT_STEPS = 20  # the DQN family's gradient steps whose oneDNN kernels the report names


@dataclass(frozen=True)
class Level:
    steps: dict[str, int]  # environment steps per training round, per algorithm
    rounds: int
    updates: int = 1  # PPO/A2C learner figures: whole updates (and their rollouts' acting) per round
    gradient_steps: int = 1  # DQN family learner figures: gradient steps per round
    algos: tuple[str, ...] = ("ppo", "a2c", "dqn", "rainbow")
    warmup: bool = True
    # Changes to the Zoo's settings, the same on both sides: only the tests' tiny level has any
    # (short PPO rollouts, so that a round takes a second).
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)


LEVELS = {
    "tiny": Level(steps={"ppo": 128, "a2c": 80, "dqn": 64, "rainbow": 64}, rounds=1, gradient_steps=2, warmup=False,
                  overrides={"ppo": {"n_steps": 16, "batch_size": 64},
                             "dqn": {"buffer_size": 1000, "learning_starts": 64}}),
    "quick": Level(steps={"ppo": 1024, "a2c": 800, "dqn": 400, "rainbow": 400}, rounds=1, updates=2,
                   gradient_steps=50),
    "full": Level(steps={"ppo": 3072, "a2c": 3200, "dqn": 1600, "rainbow": 1600}, rounds=3, updates=4,
                  gradient_steps=200),
}
TITLES = {"ppo": "PPO", "a2c": "A2C", "dqn": "DQN", "rainbow": "Rainbow"}
DQN_FAMILY = ("dqn", "rainbow")


def _ours(algo: str, level: Level, device: str) -> Any:
    """Our agent for a figure, with the Zoo's DQN settings (and the level's overrides) where it is the DQN family."""
    overrides = dict(level.overrides.get("dqn" if algo in DQN_FAMILY else algo, {}))
    if algo == "dqn":
        sets = {**ZOO_DQN, "learning_starts": DQN_LEARNING_STARTS, **overrides}
        return our_agent("dqn", ENV_ID, sets=[f"{k}={v}" for k, v in sets.items()], device=device)[1]
    if algo == "rainbow":
        sets = {"buffer_size": ZOO_DQN["buffer_size"], "learning_starts": DQN_LEARNING_STARTS, **overrides}
        return our_agent("dqn", ENV_ID, preset="rainbow", sets=[f"{k}={v}" for k, v in sets.items()],
                         device=device)[1]
    return our_agent(algo, ENV_ID, sets=[f"{k}={v}" for k, v in overrides.items()], device=device)[1]


def _peer(algo: str, level: Level, device: str) -> Any:
    from playground.peers import sb3_zoo

    if algo in DQN_FAMILY:
        overrides = {"learning_starts": DQN_LEARNING_STARTS, **level.overrides.get("dqn", {})}
        return sb3_zoo.atari_model("dqn", ENV_ID, device=device, **overrides)
    return sb3_zoo.atari_model(algo, ENV_ID, device=device, **level.overrides.get(algo, {}))


def figures(algo: str, level: Level, device: str) -> list[Figure]:
    steps = level.steps[algo]
    ours, peer = _ours(algo, level, device), _peer(algo, level, device)
    try:
        if algo in DQN_FAMILY:  # fill both replay buffers past learning_starts before timing
            train_steps(ours, peer.learning_starts)
            learn_steps(peer, peer.learning_starts)
        n_envs = ours.n_envs
        peer_name = "SB3 as RL Zoo runs it (AtariWrapper, DummyVecEnv, VecFrameStack 4)"
        if algo in DQN_FAMILY:
            peer_name = "SB3's DQN as RL Zoo runs it (1 env, AtariWrapper, VecFrameStack 4)"
        result = Figure("rl", f"{TITLES[algo]} {ENV_ID} training, {n_envs} env{'s' if n_envs > 1 else ''}",
                        "steps/s", peer_name)
        result.notes["n_envs"] = {"ours": n_envs, "peer": peer.n_envs}
        alternate(
            result,
            lambda: per_second(lambda: train_steps(ours, steps), device),
            lambda: per_second(lambda: learn_steps(peer, steps), device),
            level.rounds,
            warmup=level.warmup,
        )
        if algo in DQN_FAMILY:
            return [result, _learner(TITLES[algo], ours, peer, level, device)]
        learner = _actor_critic_learner(algo, ours, peer, result, level, device)
        games = _games_alone(algo, ours, peer, level, device)  # last: it moves the games on without the models
        if not games.void:
            learner.notes["with_games"] = _in_turn(result, learner, games)
        return [result, learner, games]
    finally:
        ours.close()
        peer.get_env().close()


def _actor_critic_learner(algo: str, ours: Any, peer: Any, training: Figure, level: Level, device: str) -> Figure:
    """The ceiling of PPO's or A2C's training speed on this machine: their training with games that cost nothing,
    as environment steps per second. One round is ``level.updates`` whole rollouts and updates, each side with
    SB3's own ``collect_rollouts`` (acting, one forward per step on all envs; the rollout buffer; the bootstrap value
    and the returns) on one rollout of its own games recorded beforehand and handed back at no cost
    (``playground.bench.replayed``), then the update (PPO: its epochs of minibatches; A2C: one gradient step). Ours
    in its number format and, in the notes, in float32; the training figure's speeds as fractions of our
    ceiling."""
    from agents.sb3 import FrameFeatures

    ours_model = ours.model
    extractors = [m for m in ours_model.policy.modules() if isinstance(m, FrameFeatures)]
    ours_games, peer_games = (replayed.record(model.get_env(), model.n_steps) for model in (ours_model, peer))

    def work(model: Any, games: replayed.ReplayedGames, updates: int) -> int:
        with replayed.playing(model, games) as callback:
            for _ in range(updates):
                model.collect_rollouts(games, callback, model.rollout_buffer, model.n_steps)
                model.train()
        return updates * model.n_steps * model.n_envs

    def round_of(model: Any, games: replayed.ReplayedGames) -> Any:
        return lambda: per_second(lambda: work(model, games, level.updates), device)

    ours_round = round_of(ours_model, ours_games)
    figure = Figure("rl", f"{TITLES[algo]} learner alone (acting and updates, games that cost nothing), "
                    f"{ours.n_envs} envs", "steps/s", "SB3's own rollouts and updates on recorded games")
    alternate(figure, ours_round, round_of(peer, peer_games), level.rounds, warmup=level.warmup)
    figure.notes["precision"] = "bfloat16" if any(e.bfloat16 for e in extractors) else "float32"
    if figure.notes["precision"] != "float32":  # the same work with every extractor in float32
        for extractor in extractors:
            extractor.bfloat16 = False
        try:
            figure.notes["float32"] = [ours_round() for _ in range(level.rounds)]
        finally:
            for extractor in extractors:
                extractor.bfloat16 = True
    ceiling = figure.ours_median
    figure.notes["ceiling"] = {"ours": training.ours_median / ceiling, "peer": training.peer_median / ceiling}
    figure.notes["arithmetic"] = arithmetic_notes(lambda: work(ours_model, ours_games, 1),
                                                  lambda: work(peer, peer_games, 1),
                                                  figure.notes["precision"], device)
    figure.notes["kernels"] = kernels_of(ours_model.train)  # one update (PPO: its epochs of minibatches)
    return figure


def _games_alone(algo: str, ours: Any, peer: Any, level: Level, device: str) -> Figure:
    """The training figure's games alone: each side's own vector env (ours the fast ALE env, the peer the Zoo's
    wrappers) stepped with random actions as fast as it goes, no network. What training spends on the games at
    the least; with the learner's figure it gives the ceiling with the games (:func:`_in_turn`)."""

    def round_of(env: Any) -> Any:
        work = stepping(env, max(1, level.steps[algo] // env.num_envs), 0)
        return lambda: per_second(work, device)

    figure = Figure("rl", f"{TITLES[algo]}'s games alone (random actions, no network), {ours.n_envs} envs",
                    "steps/s", "the Zoo's AtariWrapper, DummyVecEnv and VecFrameStack 4")
    return alternate(figure, round_of(ours.model.env), round_of(peer.get_env()), level.rounds, warmup=level.warmup)


def _in_turn(training: Figure, learner: Figure, games: Figure) -> dict[str, Any]:
    """The ceiling with the games: PPO and A2C act on what the games return and the games step on what acting
    chose, and each of the two uses every core while it runs, so at best they take turns without waiting: a step
    costs the learner's time plus the games'. That speed for each side, ours against the peer's training and against
    the peer's own (which does not move with how close the peer's training came to it that round), and each side's
    training as a fraction of its own."""
    ours = 1 / (1 / learner.ours_median + 1 / games.ours_median)
    peer = 1 / (1 / learner.peer_median + 1 / games.peer_median)
    return {"ours": ours, "peer": peer, "over_peer": ours / training.peer_median, "over_bound": ours / peer,
            "trained": {"ours": training.ours_median / ours, "peer": training.peer_median / peer}}


def _learner(title: str, ours: Any, peer: Any, level: Level, device: str) -> Figure:
    """Gradient steps alone on both sides, reported as the environment steps per second they would allow: ours
    (``title``: our DQN with the Zoo's settings, or our Rainbow) against SB3's DQN."""
    from playground import threads

    gradient_steps = level.gradient_steps

    def ours_steps(n: int) -> int:
        total = ours.step + 10**9  # a far horizon: the schedules stay where they are
        with threads.at_most(None):
            for _ in range(n):
                ours._gradient_step(total)
        return n * TRANSITIONS_PER_GRADIENT_STEP

    def peer_steps(n: int) -> int:
        peer.train(gradient_steps=n, batch_size=peer.batch_size)
        return n * TRANSITIONS_PER_GRADIENT_STEP

    result = Figure("rl", f"{title} learner alone on {ENV_ID}: batch 32, 1 gradient step per 4 steps", "steps/s",
                    "SB3's DQN train() with the Zoo's settings")
    result.notes["precision"] = ours.precision.name
    s = ours.settings
    result.notes["improvements"] = [name for name, on in (
        ("double", s.double), ("dueling", s.dueling), ("prioritized", s.prioritized), ("n_step", s.n_step > 1),
        ("noisy", s.noisy), ("distributional", s.distributional)) if on]
    alternate(result, lambda: per_second(lambda: ours_steps(gradient_steps), device),
              lambda: per_second(lambda: peer_steps(gradient_steps), device), level.rounds, warmup=level.warmup)
    result.notes["arithmetic"] = arithmetic_notes(lambda: ours_steps(1), lambda: peer_steps(1),
                                                  result.notes["precision"], device)
    result.notes["kernels"] = kernels_of(lambda: ours_steps(min(gradient_steps, KERNEL_GRADIENT_STEPS)))
    return result


def run(level: str, device: str) -> Iterator[Figure]:
    """Each figure as soon as it is measured (the CLI shows it then: the whole suite takes minutes)."""
    chosen = level_of(LEVELS, level)
    for algo in chosen.algos:
        yield from figures(algo, chosen, device)
