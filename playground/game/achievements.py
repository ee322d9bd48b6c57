"""Badges for milestones, each found in the store's events and earned once per player.

They pay no XP (XP comes only from verified results); they mark the steps on the way. Each rule
below returns, per player, the earliest piece of evidence that earns the badge.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from playground.game import reference
from playground.game.catalogue import COLLECTED_GANS, DEEP_RL_FAMILIES, RL_FAMILIES, algorithm_of
from playground.game.evidence import Attempt, Evidence, RunInfo


@dataclass(frozen=True)
class Achievement:
    id: str
    icon: str
    name: Mapping[str, str]
    text: Mapping[str, str]


def _a(id: str, icon: str, en: str, zh: str, text_en: str, text_zh: str) -> Achievement:
    return Achievement(id, icon, {"en": en, "zh": zh}, {"en": text_en, "zh": text_zh})


ACHIEVEMENTS: tuple[Achievement, ...] = (
    _a("first-run", "🚀", "Lift-off", "起飞", "Started your first training run.", "开始了你的第一次训练。"),
    _a("first-finish", "🏁", "All the way", "坚持到底", "A training run of yours ran all its steps.", "你的一次训练跑完了全部步数。"),
    _a("beats-random", "🎲", "Better than chance", "胜过随机",
       "An agent of yours beat random play in a verified evaluation (mean − std above the random score).",
       "你的智能体在一次经过验证的评估中胜过随机操作（平均分减标准差高于随机得分）。"),
    _a("atari", "👾", "Into the arcade", "走进街机厅", "Trained an agent on an Atari game.", "在 Atari 游戏上训练了一个智能体。"),
    _a("three-algorithms", "🧪", "Three ways to learn", "三种学法",
       "Trained three different algorithms on the same game.", "在同一个游戏上训练了三种不同的算法。"),
    _a("every-algorithm", "🧰", "The whole toolbox", "全套工具",
       "Trained DQN, PPO, A2C and A3C.", "DQN、PPO、A2C 和 A3C 都训练过了。"),
    _a("resumed", "🔁", "Picked up where you left off", "接着练",
       "Resumed a run after it stopped (or trained a finished one further).", "在一次训练停止（或结束）后把它继续了下去。"),
    _a("compared-five", "📊", "Side by side", "同台比较",
       "Compared a run with five others in one picture.", "把一次训练和另外五次放在同一张图里比较。"),
    _a("first-samples", "🖼️", "First samples", "第一批样本",
       "A GAN run of yours saved its first sample grid.", "你的 GAN 训练保存了第一张样本网格图。"),
    _a("every-gan", "🎨", "Generator collection", "生成器收藏家",
       "Trained DCGAN, conditional DCGAN, pix2pix and CycleGAN.", "DCGAN、条件 DCGAN、pix2pix 和 CycleGAN 都训练过了。"),
    _a("latent-walk", "🧭", "Latent walker", "潜空间漫步者",
       "Walked a generator's latent space by hand: from one sample to another, or a − b + c.",
       "亲手在生成器的潜空间里行走：从一个样本走到另一个，或者做 a − b + c。"),
    _a("gpu", "⚡", "Full power", "火力全开", "Trained a model on a GPU.", "在 GPU 上训练了一个模型。"),
    _a("player-one", "🕹️", "Player one", "一号玩家", "Played a whole game yourself.", "亲自玩完了一整局游戏。"),
    _a("duel-won", "🥊", "Human 1, machine 0", "人类 1 比 0 机器", "Won a duel against an agent.", "在对决中战胜了一个智能体。"),
    _a("first-challenge", "🏅", "First challenge", "首个挑战", "Met your first challenge.", "完成了你的第一个挑战。"),
    _a("human-level", "🧠", "Human level", "人类水平",
       "A verified evaluation at or above the human reference score of an Atari game.",
       "一次经过验证的评估达到或超过了某个 Atari 游戏的人类参考分数。"),
)
BY_ID = {a.id: a for a in ACHIEVEMENTS}

# (player, when, evidence)
Found = tuple[str, float, dict[str, Any]]


def _first_start(info: RunInfo) -> float | None:
    if info.started_events:
        return float(info.started_events[0]["created_at"])
    return info.run.created_at if info.run.status != "created" else None


def _started_runs(ev: Evidence) -> list[tuple[RunInfo, float]]:
    out = [(info, t) for info in ev.infos.values() if (t := _first_start(info)) is not None and not info.imported]
    return sorted(out, key=lambda x: x[1])


def _run_evidence(info: RunInfo, **extra: Any) -> dict[str, Any]:
    return {"run_id": info.run.id, "algo": info.run.algo, "env": info.run.env, **extra}


def _first_run(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    return [(info.owner, t, _run_evidence(info)) for info, t in _started_runs(ev)]


def _first_finish(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    out = []
    for info in ev.infos.values():
        for event in ev.run_events.get(info.run.id, []):
            if event["kind"] == "run_finished" and not info.imported:
                out.append((info.owner, event["created_at"], _run_evidence(info, event_id=event["id"])))
    return out


def _verified_rl(ev: Evidence) -> list[Attempt]:
    return [a for a in ev.attempts if a.kind == "rl" and a.verified]


def _beats_random(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    out = []
    for attempt in _verified_rl(ev):
        random = reference.random_score(attempt.env or "", attempt.game)
        score = attempt.metrics["score"]
        if random is not None and math.isfinite(score) and score > random:
            out.append((attempt.player, attempt.created_at, {**attempt.evidence(), "random": random}))
    return out


def _atari(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    return [
        (info.owner, t, _run_evidence(info))
        for info, t in _started_runs(ev)
        if info.run.kind == "rl" and (info.run.env.startswith("ALE/") or reference.atari_row(info.run.game) is not None)
    ]


def _algorithms(ev: Evidence, needed: int | None, per_game: bool, kind: str, names: tuple[str, ...]) -> list[Found]:
    seen: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # (player, game or "") -> algo -> run id
    out = []
    for info, t in _started_runs(ev):
        algo = algorithm_of(info.run.algo)  # SB3's DQN and ours are one algorithm
        if info.run.kind != kind or algo not in names:
            continue
        key = (info.owner, info.run.game if per_game else "")
        algos = seen[key]
        if algo in algos:
            continue
        algos[algo] = info.run.id
        if len(algos) == (needed or len(names)):
            evidence = {"runs": dict(algos)}
            if per_game:
                evidence["game"] = info.run.game
            out.append((info.owner, t, evidence))
    return out


def _resumed(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    out = []
    for info in ev.infos.values():
        previous = None
        for event in ev.run_events.get(info.run.id, []):
            if event["kind"] == "run_started" and previous in ("run_stopped", "run_failed", "run_finished"):
                out.append((info.owner, event["created_at"], _run_evidence(info, event_id=event["id"])))
            if event["kind"] in ("run_started", "run_stopped", "run_failed", "run_finished"):
                previous = event["kind"]
    return out


def _compared_five(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    out = []
    for event in ev.events:
        if event["kind"] != "runs_compared":
            continue
        runs = [r for r in event["payload"].get("runs") or [] if isinstance(r, str)]
        if len(set(runs)) < 6:
            continue
        player = event["payload"].get("player") or ev.owner(runs[0])
        if isinstance(player, str):
            out.append((player, event["created_at"], {"event_id": event["id"], "runs": runs}))
    return out


def _first_samples(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    out = []
    for kind in ("samples", "sample"):
        for art in ev.store.artifacts(None, kind):
            info = ev.infos.get(art.run_id)
            if info is not None and info.run.kind == "gan":
                out.append((info.owner, art.created_at, _run_evidence(info, path=art.path, step=art.step)))
    return out


def _latent_walk(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    out = []
    for event in ev.events:
        payload = event["payload"]
        if event["kind"] != "latent_steered" or payload.get("how") not in ("walk", "interpolate", "arithmetic"):
            continue
        run_id = payload.get("run")
        player = payload.get("player") or (ev.owner(run_id) if isinstance(run_id, str) else None)
        if isinstance(player, str):
            out.append((player, event["created_at"], {"event_id": event["id"], "run": run_id, "how": payload["how"]}))
    return out


def _gpu(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    out = []
    for info in ev.infos.values():
        for event in info.started_events:
            device = event["payload"].get("device")
            if isinstance(device, str) and device.startswith("cuda"):
                out.append((info.owner, event["created_at"], _run_evidence(info, device=device, event_id=event["id"])))
    return out


def _player_one(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    return [(a.player, a.created_at, a.evidence()) for a in ev.attempts if a.kind == "human" and a.verified]


def _duel_won(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    return [
        (a.player, a.created_at, {**a.evidence(), **a.extra})
        for a in ev.attempts
        if a.kind == "duel" and a.verified and a.metrics.get("duels_won")
    ]


def _first_challenge(_ev: Evidence, awards: Iterable[dict[str, Any]]) -> list[Found]:
    return [
        (a["payload"]["player"], a["created_at"], {"challenge": a["payload"].get("challenge"), "award_event_id": a["id"]})
        for a in awards
    ]


def _human_level(ev: Evidence, _awards: Iterable[dict[str, Any]]) -> list[Found]:
    return [
        (a.player, a.created_at, a.evidence())
        for a in _verified_rl(ev)
        if a.n >= 10 and (hn := a.human_normalised) is not None and hn >= 1.0
    ]


RULES: dict[str, Callable[[Evidence, Iterable[dict[str, Any]]], list[Found]]] = {
    "first-run": _first_run,
    "first-finish": _first_finish,
    "beats-random": _beats_random,
    "atari": _atari,
    "three-algorithms": lambda ev, _aw: _algorithms(ev, 3, True, "rl", RL_FAMILIES),
    "every-algorithm": lambda ev, _aw: _algorithms(ev, None, False, "rl", DEEP_RL_FAMILIES),
    "resumed": _resumed,
    "compared-five": _compared_five,
    "first-samples": _first_samples,
    "every-gan": lambda ev, _aw: _algorithms(ev, None, False, "gan", COLLECTED_GANS),
    "latent-walk": _latent_walk,
    "gpu": _gpu,
    "player-one": _player_one,
    "duel-won": _duel_won,
    "first-challenge": _first_challenge,
    "human-level": _human_level,
}


def earned(ev: Evidence, awards: Iterable[dict[str, Any]]) -> dict[tuple[str, str], tuple[float, dict[str, Any]]]:
    """(achievement id, player) → (when, evidence) of the earliest evidence, for every badge earned."""
    awards = list(awards)
    out: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
    for achievement_id, rule in RULES.items():
        for player, when, evidence in rule(ev, awards):
            key = (achievement_id, player)
            if key not in out or when < out[key][0]:
                out[key] = (when, evidence)
    return out
