"""The challenge catalogue (``challenges.yaml``): tiers and challenges, loaded once and checked whole.

A mistake in the file is a ``CatalogueError`` naming the challenge and the field, so a typo never
turns into a challenge nobody can meet (or everybody meets).
"""

from __future__ import annotations

import difflib
import functools
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from playground.errors import PlaygroundError
from playground.game import reference
from playground.i18n import Words, translate

CATALOGUE = Path(__file__).resolve().parent / "challenges.yaml"
LANGUAGES = ("en", "zh")
KINDS = ("rl", "gan", "human")
DEEP_RL_ALGOS = ("dqn", "sb3-dqn", "ppo", "a2c", "a3c")
TABULAR_ALGOS = ("value-iteration", "policy-iteration", "qlearning", "sarsa", "expected-sarsa")  # agents/tabular.py
RL_ALGOS = DEEP_RL_ALGOS + TABULAR_ALGOS  # agents.names(); a test keeps them equal without importing torch
# Agents that count as another's algorithm wherever a challenge or an achievement names algorithms: SB3's DQN is a
# DQN (``dqn`` named it until our own took the name, and runs and challenges from then say ``dqn``).
SAME_ALGORITHM = {"sb3-dqn": "dqn"}
RL_FAMILIES = tuple(dict.fromkeys(SAME_ALGORITHM.get(a, a) for a in RL_ALGOS))  # dqn, ppo, …, expected-sarsa
DEEP_RL_FAMILIES = tuple(a for a in RL_FAMILIES if a not in TABULAR_ALGOS)  # dqn, ppo, a2c, a3c: "the whole toolbox"


def algorithm_of(algo: str) -> str:
    """The algorithm an agent counts as (``sb3-dqn`` -> ``dqn``)."""
    return SAME_ALGORITHM.get(algo, algo)


def allows(algos: tuple[str, ...], algo: str) -> bool:
    """Whether constraints naming ``algos`` (none: any) take a run of ``algo``."""
    return not algos or algo in algos or algorithm_of(algo) in algos


# Our DQN's improvements and their values when a run's settings do not name them (agents/dqn.py's DQNSettings
# defaults; a test keeps them equal without importing torch here), each with the settings that belong to it:
# two runs that differ in one improvement and in its own settings differ in that one improvement (an ablation).
DQN_IMPROVEMENTS: dict[str, Any] = {"double": False, "dueling": False, "prioritized": False, "n_step": 1,
                                    "noisy": False, "distributional": False}
DQN_COMPANIONS: dict[str, tuple[str, ...]] = {
    "prioritized": ("alpha", "beta0"),
    "noisy": ("noisy_sigma0", "exploration_initial_eps", "exploration_final_eps", "exploration_fraction"),
    "distributional": ("atoms", "v_min", "v_max"),
}


def shown_setting(value: Any) -> str:
    """A setting's value as ``--set`` takes it: ``true``, ``3``, ``lin_1e-4``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def setting_of(hyperparameters: Mapping[str, Any], name: str) -> Any:
    """A run's value of one setting: as saved, or the DQN family's default for an improvement it does not name."""
    return hyperparameters.get(name, DQN_IMPROVEMENTS.get(name))


def one_improvement_apart(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """The one DQN improvement two runs' settings differ in (with, at most, that improvement's own settings), or
    None when they differ in none, in two or more, or in anything else."""
    differ = {k for k in set(a) | set(b) | set(DQN_IMPROVEMENTS) if setting_of(a, k) != setting_of(b, k)}
    improvements = differ & set(DQN_IMPROVEMENTS)
    if len(improvements) != 1:
        return None
    (improvement,) = improvements
    return improvement if differ - {improvement} <= set(DQN_COMPANIONS.get(improvement, ())) else None
GAN_MODELS = ("dcgan", "cdcgan", "pix2pix", "cyclegan", "infogan", "wgan")
COLLECTED_GANS = ("dcgan", "cdcgan", "pix2pix", "cyclegan")  # the "every GAN" badge, as its text names them
GAN_METRIC_NAMES = ("FD-mnist", "FD-atari", "FID")
# gans/data/builtin_sets.py's built-in sets: plain names, and families made from Atari games ("edges2atari:Pong",
# "games:Pong:Breakout"), with how many games each family names.
DATASETS = ("digits", "mnist-5k", "textures")
DATASET_FAMILIES = {"atari": 1, "edges2atari": 1, "gray2color": 1, "games": 2}
MIN_GAMES = 10  # public RL leaderboards count mean − std over at least 10 whole games
MIN_SAMPLES = 100

HIGHER, LOWER = "higher", "lower"
# metric -> (kinds it belongs to, which way is better, models it applies to or None for all)
METRICS: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "score": ("rl", HIGHER, None),
    "fd": ("gan", LOWER, None),
    "kid": ("gan", LOWER, None),
    "psnr": ("gan", HIGHER, ("pix2pix",)),
    "l1": ("gan", LOWER, ("pix2pix",)),
    "cycle_l1": ("gan", LOWER, ("cyclegan",)),
    "best_game": ("human", HIGHER, None),
    "games": ("human", HIGHER, None),
    "duels_won": ("human", HIGHER, None),
    # 1 when the run's evaluation has a twin: the same player's run of the same algorithm, env and seed that differs
    # in one DQN improvement, evaluated (10 games or more) at the same step; see evidence.py's _ablations
    "compared": ("rl", HIGHER, ("dqn",)),
    # InfoGAN: the share of generated digits whose categorical code value matches their digit, under the best
    # one-to-one matching of values to digits (`gan eval`, the playground's MNIST classifier); chance is about 0.1
    "code_accuracy": ("gan", HIGHER, ("infogan",)),
    # 1 when the same player has a WGAN run on the same data and seed with the other Lipschitz constraint (weight
    # clipping against the gradient penalty), evaluated at the same step; see evidence.py's _constraint_pairs
    "constraints_compared": ("gan", HIGHER, ("wgan",)),
}
OPS = {">=": HIGHER, ">": HIGHER, "<=": LOWER, "<": LOWER}
# How a goal reads (translation keys): the comparison, and each metric's name.
OP_WORDS = {">=": "game.op_at_least", ">": "game.op_above", "<=": "game.op_at_most", "<": "game.op_below"}
METRIC_WORDS = {"score": "game.metric_score", "best_game": "game.metric_best_game", "games": "game.metric_games",
                "duels_won": "game.metric_duels_won", "cycle_l1": "game.metric_cycle_l1", "l1": "game.metric_l1",
                "psnr": "game.metric_psnr", "fd": "game.metric_fd", "kid": "game.metric_kid",
                "compared": "game.metric_compared", "code_accuracy": "game.metric_code_accuracy",
                "constraints_compared": "game.metric_constraints_compared"}

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_CHALLENGE_KEYS = {
    "id", "tier", "kind", "title", "description", "envs", "datasets", "metric", "gan_metric", "op", "threshold",
    "threshold_source", "also", "provisional", "constraints", "xp", "commands",
}
_CONSTRAINT_KEYS = {"algos", "max_steps", "max_wall_time_s", "min_games", "min_samples", "image_size", "settings"}
_TIER_KEYS = {"id", "name", "description", "xp", "requires", "first_rung"}


class CatalogueError(PlaygroundError):
    """``challenges.yaml`` (or a test's catalogue) does not validate."""


class UnknownChallenge(PlaygroundError):
    pass


def passes(value: float, op: str, threshold: float) -> bool:
    return {">=": value >= threshold, ">": value > threshold, "<=": value <= threshold, "<": value < threshold}[op]


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    threshold: float

    def met(self, value: float | None) -> bool:
        return value is not None and math.isfinite(value) and passes(value, self.op, self.threshold)

    def describe(self, name: str | None = None, lang: str = "en") -> str:
        metric = name or translate(METRIC_WORDS[self.metric], lang)
        return translate("game.goal_condition", lang, metric=metric, op=translate(OP_WORDS[self.op], lang),
                         threshold=self.threshold)


@dataclass(frozen=True)
class Constraints:
    algos: tuple[str, ...] = ()  # empty: any algorithm (or model)
    max_steps: int | None = None
    max_wall_time_s: float | None = None
    min_games: int = MIN_GAMES
    min_samples: int = MIN_SAMPLES
    image_size: int | None = None
    settings: tuple[tuple[str, Any], ...] = ()  # (hyperparameter, value) the run must have been trained with

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": dict(self.settings),
            "algos": list(self.algos),
            "max_steps": self.max_steps,
            "max_wall_time_s": self.max_wall_time_s,
            "min_games": self.min_games,
            "min_samples": self.min_samples,
            "image_size": self.image_size,
        }


@dataclass(frozen=True)
class Challenge:
    id: str
    tier: str
    kind: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    metric: str
    op: str
    threshold: float
    xp: int
    envs: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    gan_metrics: tuple[str, ...] = ()
    also: tuple[Condition, ...] = ()
    threshold_source: Mapping[str, str] | None = None
    provisional: bool = False
    constraints: Constraints = field(default_factory=Constraints)
    commands: tuple[str, ...] = ()

    @property
    def direction(self) -> str:
        return OPS[self.op]

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return (Condition(self.metric, self.op, self.threshold), *self.also)

    @property
    def games(self) -> tuple[str, ...]:
        """The games (RL, human) or dataset names (GAN) it is played on; empty: any (a duel)."""
        if self.kind == "gan":
            return self.datasets
        return tuple(dict.fromkeys(reference.game_of(e) for e in self.envs))

    def text(self, what: str, lang: str = "en") -> str:
        texts = self.title if what == "title" else self.description
        return texts.get(lang) or texts["en"]

    def goal(self, lang: str = "en") -> str:
        """One line: what is measured and where the bar is (English by default: the JSON's ``goal``)."""
        either = translate("game.goal_or", lang)
        where = either.join(self.envs or self.datasets) or translate("game.goal_any_game", lang)
        name = "/".join(self.gan_metrics) if self.metric in ("fd", "kid") and self.gan_metrics else None
        condition = Condition(self.metric, self.op, self.threshold).describe(name, lang)
        parts = [translate("game.goal_on", lang, condition=condition, where=where)]
        parts += [c.describe(lang=lang) for c in self.also]
        c = self.constraints
        if c.min_games > MIN_GAMES:
            parts.append(translate("game.goal_min_games", lang, games=c.min_games))
        if c.algos:
            parts.append(translate("game.goal_with", lang, algos=either.join(c.algos)))
        if c.max_steps is not None:
            parts.append(translate("game.goal_max_steps", lang, steps=c.max_steps))
        if c.max_wall_time_s is not None:
            parts.append(translate("game.goal_max_hours", lang, hours=c.max_wall_time_s / 3600))
        if c.settings:
            parts.append(translate("game.goal_settings", lang,
                                   settings=", ".join(f"{k}={shown_setting(v)}" for k, v in c.settings)))
        return translate("game.list_sep", lang).join(parts)


@dataclass(frozen=True)
class Tier:
    id: str
    index: int
    name: Mapping[str, str]
    description: Mapping[str, str]
    xp: int
    requires: tuple[str, ...]
    # The tier's first rung: challenges of its own that the next step suggests before anything else, in this order
    # (the first tier's quick tabular wins, so a newcomer's first success takes seconds).
    first_rung: tuple[str, ...] = ()

    def label(self, lang: str = "en") -> str:
        """``入门 Getting started``: both names, the way the tiers are spoken of."""
        if lang == "zh":
            return self.name["zh"]
        return f"{self.name['zh']} {self.name['en']}"


@dataclass(frozen=True)
class Catalogue:
    tiers: tuple[Tier, ...]
    challenges: tuple[Challenge, ...]
    source: str = ""

    def get(self, challenge_id: str) -> Challenge:
        for challenge in self.challenges:
            if challenge.id == challenge_id:
                return challenge
        close = difflib.get_close_matches(challenge_id, [c.id for c in self.challenges], n=1)
        hint = Words("game.did_you_mean", name=close[0]) if close else ""
        raise UnknownChallenge("game.unknown_challenge", challenge=challenge_id, hint=hint)

    def tier(self, ref: str) -> Tier:
        """A tier by id, English or Chinese name, or number (1 = the first), case and spaces ignored."""
        wanted = re.sub(r"[\s_-]+", "", str(ref)).lower()
        for tier in self.tiers:
            names = {tier.id, tier.name["en"], tier.name["zh"], str(tier.index + 1)}
            if wanted in {re.sub(r"[\s_-]+", "", n).lower() for n in names}:
                return tier
        choices = ", ".join(f"{t.id} ({t.name['zh']})" for t in self.tiers)
        raise CatalogueError("game.unknown_tier", tier=ref, choices=choices)

    def in_tier(self, tier_id: str) -> list[Challenge]:
        return [c for c in self.challenges if c.tier == tier_id]

    def required_for(self, challenge_id: str) -> Tier | None:
        for tier in self.tiers:
            if challenge_id in tier.requires:
                return tier
        return None


# -- loading and checking --------------------------------------------------------------------------
def _fail(where: str, message: str) -> CatalogueError:
    """A broken ``challenges.yaml``: one sentence for the teacher who wrote it; the detail stays English."""
    return CatalogueError("game.catalogue_invalid", where=where, problem=message)


def _texts(where: str, key: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise _fail(where, f"'{key}' must give a text for each of {', '.join(LANGUAGES)}")
    texts = {}
    for lang in LANGUAGES:
        text = raw.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise _fail(where, f"'{key}' has no {lang} translation")
        texts[lang] = text.strip()
    if not _CJK.search(texts["zh"]):
        raise _fail(where, f"the zh {key} has no Chinese characters")
    extra = set(raw) - set(LANGUAGES)
    if extra:
        raise _fail(where, f"'{key}' has unknown languages {sorted(extra)}")
    return texts


def _number(where: str, key: str, raw: Any, *, whole: bool = False, positive: bool = False) -> Any:
    ok = isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw)
    if ok and whole:
        ok = float(raw).is_integer()
    if ok and positive:
        ok = raw > 0
    if not ok:
        kind = "a positive whole number" if whole and positive else "a whole number" if whole else "a number"
        raise _fail(where, f"'{key}' must be {kind}, not {raw!r}")
    return int(raw) if whole else float(raw)


@functools.lru_cache(maxsize=1)
def _registered_envs() -> frozenset[str]:
    from playground.envs.specs import list_ids  # the ALE ids from ale-py's files: no ale-py import here

    return frozenset(list_ids())


def _check_env(where: str, env_id: Any) -> str:
    """A registered id, with or without Gymnasium keyword arguments (``FrozenLake-v1,is_slippery=False``), spelled
    as a run's ``env`` stores it (``envs.resolve``'s one spelling): a challenge counts runs of the very same string."""
    from playground.envs.specs import KWARG_SEPARATOR, resolve

    base, _, arguments = env_id.partition(KWARG_SEPARATOR) if isinstance(env_id, str) else (str(env_id), "", "")
    if base not in _registered_envs():
        close = difflib.get_close_matches(base, sorted(_registered_envs()), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise _fail(where, f"unknown environment '{env_id}'{hint}")
    if arguments:  # opens one small env: only ids with keyword arguments (the toy-text lessons) need it
        try:
            spelled = resolve(env_id).env_id
        except PlaygroundError as exc:
            raise _fail(where, f"environment '{env_id}': {exc.sentence('en').rstrip('.')}") from None
        if spelled != env_id:
            raise _fail(where, f"write the environment '{env_id}' as runs store it: '{spelled}'")
    return env_id


def _check_dataset(where: str, name: Any) -> str:
    if isinstance(name, str):
        if name in DATASETS:
            return name
        family, *games = name.split(":")
        if len(games) == DATASET_FAMILIES.get(family) and all(f"ALE/{g}-v5" in _registered_envs() for g in games):
            return name
    known = ", ".join([*DATASETS, *(":".join([f, *["GAME"] * k]) for f, k in DATASET_FAMILIES.items())])
    raise _fail(where, f"unknown dataset '{name}' (known: {known})")


def _constraints(where: str, kind: str, raw: Any) -> Constraints:
    if raw is None:
        return Constraints()
    if not isinstance(raw, Mapping):
        raise _fail(where, "'constraints' must be a mapping")
    unknown = set(raw) - _CONSTRAINT_KEYS
    if unknown:
        raise _fail(where, f"unknown constraint {min(unknown)!r} (known: {', '.join(sorted(_CONSTRAINT_KEYS))})")
    algos = raw.get("algos") or []
    if isinstance(algos, str):
        algos = [algos]
    allowed = RL_ALGOS if kind == "rl" else GAN_MODELS if kind == "gan" else ()
    for algo in algos:
        if algo not in allowed:
            what = "algorithm" if kind == "rl" else "model"
            raise _fail(where, f"unknown {what} '{algo}' (known: {', '.join(allowed) or 'none for human challenges'})")
    out = Constraints(
        algos=tuple(algos),
        max_steps=_number(where, "max_steps", raw["max_steps"], whole=True, positive=True) if "max_steps" in raw else None,
        max_wall_time_s=(
            _number(where, "max_wall_time_s", raw["max_wall_time_s"], positive=True) if "max_wall_time_s" in raw else None
        ),
        min_games=_number(where, "min_games", raw.get("min_games", MIN_GAMES), whole=True, positive=True),
        min_samples=_number(where, "min_samples", raw.get("min_samples", MIN_SAMPLES), whole=True, positive=True),
        image_size=_number(where, "image_size", raw["image_size"], whole=True, positive=True) if "image_size" in raw else None,
        settings=_settings(where, kind, raw.get("settings")),
    )
    if kind == "rl" and out.min_games < MIN_GAMES:
        raise _fail(where, f"'min_games' must be at least {MIN_GAMES} (mean − std over fewer games is luck)")
    return out


def _settings(where: str, kind: str, raw: Any) -> tuple[tuple[str, Any], ...]:
    """``settings: {double: true, n_step: 3}``: plain values a run's hyperparameters must hold (RL only)."""
    if raw is None:
        return ()
    if kind != "rl" or not isinstance(raw, Mapping) or not raw:
        raise _fail(where, "'settings' must be a mapping of hyperparameters to values, in an rl challenge")
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, bool | int | float | str):
            raise _fail(where, f"the setting {key!r} must be a name with a plain value, not {value!r}")
    return tuple(sorted(raw.items()))


def _condition(where: str, kind: str, raw: Mapping[str, Any], models: Sequence[str]) -> Condition:
    metric = raw.get("metric")
    if metric not in METRICS or METRICS[metric][0] != kind:
        known = ", ".join(m for m, (k, _, _) in METRICS.items() if k == kind)
        raise _fail(where, f"unknown metric '{metric}' for a {kind} challenge (known: {known})")
    only = METRICS[metric][2]
    if only is not None and (not models or any(m not in only for m in models)):
        raise _fail(where, f"the metric '{metric}' is measured only for {', '.join(only)}; say so in constraints.algos")
    op = raw.get("op")
    if op not in OPS:
        raise _fail(where, f"unknown op '{op}' (use one of {', '.join(OPS)})")
    if OPS[op] != METRICS[metric][1]:
        better = "higher" if METRICS[metric][1] == HIGHER else "lower"
        raise _fail(where, f"'{metric}' is better when {better}, so its op cannot be '{op}'")
    return Condition(metric, op, _number(where, "threshold", raw.get("threshold")))


def _challenge(raw: Any, tiers: Mapping[str, Tier]) -> Challenge:
    if not isinstance(raw, Mapping):
        raise _fail("challenges", f"each entry must be a mapping, not {raw!r}")
    cid = raw.get("id")
    if not isinstance(cid, str) or not _ID.match(cid):
        raise _fail("challenges", f"'{cid}' is not a challenge id (lowercase letters, digits and dashes)")
    where = f"challenge '{cid}'"
    unknown = set(raw) - _CHALLENGE_KEYS
    if unknown:
        raise _fail(where, f"unknown field {min(unknown)!r}")
    tier = raw.get("tier")
    if tier not in tiers:
        raise _fail(where, f"unknown tier '{tier}' (known: {', '.join(tiers)})")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _fail(where, f"unknown kind '{kind}' (use one of {', '.join(KINDS)})")
    constraints = _constraints(where, kind, raw.get("constraints"))
    primary = _condition(where, kind, raw, constraints.algos)
    also = tuple(_condition(where, kind, c, constraints.algos) for c in raw.get("also") or [])
    envs = tuple(_check_env(where, e) for e in raw.get("envs") or [])
    datasets = tuple(_check_dataset(where, d) for d in raw.get("datasets") or [])
    if kind == "rl" and not envs:
        raise _fail(where, "an rl challenge needs 'envs'")
    if kind == "gan" and not datasets:
        raise _fail(where, "a gan challenge needs 'datasets'")
    if kind != "gan" and datasets or kind == "gan" and envs:
        raise _fail(where, "'envs' are for rl and human challenges, 'datasets' for gan ones")
    if kind == "human" and primary.metric != "duels_won" and not envs:
        raise _fail(where, "a human challenge needs 'envs' (the game to play)")
    gan_metrics = raw.get("gan_metric") or []
    if isinstance(gan_metrics, str):
        gan_metrics = [gan_metrics]
    for name in gan_metrics:
        if name not in GAN_METRIC_NAMES:
            raise _fail(where, f"unknown gan_metric '{name}' (known: {', '.join(GAN_METRIC_NAMES)})")
    if kind == "gan" and any(c.metric in ("fd", "kid") for c in (primary, *also)) and not gan_metrics:
        raise _fail(where, "an fd or kid threshold needs 'gan_metric' (which feature network it is measured on)")
    source = raw.get("threshold_source")
    if source is not None:
        if not isinstance(source, Mapping) or set(source) != {"table", "row", "column"}:
            raise _fail(where, "'threshold_source' must give table, row and column")
        try:
            expected = reference.value(source["table"], source["row"], source["column"])
        except KeyError as exc:
            raise _fail(where, f"threshold_source names no reference number: {exc.args[0]}") from None
        if not math.isclose(primary.threshold, expected, rel_tol=0, abs_tol=1e-9):
            raise _fail(where, f"threshold {primary.threshold:g} differs from the reference number {expected:g} "
                               f"({source['table']}: {source['row']}, {source['column']})")
    commands = raw.get("commands") or []
    if not commands or not all(isinstance(c, str) and c.startswith("playground ") for c in commands):
        raise _fail(where, "'commands' must list the playground commands that attempt it")
    return Challenge(
        id=cid,
        tier=tier,
        kind=kind,
        title=_texts(where, "title", raw.get("title")),
        description=_texts(where, "description", raw.get("description")),
        metric=primary.metric,
        op=primary.op,
        threshold=primary.threshold,
        xp=_number(where, "xp", raw.get("xp"), whole=True, positive=True),
        envs=envs,
        datasets=datasets,
        gan_metrics=tuple(gan_metrics),
        also=also,
        threshold_source=dict(source) if source else None,
        provisional=bool(raw.get("provisional", False)),
        constraints=constraints,
        commands=tuple(commands),
    )


def parse(data: Any, source: str = "<catalogue>") -> Catalogue:
    """Check a whole catalogue (as read from YAML); the first problem is raised as one sentence."""
    if not isinstance(data, Mapping) or not isinstance(data.get("tiers"), list) or not isinstance(
        data.get("challenges"), list
    ):
        raise _fail(source, "it must have a list of 'tiers' and a list of 'challenges'")
    tiers: dict[str, Tier] = {}
    for index, raw in enumerate(data["tiers"]):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not _ID.match(raw["id"]):
            raise _fail("tiers", f"entry {index + 1} has no valid id")
        where = f"tier '{raw['id']}'"
        if set(raw) - _TIER_KEYS:
            raise _fail(where, f"unknown field {min(set(raw) - _TIER_KEYS)!r}")
        if raw["id"] in tiers:
            raise _fail(where, "the id is used twice")
        requires = raw.get("requires") or []
        if not isinstance(requires, list):
            raise _fail(where, "'requires' must be a list of challenge ids")
        first_rung = raw.get("first_rung") or []
        if not isinstance(first_rung, list):
            raise _fail(where, "'first_rung' must be a list of challenge ids")
        tiers[raw["id"]] = Tier(
            id=raw["id"],
            index=index,
            name=_texts(where, "name", raw.get("name")),
            description=_texts(where, "description", raw.get("description")),
            xp=_number(where, "xp", raw.get("xp"), whole=True),
            requires=tuple(requires),
            first_rung=tuple(first_rung),
        )
    ordered = list(tiers.values())
    if not ordered:
        raise _fail(source, "there are no tiers")
    if ordered[0].xp != 0 or ordered[0].requires:
        raise _fail(f"tier '{ordered[0].id}'", "the first tier is where everyone starts: xp 0 and no requirements")
    for lower, upper in itertools.pairwise(ordered):
        if upper.xp <= lower.xp:
            raise _fail(f"tier '{upper.id}'", f"it must need more XP than '{lower.id}'")
    challenges: list[Challenge] = []
    for raw in data["challenges"]:
        challenge = _challenge(raw, tiers)
        if any(c.id == challenge.id for c in challenges):
            raise _fail(f"challenge '{challenge.id}'", "the id is used twice")
        challenges.append(challenge)
    by_id = {c.id: c for c in challenges}
    for lower, upper in itertools.pairwise(ordered):
        for required in upper.requires:
            if required not in by_id:
                raise _fail(f"tier '{upper.id}'", f"it requires '{required}', which is not a challenge")
            if by_id[required].tier != lower.id:
                raise _fail(f"tier '{upper.id}'", f"it requires '{required}', which is not in the tier below ('{lower.id}')")
    for tier in ordered:
        for rung in tier.first_rung:
            if rung not in by_id or by_id[rung].tier != tier.id:
                raise _fail(f"tier '{tier.id}'",
                            f"its first rung names '{rung}', which is not a challenge of this tier")
        available = sum(c.xp for c in challenges if tiers[c.tier].index < tier.index)
        if tier.xp > available:
            raise _fail(f"tier '{tier.id}'", f"it needs {tier.xp} XP but the tiers below pay only {available}")
    return Catalogue(tiers=tuple(ordered), challenges=tuple(challenges), source=source)


def load(path: str | Path | None = None) -> Catalogue:
    """The catalogue at ``path`` (default: the one that ships), cached while the file is unchanged."""
    path = Path(path) if path is not None else CATALOGUE
    try:
        stat = path.stat()
    except OSError as exc:
        raise CatalogueError("game.catalogue_unreadable", path=path, reason=exc.strerror or exc) from None
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int, _size: int) -> Catalogue:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        first = " ".join(str(exc).split())
        raise CatalogueError("game.catalogue_unreadable", path=path, reason=first) from None
    return parse(data, source=path)
