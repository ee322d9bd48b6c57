"""The game: the catalogue, verified results, XP once and only once, tiers, the next step, leaderboards,
badges, profiles and the CLI.

Runs are tiny real CartPole trainings. Where a test needs a result that a CPU test cannot train to,
it adds an evaluation row through ``Store.add_evaluation`` for the real run's real checkpoint (with
the hash the playground would record), then checks that the game counts it or refuses it for the
right reason. GAN results are written as the ``gan eval`` contract says (no tiny GAN path measures
FD within a test's time), and one GPU ``run_started`` event stands in for a GPU this machine lacks.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from playground import runs
from playground.store import file_sha256, get_store

TINY_PPO = ("--set", "n_steps=64", "--set", "batch_size=64")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Any:
    """Tiny runs train in about a second on one thread; torch's default pool spins on a busy 2-core machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _player(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test starts as the same default player, whatever the machine's login name (conftest puts the
    language back to English after each)."""
    monkeypatch.delenv("PLAYGROUND_CHALLENGES", raising=False)
    monkeypatch.setenv("PLAYGROUND_PLAYER", "ada")
    yield


# -- helpers -----------------------------------------------------------------------------------------
def tiny_run(cli: Any, algo: str = "ppo", steps: int = 256, *extra: str) -> str:
    """A real CartPole run with one 1-game evaluation (which counts for nothing: fewer than 10 games)."""
    args = ["rl", "train", algo, "CartPole-v1", "--steps", str(steps), "--envs", "1", "--eval-episodes", "1",
            "--eval-every", str(steps), *(TINY_PPO if algo == "ppo" else ()), *extra]
    result = cli(*args)
    assert result.code == 0, result.err
    return result.out.splitlines()[0].strip()


def checkpoint(run_id: str) -> tuple[int, Path]:
    return runs.pick_checkpoint(runs.get(run_id), "latest")


def add_eval(run_id: str, scores: list[float], *, step: int | None = None, sha256: Any = "real",
             path: Path | None = None) -> Any:
    """An evaluation row of the run's real checkpoint, as `rl eval` writes it (the hash of the file)."""
    ck_step, ck_path = checkpoint(run_id)
    path = path or ck_path
    return get_store().add_evaluation(
        run_id, step=ck_step if step is None else step, scores=scores, mean=float(np.mean(scores)),
        std=float(np.std(scores)), checkpoint=str(path), seed=0,
        checkpoint_sha256=file_sha256(path) if sha256 == "real" else sha256,
    )


def game(**kw: Any) -> Any:
    from playground.game import Game

    return Game(**kw)


def awards(player: str | None = None) -> list[dict[str, Any]]:
    return [e["payload"] for e in get_store().events("award") if player is None or e["payload"]["player"] == player]


def as_json(cli: Any, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def one_sentence(result: Any) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    text = result.err.strip()
    assert text.startswith("error:") and "\n" not in text and "Traceback" not in result.err, result.err


def store_rows() -> dict[str, list[str]]:
    from sqlalchemy import select

    from playground.store import metadata

    with get_store().engine.connect() as conn:
        return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t)).all()) for t in metadata.sorted_tables}


def _texts(en: str, zh: str = "测试") -> dict[str, str]:
    return {"en": en, "zh": zh}


def rl(cid: str, tier: str, threshold: float, xp: int, **constraints: Any) -> dict[str, Any]:
    return {"id": cid, "tier": tier, "kind": "rl", "title": _texts(cid), "description": _texts(f"{cid} text"),
            "envs": ["CartPole-v1"], "metric": "score", "op": ">=", "threshold": threshold, "xp": xp,
            "constraints": constraints, "commands": ["playground rl train ppo CartPole-v1"]}


TEST_CATALOGUE = {
    "tiers": [
        {"id": "one", "name": _texts("Getting started", "入门"), "description": _texts("first"), "xp": 0, "requires": []},
        {"id": "two", "name": _texts("Going deeper", "进阶"), "description": _texts("second"), "xp": 100,
         "requires": ["cp-ppo-100"]},
        {"id": "three", "name": _texts("Professional", "专业"), "description": _texts("third"), "xp": 200,
         "requires": ["cp-400"]},
    ],
    "challenges": [
        rl("cp-easy", "one", -100, 60),  # the lowered threshold any real evaluation of 10 games meets
        rl("cp-ppo-100", "one", 100, 60, algos=["ppo"], max_steps=1000),
        {"id": "pong-once", "tier": "one", "kind": "human", "title": _texts("Play"), "description": _texts("Play it"),
         "envs": ["ALE/Pong-v5"], "metric": "games", "op": ">=", "threshold": 1, "xp": 25,
         "commands": ["playground play ALE/Pong-v5"]},
        rl("cp-400", "two", 400, 100),
        rl("cp-fast", "two", -100, 10, max_wall_time_s=0.001),
    ],
}


@pytest.fixture
def test_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(TEST_CATALOGUE, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("PLAYGROUND_CHALLENGES", str(path))
    return path


# -- the catalogue -------------------------------------------------------------------------------------
def test_the_shipped_catalogue_is_complete_and_matches_the_reference() -> None:
    import agents
    from playground.game import achievements, catalogue, reference

    cat = catalogue.load()
    assert len(cat.challenges) >= 25
    assert [t.name["zh"] for t in cat.tiers] == ["入门", "进阶", "专业", "泰斗"]
    assert [t.name["en"] for t in cat.tiers] == ["Getting started", "Going deeper", "Professional", "Master"]
    assert [t.xp for t in cat.tiers] == sorted({t.xp for t in cat.tiers}) and cat.tiers[0].xp == 0
    for tier in cat.tiers:
        assert cat.in_tier(tier.id), f"tier {tier.id} has no challenge"
        assert all(cat.get(r).tier == cat.tiers[tier.index - 1].id for r in tier.requires)
    assert all(t.requires for t in cat.tiers[1:])
    assert tuple(catalogue.RL_ALGOS) == tuple(agents.names())
    used = {a for c in cat.challenges for a in c.constraints.algos}
    assert {catalogue.algorithm_of(a) for a in agents.names()} | set(catalogue.GAN_MODELS) <= used
    assert {c.kind for c in cat.challenges} == {"rl", "gan", "human"}
    assert any(c.metric == "duels_won" for c in cat.challenges)
    for c in cat.challenges:
        for texts in (c.title, c.description):
            assert texts["en"] and texts["zh"] and any("\u4e00" <= ch <= "\u9fff" for ch in texts["zh"]), c.id
        if c.kind == "rl":
            assert c.constraints.min_games >= 10
        if c.kind == "gan" and c.metric != "constraints_compared":  # a comparison has no threshold to measure
            assert c.provisional, f"{c.id}: GAN thresholds stay provisional until measured"
    # Thresholds named after the reference numbers are those numbers (read straight from the CSV here).
    csv_path = Path(reference.__file__).parent / "atari_scores.csv"
    rows = {r.split(",")[0]: r.split(",") for r in csv_path.read_text().splitlines() if r and not r.startswith("#")}
    header = rows.pop("game")
    atari = {g: dict(zip(header, v)) for g, v in rows.items()}
    by_id = {c.id: c for c in cat.challenges}
    assert by_id["pong-human-ppo"].threshold == float(atari["Pong"]["human"]) == 9.3
    assert by_id["breakout-human"].threshold == float(atari["Breakout"]["human"]) == 31.8
    assert by_id["pong-nature-dqn"].threshold == float(atari["Pong"]["nature_dqn"]) == 18.9
    assert by_id["cartpole-ppo"].threshold == 475 and by_id["lunarlander-ppo"].threshold == 200
    assert by_id["pong-beat-cpu"].op == ">" and by_id["pong-beat-cpu"].threshold == 0
    assert by_id["a3c-speedrun"].constraints.max_wall_time_s and by_id["a3c-speedrun"].constraints.algos == ("a3c",)
    sourced = [c for c in cat.challenges if c.threshold_source]
    assert len(sourced) >= 15
    for c in sourced:
        s = c.threshold_source
        assert c.threshold == reference.value(s["table"], s["row"], s["column"]), c.id
    assert "Mnih et al. 2015" in csv_path.read_text()  # the copy keeps its sources
    # Every badge has a rule and both languages.
    assert set(achievements.RULES) == set(achievements.BY_ID)
    for badge in achievements.ACHIEVEMENTS:
        assert badge.icon and badge.name["zh"] and badge.text["zh"] and badge.text["en"]


def test_the_suggested_commands_can_meet_their_challenges() -> None:
    """Each RL challenge's command trains the right algorithm on its game within its step budget."""
    from agents import presets
    from playground import envs
    from playground.game import catalogue
    from playground.game.catalogue import one_improvement_apart, setting_of
    from playground.numbers import parse_steps

    for c in catalogue.load().challenges:
        train = c.commands[0].split()
        if c.kind == "rl":
            assert train[:3] == ["playground", "rl", "train"], c.id
            algo, env = train[3], train[4]
            assert env in c.envs and (not c.constraints.algos or algo in c.constraints.algos), c.id
            preset = train[train.index("--preset") + 1] if "--preset" in train else None
            steps = parse_steps(train[train.index("--steps") + 1]) if "--steps" in train else None
            steps = steps or presets.pick(algo, envs.resolve(env), preset).steps
            assert c.constraints.max_steps is None or steps <= c.constraints.max_steps, (c.id, steps)
            hyperparameters = presets.pick(algo, envs.resolve(env), preset).hyperparameters
            assert all(setting_of(hyperparameters, k) == v for k, v in c.constraints.settings), c.id
            if c.metric == "compared":  # an ablation: a second run one improvement apart, then both side by side
                again = c.commands[1].split()
                assert again[:5] == train[:5] and again[again.index("--seed") + 1] == train[train.index("--seed") + 1]
                other = presets.pick(algo, envs.resolve(env), again[again.index("--preset") + 1]).hyperparameters
                assert one_improvement_apart(hyperparameters, other) is not None, c.id
                assert c.commands[-1].startswith("playground runs compare")
            else:
                evaluate = c.commands[-1].split()
                assert c.commands[-1].startswith("playground rl eval") and "--episodes" in evaluate, c.id
                assert int(evaluate[evaluate.index("--episodes") + 1]) >= c.constraints.min_games, c.id
        elif c.kind == "gan":
            assert train[:5] == ["playground", "gan", "train", c.constraints.algos[0], c.datasets[0]], c.id
            if c.metric == "constraints_compared":  # clipping, then the penalty on the same seed, then both side by side
                again = c.commands[1].split()
                assert again[:5] == train[:5] and again[again.index("--preset") + 1] == "gp"
                assert again[again.index("--seed") + 1] == train[train.index("--seed") + 1] and "--preset" not in train
                assert sum(line.startswith("playground gan eval") for line in c.commands) == 2
                assert c.commands[-1].startswith("playground runs compare")
            else:
                assert c.commands[-1].startswith("playground gan eval")
        else:
            assert train[:2] == ["playground", "play"] or train[:2] == ["playground", "duel"], c.id


def _broken(change: Any) -> dict[str, Any]:
    from playground.game import catalogue

    data = yaml.safe_load(catalogue.CATALOGUE.read_text(encoding="utf-8"))
    change(data)
    return data


def _challenge(data: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in data["challenges"] if c["id"] == cid)


@pytest.mark.parametrize("change,words", [
    (lambda d: _challenge(d, "cartpole-ppo").update(metric="reward"), "unknown metric 'reward'"),
    (lambda d: _challenge(d, "cartpole-ppo")["title"].pop("zh"), "no zh translation"),
    (lambda d: _challenge(d, "cartpole-ppo")["description"].update(zh="PPO solves it"), "no Chinese characters"),
    (lambda d: _challenge(d, "cartpole-ppo").update(envs=["CartPol-v1"]), "unknown environment 'CartPol-v1'"),
    (lambda d: _challenge(d, "cartpole-ppo")["constraints"].update(algos=["sac"]), "unknown algorithm 'sac'"),
    (lambda d: _challenge(d, "pong-human-ppo").update(threshold=9.0), "differs from the reference number 9.3"),
    (lambda d: _challenge(d, "cartpole-ppo")["constraints"].update(min_games=5), "at least 10"),
    (lambda d: _challenge(d, "cartpole-ppo").update(op="<="), "better when higher"),
    (lambda d: _challenge(d, "mnist-dcgan").update(datasets=["mnist-50k"]), "unknown dataset 'mnist-50k'"),
    (lambda d: d["tiers"][2]["requires"].append("cartpole-ppo"), "not in the tier below"),
    (lambda d: d["challenges"].append(copy.deepcopy(d["challenges"][0])), "used twice"),
    (lambda d: _challenge(d, "cartpole-ppo").update(treshold=3), "unknown field 'treshold'"),
    (lambda d: d["tiers"][0]["first_rung"].append("lunarlander-ppo"), "not a challenge of this tier"),
    (lambda d: _challenge(d, "frozenlake-first-steps").update(envs=["FrozenLake-v1,slippery=False"]),
     "no setting called slippery"),
    (lambda d: _challenge(d, "frozenlake-first-steps").update(envs=["FrozenLake-v1,is_slippery=false"]),
     "as runs store it: 'FrozenLake-v1,is_slippery=False'"),
    (lambda d: _challenge(d, "frozenlake-slippery").update(envs=["FrozenLake-v1,map_name=4x4"]),
     "as runs store it: 'FrozenLake-v1'"),
    (lambda d: _challenge(d, "taxi-pass").update(threshold=5), "differs from the reference number 4.5"),
])
def test_catalogue_mistakes_are_refused(change: Any, words: str) -> None:
    from playground.game import catalogue

    with pytest.raises(catalogue.CatalogueError, match=words.replace("(", r"\(")):
        catalogue.parse(_broken(change))


def test_a_broken_class_catalogue_is_one_sentence_on_the_cli(cli: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "class.yaml"
    bad.write_text(yaml.safe_dump(_broken(lambda d: _challenge(d, "cartpole-ppo").update(metric="reward"))))
    monkeypatch.setenv("PLAYGROUND_CHALLENGES", str(bad))
    result = cli("challenges")
    one_sentence(result)
    assert "cartpole-ppo" in result.err and "reward" in result.err


# -- verified results, once ------------------------------------------------------------------------
def test_a_real_run_meets_a_lowered_challenge_once_and_only_once(cli: Any, test_catalogue: Path) -> None:
    run_id = tiny_run(cli)
    detail = as_json(cli, "challenge", "cp-easy")
    assert detail["status"] == "attempted" and detail["award"] is None
    assert any("1 game" in " ".join(a["why"]) for a in detail["not_counted"])  # training's 1-game evaluation
    assert as_json(cli, "profile")["xp"] == 0

    result = cli("rl", "eval", run_id, "--episodes", "10")  # real whole games
    assert result.code == 0, result.err
    assert "ada earned" in result.err and "cp-easy (+60 XP)" in result.err
    [award] = awards("ada")
    evaluation = get_store().evaluations(run_id)[-1]
    step, path = checkpoint(run_id)
    assert award["challenge"] == "cp-easy" and award["xp"] == 60
    assert award["evidence"] == {**award["evidence"], "run_id": run_id, "evaluation_id": evaluation.id,
                                 "checkpoint": str(path), "checkpoint_sha256": file_sha256(path), "step": step, "n": 10}
    assert award["value"] == pytest.approx(np.mean(evaluation.scores) - np.std(evaluation.scores))

    again = cli("rl", "eval", run_id, "--episodes", "10")  # evaluating twice does not pay twice
    assert again.code == 0 and "cp-easy" not in again.err
    assert as_json(cli, "profile")["xp"] == 60
    assert len(awards()) == 1
    from playground.game import sync

    assert not sync()  # nothing new
    # Two games that read the store before either records: the second finds the award already there.
    add_eval(run_id, [500.0] * 10)
    first, second = game(sync=False), game(sync=False)
    assert {a["challenge"] for a in first.sync().awards} == {"cp-ppo-100", "cp-400"}
    assert second.sync().awards == []
    assert [a["challenge"] for a in awards()].count("cp-ppo-100") == 1


def test_only_verified_results_within_the_constraints_count(cli: Any, home: Path) -> None:
    """Against the shipped catalogue: CartPole with PPO, at least 475 within 100k steps, 10 games."""
    run_id = tiny_run(cli)
    _, path = checkpoint(run_id)
    store = get_store()
    perfect = [500.0] * 10
    add_eval(run_id, perfect, sha256=None)  # no hash recorded
    add_eval(run_id, perfect[:9])  # 9 games
    add_eval(run_id, perfect, step=200_000)  # claims a step past the budget and past its checkpoint
    # Editing config.yaml (or the run folder) changes nothing the game reads.
    config = Path(runs.get(run_id).folder) / "config.yaml"
    config.write_text(config.read_text().replace("algo: ppo", "algo: dqn"))
    # A checkpoint swapped on disk before `rl eval` (then put back): its hash is not the one training wrote.
    original = path.read_bytes()
    path.write_bytes(original + b"\0")
    add_eval(run_id, perfect)
    path.write_bytes(original)
    # A file the run never wrote, evaluated as if it were its checkpoint.
    stranger = path.with_name("stranger.zip")
    stranger.write_bytes(original)
    add_eval(run_id, perfect, path=stranger)

    g = game()
    assert g.report.awards == [] and g.xp("ada") == 0, json.dumps(g.report.awards)
    why = " | ".join("; ".join(a["why"]) for a in g.challenge("cartpole-ppo", "ada")["not_counted"])
    for words in ("no checkpoint hash", "9 game(s)", "claims step 200,000", "not the checkpoint",
                  "over the 100,000-step budget", "stranger.zip is not a checkpoint that run"):
        assert words in why, (words, why)
    # Right run, wrong algorithm: the store's run row says ppo, whatever config.yaml says now. The DQN card
    # says why the PPO run does not count, but a PPO run is no try at DQN: "not tried yet", not "attempted".
    dqn = g.challenge("cartpole-dqn", "ada")
    assert dqn["not_counted"] and all("trained with ppo" in " ".join(a["why"]) for a in dqn["not_counted"])
    assert dqn["status"] == "open"
    assert g.challenge("cartpole-ppo", "ada")["status"] == "attempted"  # its own algorithm, short of the rules
    statuses = {c["id"]: c["status"] for c in g.cards("ada")}
    assert statuses["cartpole-a2c"] == statuses["cartpole-a3c"] == statuses["lunarlander-ppo"] == "open"
    assert as_json(cli, "leaderboard", "CartPole")["agents"] == []

    good = add_eval(run_id, perfect)
    g = game()
    assert {a["challenge"] for a in g.report.awards} == {"cartpole-first-pass", "cartpole-ppo"}
    assert "cartpole-dqn" not in {a["challenge"] for a in g.report.awards}
    assert g.xp("ada") == 125
    [entry] = as_json(cli, "leaderboard", "CartPole")["agents"]
    assert (entry["run_id"], entry["evaluation_id"], entry["result"], entry["games"]) == (run_id, good.id, 500.0, 10)
    assert entry["checkpoint_sha256"] == file_sha256(path)

    # Tampering with the checkpoint afterwards: the evaluation no longer counts anywhere...
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    tampered = game()
    assert tampered.report.awards == []
    assert as_json(cli, "leaderboard", "CartPole")["agents"] == []
    reason = " ".join(a["why"][0] for a in tampered.challenge("cartpole-ppo", "ada")["not_counted"][:1])
    assert "has changed since it was evaluated" in reason
    # ... but XP already earned stays, even when the run is deleted.
    assert cli("runs", "delete", run_id, "--yes").code == 0
    assert as_json(cli, "profile")["xp"] == 125
    assert len(store.events("award")) == 2


def test_the_dqn_improvements_known_to_the_game_are_our_dqns_defaults() -> None:
    from agents.dqn import DQNSettings
    from playground.game.catalogue import DQN_COMPANIONS, DQN_IMPROVEMENTS

    defaults = DQNSettings()
    assert DQN_IMPROVEMENTS == {name: getattr(defaults, name) for name in DQN_IMPROVEMENTS}
    assert {k for names in DQN_COMPANIONS.values() for k in names} <= set(DQNSettings.model_fields)


def test_one_improvement_apart_names_the_one_difference() -> None:
    from playground.game.catalogue import one_improvement_apart

    nature = {"learning_rate": 0.0023, "net_arch": [256, 256]}
    assert one_improvement_apart(nature, {**nature, "double": True}) == "double"
    assert one_improvement_apart({**nature, "double": False}, nature) is None  # the default, written out
    assert one_improvement_apart(nature, {**nature, "double": True, "dueling": True}) is None  # two
    assert one_improvement_apart(nature, {**nature, "double": True, "learning_rate": 0.001}) is None  # and more
    assert one_improvement_apart(nature, {**nature, "prioritized": True, "alpha": 0.6}) == "prioritized"
    noisy = {**nature, "noisy": True, "exploration_initial_eps": 0.0, "exploration_final_eps": 0.0}
    assert one_improvement_apart(nature, noisy) == "noisy"
    assert one_improvement_apart({**noisy, "n_step": 3}, {**noisy, "n_step": 1}) == "n_step"


def test_two_runs_one_improvement_apart_meet_the_ablation_and_settings_pick_rainbow(cli: Any, home: Path) -> None:
    """Against the shipped catalogue. dqn-ablation: the nature and double presets on CartPole with one seed, each
    evaluated over 10 games at the same step; a run two improvements away, or on another seed, is no twin.
    cartpole-rainbow: only the run trained with all six improvements counts, and the others say which setting."""
    nature = tiny_run(cli, "dqn", 256, "--preset", "nature", "--seed", "3")
    other_seed = tiny_run(cli, "dqn", 256, "--preset", "double", "--seed", "4")
    two_apart = tiny_run(cli, "dqn", 256, "--preset", "double", "--seed", "3", "--set", "dueling=true")
    g = game()
    assert "dqn-ablation" not in {a["challenge"] for a in g.report.awards}  # no evaluation of 10 games yet
    for run_id in (nature, other_seed, two_apart):
        add_eval(run_id, [100.0 + i for i in range(10)])
    g = game()
    assert "dqn-ablation" not in {a["challenge"] for a in g.report.awards}

    double = tiny_run(cli, "dqn", 256, "--preset", "double", "--seed", "3")
    add_eval(double, [120.0] * 10)
    g = game()
    [award] = [a for a in g.report.awards if a["challenge"] == "dqn-ablation"]
    assert award["evidence"]["run_id"] in (nature, double)
    shown = g.challenge("dqn-ablation", "ada")
    assert shown["status"] == "met"

    rainbow = tiny_run(cli, "dqn", 256, "--preset", "rainbow")
    add_eval(rainbow, [500.0] * 10)
    add_eval(nature, [500.0] * 10)
    g = game()
    [met] = [a for a in g.report.awards if a["challenge"] == "cartpole-rainbow"]
    assert met["evidence"]["run_id"] == rainbow
    why = " | ".join("; ".join(a["why"]) for a in g.challenge("cartpole-rainbow", "ada")["not_counted"])
    assert "trained with double=false; this challenge asks for double=true" in why


def test_the_wall_time_budget_counts_training_sessions(cli: Any, test_catalogue: Path) -> None:
    started = time.time()
    run_id = tiny_run(cli)
    add_eval(run_id, [30.0] * 10)
    g = game()
    detail = g.challenge("cp-fast", "ada")
    why = " | ".join("; ".join(a["why"]) for a in detail["not_counted"])
    assert detail["status"] == "attempted" and "h of training, over the" in why and "h budget" in why
    info = g.evidence.infos[run_id]
    assert len(info.sessions) == 1 and info.sessions[0].how == "run_finished"
    [attempt] = [a for a in g.evidence.attempts if a.n == 10]
    assert 0 < attempt.wall_time_s <= time.time() - started
    assert "cp-easy" in {a["challenge"] for a in g.report.awards}  # the same result, with no time budget


# -- tiers and the next step -------------------------------------------------------------------------
def test_tiers_promote_and_the_next_challenge_follows(cli: Any, test_catalogue: Path) -> None:
    run_id = tiny_run(cli)
    profile = as_json(cli, "profile")
    # What the next tier asks for comes first, before cp-easy, which the catalogue lists first.
    assert profile["tier"]["id"] == "one" and profile["next_challenge"]["id"] == "cp-ppo-100"
    assert profile["next_challenge"]["commands"] == ["playground rl train ppo CartPole-v1"]
    assert profile["next_challenge"]["status"] == "attempted" and profile["next_challenge"]["best"] is None

    add_eval(run_id, [50.0] * 10)
    profile = as_json(cli, "profile")
    assert (profile["xp"], profile["tier"]["id"]) == (60, "one")
    assert profile["next_tier"]["missing"] == ["cp-ppo-100"] and profile["next_tier"]["xp_missing"] == 40
    assert profile["next_challenge"]["id"] == "cp-ppo-100"
    assert profile["next_challenge"]["best"]["value"] == 50.0
    assert 0 < profile["next_challenge"]["progress"] < 1

    add_eval(run_id, [150.0] * 10)
    g = game()
    assert [p["tier"] for p in g.report.promotions] == ["two"]
    profile = g.profile("ada")
    assert (profile["xp"], profile["tier"]["id"]) == (120, "two")
    assert profile["next_challenge"]["id"] == "cp-400" and profile["next_tier"]["id"] == "three"

    add_eval(run_id, [450.0] * 10)
    profile = as_json(cli, "profile")
    assert (profile["xp"], profile["tier"]["id"], profile["next_tier"]) == (220, "three", None)
    assert profile["next_challenge"]["id"] in {"pong-once", "cp-fast"}
    text = cli("profile")
    assert "Professional" in text.out and "top tier" in text.out and "playground" in text.out


def test_xp_is_not_enough_without_the_named_challenges(cli: Any, test_catalogue: Path) -> None:
    """cp-easy (60) and a game of Pong (25) and cp-fast... still no tier two without cp-ppo-100."""
    from playground.game.results import record_human_game

    run_id = tiny_run(cli, "a2c", 128)
    add_eval(run_id, [450.0] * 10)  # a2c: meets cp-easy and cp-400 but never cp-ppo-100 (ppo only)
    record_human_game(player="ada", env="ALE/Pong-v5", game="Pong", score=-21, seed=1, frames=4000)
    profile = game().profile("ada")
    assert profile["xp"] >= 100 + 60
    assert profile["tier"]["id"] == "one" and profile["next_tier"]["missing"] == ["cp-ppo-100"]
    assert profile["next_challenge"]["id"] == "cp-ppo-100"


# -- the first rung: tabular lessons --------------------------------------------------------------------
FIRST_RUNG = ("frozenlake-first-steps", "frozenlake-slippery", "taxi-pass", "cliffwalking-sarsa",
              "cliffwalking-qlearning")


def table_run(algo: str, env: str) -> tuple[str, Path]:
    """A finished tabular run as training leaves it in the store (its checkpoint written, with its hash), without
    training: the thresholds below need exact results, which `Store.add_evaluation` then writes for it."""
    from playground import envs

    spec = envs.resolve(env)
    store = get_store()
    run = runs.create(kind="rl", algo=algo, env=spec.env_id, game=spec.game, config={})
    runs.mark_running(run.id, store, device="cpu")
    path = runs.checkpoint_path(run, 1000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"{algo} table for {env}".encode())
    store.add_artifact(run.id, "checkpoint", str(path), step=1000, meta={"sha256": file_sha256(path)})
    runs.end(run.id, "finished", 1000, store=store)
    return run.id, path


def played(run_id: str, scores: list[float]) -> None:
    add_eval(run_id, scores, step=1000)


def why_not(g: Any, challenge: str, run_id: str) -> str:
    refused = g.challenge(challenge, "ada")["not_counted"]
    return " | ".join("; ".join(a["why"]) for a in refused if a["run_id"] == run_id)


def test_the_first_rung_is_the_tabular_lessons_with_honest_marks() -> None:
    from playground.game import catalogue, reference

    cat = catalogue.load()
    first = cat.tiers[0]
    assert first.id == "getting-started" and first.first_rung == FIRST_RUNG
    by_id = {c.id: c for c in cat.challenges}
    lake, slippery, taxi = by_id["frozenlake-first-steps"], by_id["frozenlake-slippery"], by_id["taxi-pass"]
    sarsa, qlearning = by_id["cliffwalking-sarsa"], by_id["cliffwalking-qlearning"]
    plan = by_id["frozenlake-8x8-plan"]
    assert lake.envs == ("FrozenLake-v1,is_slippery=False",) and lake.threshold == 1 and not lake.constraints.algos
    assert slippery.envs == ("FrozenLake-v1",) and slippery.constraints.min_games == 100
    assert taxi.envs == ("Taxi-v4",) and (taxi.metric, taxi.op, taxi.threshold) == ("score", ">=", 4.5)
    assert taxi.threshold_source == {"table": "toy_text", "row": "Taxi-v4", "column": "hf_course_pass"}
    assert taxi.constraints.min_games == reference.value("toy_text", "Taxi-v4", "hf_course_games") == 100
    assert (sarsa.threshold, sarsa.constraints.algos) == (-17, ("sarsa", "expected-sarsa"))
    assert (qlearning.threshold, qlearning.constraints.algos) == (-13, ("qlearning",))
    assert plan.envs == ("FrozenLake8x8-v1",) and plan.constraints.algos == ("value-iteration", "policy-iteration")
    # Gymnasium's "solved" marks are on the mean; over 0/1 returns mean − std = p − sqrt(p (1 − p)) restates them.
    import gymnasium as gym

    for challenge, env_id in ((slippery, "FrozenLake-v1"), (plan, "FrozenLake8x8-v1")):
        mark = reference.value("toy_text", env_id, "reward_threshold")
        assert mark == gym.spec(env_id).reward_threshold
        for wins in range(0, 101):
            scores = np.array([1.0] * wins + [0.0] * (100 - wins))
            solved = scores.mean() - scores.std() >= challenge.threshold
            assert solved == (wins >= round(mark * 100)), (challenge.id, wins)
    assert "over at least 100 games" in taxi.goal() and "至少评估 100 局" in taxi.goal("zh")
    assert "over at least" not in lake.goal()
    for c in (lake, slippery, taxi, sarsa, qlearning, plan):
        assert c.tier == "getting-started" and c.kind == "rl" and c.xp <= 25


def test_a_new_player_is_pointed_at_the_deterministic_lake_then_up_the_rung(home: Path) -> None:
    g = game()
    profile = g.profile("ada")
    assert profile["xp"] == 0 and profile["next_challenge"]["id"] == "frozenlake-first-steps"
    assert profile["next_challenge"]["commands"][0] == "playground rl train qlearning FrozenLake-v1,is_slippery=False"
    run_id, _ = table_run("qlearning", "FrozenLake-v1,is_slippery=False")
    played(run_id, [1.0] * 10)
    g = game()
    assert [a["challenge"] for a in g.report.awards] == ["frozenlake-first-steps"]
    assert "first-challenge" in {b["achievement"] for b in g.report.achievements}
    assert "beats-random" in {b["achievement"] for b in g.report.achievements}  # random play reaches the goal 1.5 %
    assert g.profile("ada")["next_challenge"]["id"] == "frozenlake-slippery"


def test_the_tabular_challenges_judge_stored_evaluations(home: Path) -> None:
    """Each tabular challenge against results just above and just below its mark, its minimum of games, its
    environment (the deterministic lake is not the slippery one) and its algorithms."""
    lake, _ = table_run("qlearning", "FrozenLake-v1,is_slippery=False")
    played(lake, [1.0] * 9 + [0.0])  # one hole in ten: mean − std 0.6
    g = game()
    assert g.report.awards == [] and g.challenge("frozenlake-first-steps", "ada")["status"] == "attempted"
    assert g.challenge("frozenlake-first-steps", "ada")["best"]["value"] == pytest.approx(0.6)

    slippery, _ = table_run("qlearning", "FrozenLake-v1")
    played(slippery, [1.0] * 69 + [0.0] * 31)  # 69 % of 100 games
    played(slippery, [1.0] * 99)  # every game won, but 99 games
    played(lake, [1.0] * 100)  # the deterministic lake, perfect: another task
    g = game()
    assert "frozenlake-slippery" not in {a["challenge"] for a in g.report.awards}
    assert "it played 99 games; this challenge counts from 100" in why_not(g, "frozenlake-slippery", slippery)
    assert "FrozenLake-v1,is_slippery=False" in why_not(g, "frozenlake-slippery", lake)
    assert {a["challenge"] for a in g.report.awards} == {"frozenlake-first-steps"}
    played(slippery, [1.0] * 70 + [0.0] * 30)  # 70 %: Gymnasium's mark
    assert [a["challenge"] for a in game().report.awards] == ["frozenlake-slippery"]

    taxi, _ = table_run("sarsa", "Taxi-v4")  # any algorithm may drive
    played(taxi, [8.0] * 99)  # mean − std 8, but 99 games: the course counts 100
    played(taxi, [8.0] * 50 + [2.0] * 50)  # mean 5, std 3: 2.0
    g = game()
    assert g.report.awards == []
    assert "it played 99 games; this challenge counts from 100" in why_not(g, "taxi-pass", taxi)
    assert g.challenge("taxi-pass", "ada")["best"]["value"] == pytest.approx(2.0)
    played(taxi, [8.0] * 50 + [5.0] * 50)  # mean 6.5, std 1.5: 5.0
    [award] = game().report.awards
    assert award["challenge"] == "taxi-pass" and award["value"] == pytest.approx(5.0)

    q_run, _ = table_run("qlearning", "CliffWalking-v1")
    played(q_run, [-13.0] * 10)  # the shortest path, along the edge
    g = game()
    assert [a["challenge"] for a in g.report.awards] == ["cliffwalking-qlearning"]
    assert "trained with qlearning" in why_not(g, "cliffwalking-sarsa", q_run)  # the SARSA challenge refuses it
    assert g.challenge("cliffwalking-sarsa", "ada")["status"] == "open"  # a Q-learning run is no try at SARSA
    sarsa_run, _ = table_run("sarsa", "CliffWalking-v1")
    played(sarsa_run, [-19.0] * 10)  # a detour longer than the safe path
    assert game().report.awards == []
    played(sarsa_run, [-17.0] * 10)  # the safe path, up to the top row and across
    g = game()
    assert [a["challenge"] for a in g.report.awards] == ["cliffwalking-sarsa"]
    expected, _ = table_run("expected-sarsa", "CliffWalking-v1")
    played(expected, [-15.0] * 10)
    g = game()
    assert "trained with expected-sarsa" in why_not(g, "cliffwalking-qlearning", expected)
    assert {e["run_id"] for e in g.leaderboard("cliffwalking-sarsa")["entries"]} == {sarsa_run, expected}

    learned, _ = table_run("qlearning", "FrozenLake8x8-v1")
    played(learned, [1.0] * 100)
    planned, _ = table_run("policy-iteration", "FrozenLake8x8-v1")
    played(planned, [1.0] * 84 + [0.0] * 16)  # 84 %: short of Gymnasium's 85
    g = game()
    assert g.report.awards == []
    assert "trained with qlearning" in why_not(g, "frozenlake-8x8-plan", learned)
    played(planned, [1.0] * 85 + [0.0] * 15)
    assert [a["challenge"] for a in game().report.awards] == ["frozenlake-8x8-plan"]
    profile = game().profile("ada")
    assert profile["challenges_met"] == 6 and profile["xp"] == sum(
        game().catalogue.get(c).xp for c in (*FIRST_RUNG, "frozenlake-8x8-plan"))
    assert profile["next_challenge"]["id"] == "cartpole-first-pass"  # the rung climbed: what the next tier asks for


@pytest.mark.slow
def test_the_one_click_commands_of_the_tabular_challenges_meet_them(cli: Any, home: Path) -> None:
    """Each tabular challenge's own commands, as its card shows them (train, then evaluate), earn it: the first win
    in seconds, and the whole rung on a CPU in about a minute."""
    from playground.game import catalogue

    cat = catalogue.load()
    for challenge in (cat.get(cid) for cid in (*FIRST_RUNG, "frozenlake-8x8-plan")):
        for command in challenge.commands:
            result = cli(*command.split()[1:])
            assert result.code == 0, (command, result.err)
        assert challenge.id in {a["challenge"] for a in awards("ada")}, challenge.id
    assert game().profile("ada")["next_challenge"]["id"] == "cartpole-first-pass"


# -- leaderboards -------------------------------------------------------------------------------------
def test_leaderboards_rank_best_first_with_their_evidence(cli: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playground.game.results import record_human_game

    ppo = tiny_run(cli, "ppo", 256)
    monkeypatch.setenv("PLAYGROUND_PLAYER", "bob")
    a2c = tiny_run(cli, "a2c", 128)
    add_eval(ppo, [480.0] * 10)
    best_ppo = add_eval(ppo, [490.0] * 10)
    tie = add_eval(a2c, [490.0] * 10)  # the same result in fewer steps ranks first
    add_eval(a2c, [20.0] * 10, sha256=None)  # unverified: never listed
    board = as_json(cli, "leaderboard", "cartpole")
    assert board["game"] == "CartPole"
    assert [(e["rank"], e["player"], e["algo"], e["run_id"]) for e in board["agents"]] == [
        (1, "bob", "a2c", a2c), (2, "ada", "ppo", ppo)]
    assert [e["evaluation_id"] for e in board["agents"]] == [tie.id, best_ppo.id]
    assert all(e["checkpoint"] and len(e["checkpoint_sha256"]) == 64 for e in board["agents"])
    assert board["agents"][1]["step"] == checkpoint(ppo)[0] > board["agents"][0]["step"]

    record_human_game(player="bob", env="ALE/Pong-v5", game="Pong", score=-10, seed=3, frames=5000)
    record_human_game(player="ada", env="ALE/Pong-v5", game="Pong", score=-18, seed=1, frames=4000)
    record_human_game(player="ada", env="ALE/Pong-v5", game="Pong", score=-5, seed=2, frames=6000)
    pong = as_json(cli, "leaderboard", "ALE/Pong-v5")
    assert [(h["player"], h["score"], h["games"]) for h in pong["humans"]] == [("ada", -5.0, 2), ("bob", -10.0, 1)]
    assert pong["humans"][0]["event_id"] and pong["reference"]["human"] == 9.3
    assert pong["humans"][0]["human_normalised"] == pytest.approx((-5 + 20.7) / (9.3 + 20.7))
    per_challenge = as_json(cli, "leaderboard", "pong-human-15")
    assert [(e["player"], e["value"], e["meets"]) for e in per_challenge["entries"]] == [
        ("ada", -5.0, True), ("bob", -10.0, True)]
    text = cli("leaderboard", "CartPole")
    assert text.code == 0 and a2c in text.out and "bob" in text.out


# -- badges --------------------------------------------------------------------------------------------
def test_achievements_fire_from_events(cli: Any, home: Path) -> None:
    from playground import compare
    from playground.game.results import record_duel, record_human_game

    run_id = tiny_run(cli)
    resumed = cli("rl", "resume", run_id, "--steps", "384")
    assert resumed.code == 0, resumed.err
    assert "Picked up where you left off" in resumed.err
    started = get_store().events("run_started", run_id=run_id)
    assert [e["payload"]["player"] for e in started] == ["ada", "ada"]
    assert [e["payload"]["device"] for e in started] == ["cpu", "cpu"]
    # Two training sessions: the wall time counts both and not the pause between them.
    info = game(sync=False).evidence.infos[run_id]
    assert [s.how for s in info.sessions] == ["run_finished", "run_finished"]
    first, second = info.sessions
    assert first.end <= second.start
    assert info.wall_time_until(time.time()) == pytest.approx((first.end - first.start) + (second.end - second.start))
    assert info.wall_time_until(first.end) == pytest.approx(first.end - first.start)

    out_file = home / "compare.png"
    other = tiny_run(cli, "a2c", 128)
    assert cli("runs", "compare", run_id, other, "--out", str(out_file)).code == 0
    [compared] = get_store().events("runs_compared")
    assert compared["payload"]["runs"] == [run_id, other] and compared["payload"]["player"] == "ada"
    badges = {b["id"]: b for b in as_json(cli, "achievements")}
    assert badges["first-run"]["earned"] and badges["first-finish"]["earned"] and badges["resumed"]["earned"]
    assert badges["first-run"]["evidence"]["run_id"] == run_id
    assert not badges["compared-five"]["earned"] and not badges["gpu"]["earned"] and not badges["duel-won"]["earned"]

    six = [runs.get(run_id), runs.get(other)] + [
        runs.create(kind="rl", algo="dqn", env="CartPole-v1", game="CartPole", config={}) for _ in range(4)]
    compare.record_comparison(six, "episode/score")
    _, path = checkpoint(run_id)
    record_duel(player="ada", run_id=run_id, checkpoint=str(path), env="CartPole-v1", game="CartPole", seed=1,
                human_score=12, agent_score=9)
    record_human_game(player="ada", env="ALE/Pong-v5", game="Pong", score=-21, seed=0, frames=3000)
    # No GPU here: a run_started event as a GPU session writes it stands in for one.
    get_store().add_event("run_started", {"pid": 1, "player": "ada", "device": "cuda:0"}, run_id=other)
    g = game()
    new = {a["achievement"] for a in g.report.achievements}
    assert {"compared-five", "duel-won", "player-one", "gpu", "first-challenge"} <= new
    assert {"duel-win", "pong-first-game"} <= {a["challenge"] for a in g.report.awards}
    assert not game().report  # badges too are recorded once
    text = cli("achievements")
    assert "Side by side" in text.out and "🥊" in text.out


def test_gan_results_count_as_the_gan_eval_contract_says(cli: Any, home: Path) -> None:
    from playground.store import file_sha256 as sha

    store = get_store()
    run = runs.create(kind="gan", algo="dcgan", env="mnist-5k", game="mnist-5k", config={})
    runs.mark_running(run.id, store, device="cpu")
    path = runs.checkpoint_path(run, 3000)
    path.write_bytes(b"generator weights")
    store.add_artifact(run.id, "checkpoint", str(path), step=3000, meta={"sha256": sha(path)})
    store.add_artifact(run.id, "samples", str(Path(run.folder) / "samples" / "iter-3000.png"), step=3000)
    runs.end(run.id, "finished", 3000, store=store)

    def gan_eval(**change: Any) -> None:
        payload = {"metric": "FD-mnist", "fd": 60.0, "kid": 0.01, "kid_std": 0.001, "n": 1000, "step": 3000,
                   "checkpoint": str(path), "checkpoint_sha256": sha(path), "dataset": "mnist-5k", "model": "dcgan",
                   "image_size": 32}
        store.add_quality(run.id, {**payload, **change})

    gan_eval(model="cdcgan")  # names another model than the run's
    gan_eval(checkpoint_sha256=None)
    gan_eval(metric="FD-atari")
    gan_eval(n=10)
    g = game()
    assert g.report.awards == []
    assert "first-samples" in {a["achievement"] for a in g.report.achievements}
    why = " | ".join("; ".join(a["why"]) for a in g.challenge("mnist-dcgan", "ada")["not_counted"])
    for words in ("names the model cdcgan", "no checkpoint hash", "measured with FD-atari", "10 samples"):
        assert words in why, (words, why)

    gan_eval()
    g = game()
    assert {a["challenge"] for a in g.report.awards} == {"mnist-dcgan-first", "mnist-dcgan"}
    board = g.leaderboard("mnist-5k")["agents"]  # one entry per run and feature network; 10 samples rank nowhere
    assert [(e["rank"], e["run_id"], e["metric"], e["fd"]) for e in board] == [
        (1, run.id, "FD-atari", 60.0), (1, run.id, "FD-mnist", 60.0)]
    assert board[1]["evaluation_id"] and board[1]["checkpoint_sha256"] == sha(path)
    path.write_bytes(b"other weights")
    assert game().leaderboard("mnist-5k")["agents"] == []


# -- profiles -------------------------------------------------------------------------------------------
def test_profiles_switch_and_own_their_runs(cli: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_PLAYER")
    monkeypatch.setattr("getpass.getuser", lambda: "first.last@example")
    profile = as_json(cli, "profile")
    assert profile["player"] == "first.last_example" and profile["active"] and profile["xp"] == 0

    assert cli("profile", "alice", "--use").code == 0
    assert json.loads((home / "profile.json").read_text()) == {"active": "alice"}
    alice_run = tiny_run(cli)
    add_eval(alice_run, [500.0] * 10)
    assert cli("profile", "--name", "bob", "--use").code == 0
    bob = as_json(cli, "profile")
    assert (bob["player"], bob["xp"], bob["active"]) == ("bob", 0, True)
    alice = as_json(cli, "profile", "alice")
    assert (alice["player"], alice["xp"], alice["active"]) == ("alice", 125, False)
    assert get_store().events("run_started", run_id=alice_run)[0]["payload"]["player"] == "alice"
    listed = as_json(cli, "profile", "--list")
    assert [(p["player"], p["active"]) for p in listed][:2] == [("alice", False), ("bob", True)]
    monkeypatch.setenv("PLAYGROUND_PLAYER", "carol")  # one shell's override wins
    assert as_json(cli, "profile")["player"] == "carol"
    warned = cli("profile", "dave", "--use")
    assert warned.code == 0 and "PLAYGROUND_PLAYER" in warned.out
    cards = as_json(cli, "challenges", "--player", "alice", "--tier", "入门")
    assert {c["tier"] for c in cards} == {"getting-started"}
    assert {c["id"]: c["status"] for c in cards}["cartpole-ppo"] == "met"
    in_chinese = cli("challenges", "--lang", "zh").out
    assert in_chinese.count("入门") >= 1 and "升到下一等级所需" in in_chinese
    assert "needed for the next tier" not in in_chinese


# -- the CLI ----------------------------------------------------------------------------------------------
def test_cli_text_and_json(cli: Any, home: Path) -> None:
    cards = as_json(cli, "challenges")
    assert len(cards) >= 25
    keys = {"id", "tier", "kind", "title", "description", "goal", "metric", "op", "threshold", "constraints", "xp",
            "commands", "status", "progress", "best", "award", "required_for", "provisional"}
    assert all(keys <= set(c) for c in cards) and {c["status"] for c in cards} == {"open"}
    detail = as_json(cli, "challenge", "pong-human-dqn")
    assert detail["threshold"] == 9.3 and detail["attempts"] == [] and detail["leaderboard"] == []
    assert detail["commands"][0] == "playground rl train dqn ALE/Pong-v5 --steps 10M"
    text = cli("challenge", "pong-human-dqn")
    assert text.code == 0 and "playground rl train dqn ALE/Pong-v5" in text.out and "9.3" in text.out
    assert "no try" in text.out
    profile = cli("profile")
    assert profile.code == 0 and "Next challenge: First steps on the frozen lake" in profile.out
    assert "playground rl train qlearning FrozenLake-v1,is_slippery=False" in profile.out
    assert len(as_json(cli, "achievements")) == 16
    board = as_json(cli, "leaderboard", "Breakout")
    assert board == {"type": "game", "game": "Breakout", "kind": "rl", "agents": [], "humans": [],
                     "reference": {"random": 1.7, "human": 31.8, "nature_dqn": 401.2}}
    empty = cli("leaderboard", "Breakout")
    assert "no verified results on Breakout yet" in empty.out and "playground rl train" in empty.out


@pytest.mark.parametrize("args,words", [
    (("profile", "bad/name"), "player name"),
    (("profile", "--use"), "needs a player name"),
    (("challenges", "--player", "x" * 41), "player name"),
    (("challenge", "cartpole-ppp"), "did you mean cartpole-ppo"),
    (("challenges", "--tier", "9"), "no tier '9'"),
    (("challenges", "--lang", "fr"), "language must be one of en, zh"),
    (("leaderboard", "Pnog"), "did you mean Pong"),
    (("leaderboard", "Pong", "--limit", "0"), "--limit"),
    (("achievements", "--player", "<script>"), "player name"),
    (("profile", "ada\x1b[2J"), "player name"),  # a terminal escape that would clear the screen
    (("challenges", "--player", "bo\tb"), "player name"),
])
def test_bad_input_is_one_sentence_and_changes_nothing(cli: Any, home: Path, args: tuple[str, ...], words: str) -> None:
    get_store()
    before = store_rows()
    result = cli(*args)
    one_sentence(result)
    assert words in result.err and result.out == ""
    assert not any(ord(c) < 32 for c in result.err.rstrip("\n")), result.err  # a typed escape is never echoed raw
    assert store_rows() == before
    assert not (home / "profile.json").exists()


# -- the store's evidence ------------------------------------------------------------------------------
def test_an_older_database_gets_the_hash_column_and_its_rows_earn_nothing(home: Path) -> None:
    home.mkdir(parents=True)
    db = sqlite3.connect(home / "playground.db")
    db.executescript("""
        CREATE TABLE runs (id VARCHAR(200) PRIMARY KEY, kind VARCHAR(16) NOT NULL, algo VARCHAR(32) NOT NULL,
            env VARCHAR(200) NOT NULL, game VARCHAR(100) NOT NULL, number INTEGER NOT NULL, label VARCHAR(200),
            status VARCHAR(16) NOT NULL, seed INTEGER, total_steps INTEGER, step INTEGER NOT NULL, folder TEXT NOT NULL,
            config TEXT NOT NULL, created_at FLOAT NOT NULL, started_at FLOAT, ended_at FLOAT, heartbeat_at FLOAT,
            pid INTEGER, pid_start VARCHAR(32), host VARCHAR(200), error TEXT, stop_requested BOOLEAN NOT NULL);
        CREATE TABLE evaluations (id INTEGER PRIMARY KEY, run_id VARCHAR(200) NOT NULL REFERENCES runs(id),
            step INTEGER NOT NULL, scores TEXT NOT NULL, mean FLOAT NOT NULL, std FLOAT NOT NULL,
            n_episodes INTEGER NOT NULL, checkpoint TEXT, seed INTEGER, created_at FLOAT NOT NULL);
        INSERT INTO runs VALUES ('ppo-CartPole-1', 'rl', 'ppo', 'CartPole-v1', 'CartPole', 1, NULL, 'finished', 0,
            1000, 1000, '/nowhere', '{}', 1.0, 1.0, 2.0, 2.0, NULL, NULL, NULL, NULL, 0);
        INSERT INTO evaluations VALUES (1, 'ppo-CartPole-1', 1000, '[500,500,500,500,500,500,500,500,500,500]',
            500, 0, 10, '/nowhere/step.zip', 0, 1.5);
    """)
    db.commit()
    db.close()
    store = get_store()
    [old] = store.evaluations("ppo-CartPole-1")
    assert (old.id, old.checkpoint_sha256, old.mean) == (1, None, 500.0)
    g = game()
    assert g.report.awards == []
    why = g.challenge("cartpole-ppo", "ada")["not_counted"][0]["why"]
    assert any("no checkpoint hash" in w for w in why)
    new = store.add_evaluation("ppo-CartPole-1", step=1000, scores=[1.0], mean=1.0, std=0.0, checkpoint=None, seed=0,
                               checkpoint_sha256="ab" * 32)
    assert store.evaluations("ppo-CartPole-1")[-1] == new and new.checkpoint_sha256 == "ab" * 32


def test_every_evaluation_records_the_hash_of_the_checkpoint_it_played(cli: Any, home: Path) -> None:
    run_id = tiny_run(cli)
    assert cli("rl", "eval", run_id, "--episodes", "2").code == 0
    store = get_store()
    _, path = checkpoint(run_id)
    [artifact] = store.artifacts(run_id, "checkpoint")
    assert artifact.meta["sha256"] == file_sha256(path)
    evaluations = store.evaluations(run_id)
    assert len(evaluations) == 2  # training's own, then `rl eval`'s
    assert all(e.checkpoint == str(path) and e.checkpoint_sha256 == file_sha256(path) for e in evaluations)
