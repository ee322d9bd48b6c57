"""Game widgets shared by the home and challenges pages: bilingual catalogue text, challenge cards,
leaderboards, and starting the training a challenge names.

The game answers in plain data (``playground.game.Game``); this module only draws it. Starting a
training runs the command itself, ``playground … train --detach``, in a child process
(``playground.jobs.launch_detached``): the CLI's checks, and no torch in this process.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from playground.errors import PlaygroundError
from playground.game import Game
from playground.game.achievements import BY_ID
from playground.game.catalogue import MIN_GAMES
from playground.numbers import parse_steps
from playground.store import get_store
from playground.ui import auth
from playground.ui.common import lang, shown_errors, t

# Where the training pages read the run they show live (their session-state keys and files).
TRAIN_PAGES = {
    "rl": ("train_agent.run", "playground/ui/pages/train_agent.py"),
    "gan": ("train_gan.run", "playground/ui/pages/train_gan.py"),
}
# Session state: kind -> the run a one-click start opened its training page on (that page shows it on top).
LANDED = "landed_runs"
MAX_TOASTS = 2  # news shown one by one; the rest is one line that points to the Challenges page
STATUS_ICONS = {"met": "✅", "attempted": "🟡", "open": "⬜"}
RUN_STATUS_ICONS = {"created": "🆕", "running": "🏃", "stopped": "⏸️", "finished": "🏁", "failed": "❌"}
BADGE_NAMES = {badge_id: badge.name for badge_id, badge in BY_ID.items()}
OP_SIGNS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


def text(value: Mapping[str, str] | str | None) -> str:
    """Catalogue text (``{"en": …, "zh": …}``) in the session's language."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(lang()) or value.get("en") or ""


def load_game() -> Game:
    """The game read from the store now, with new awards recorded (cheap: one pass over the store).

    Nothing is cached: jobs write results while the page is open."""
    return Game(get_store())


def announce(game: Game, player: str) -> None:
    """Say what this read of the store newly earned for ``player`` (promotions, awards, badges), once.

    At most ``MAX_TOASTS`` toasts, the biggest news first (a promotion, then awards by XP), and one more
    that counts the rest: six toasts at once cover the page and nobody reads them. Other players' news
    is recorded all the same, without a word on this screen."""
    report = game.report
    titles = {c.id: c.title for c in game.catalogue.challenges}
    news: list[tuple[str, str]] = []
    for promo in [p for p in report.promotions if p.get("player") == player]:
        news.append((t("challenges.new_tier", tier=text(promo.get("name"))), "⬆️"))
    awards = [a for a in report.awards if a.get("player") == player]
    for award in sorted(awards, key=lambda a: -(a.get("xp") or 0)):
        title = text(titles.get(award["challenge"])) or award["challenge"]
        news.append((t("challenges.new_award", title=title, xp=award.get("xp", 0)), "🏆"))
    for badge in [b for b in report.achievements if b.get("player") == player]:
        name = text(BADGE_NAMES.get(badge["achievement"])) or badge["achievement"]
        news.append((t("challenges.new_badge", name=name), badge.get("icon") or "🎖️"))
    for line, icon in news[:MAX_TOASTS]:
        st.toast(line, icon=icon)
    if len(news) > MAX_TOASTS:
        st.toast(t("challenges.more_news", n=len(news) - MAX_TOASTS), icon="➕")


# -- starting what a challenge names -------------------------------------------------------------------
@dataclass(frozen=True)
class TrainCommand:
    """A ``playground rl|gan train`` command a challenge names, taken apart for a one-click start."""

    kind: str  # "rl" or "gan"
    name: str  # algorithm or model
    target: str  # environment or dataset
    options: tuple[tuple[str, str], ...] = ()

    def cli_options(self) -> list[str]:
        """The command's options as ``--flag=value`` words, for ``playground.jobs.launch_detached``."""
        return [f"{flag}={value}" for flag, value in self.options]

    def build(self) -> Any:
        """The validated config (raises a PlaygroundError with one sentence when it cannot be built).

        Needs the engine: the CLI's process and tests call it; the app starts ``cli_options`` instead."""
        from playground.config import build_gan_config, build_rl_config

        opts = dict(self.options)
        if self.kind == "rl":
            kwargs: dict[str, Any] = {}
            if "--steps" in opts:
                kwargs["steps"] = _count(opts["--steps"], "--steps")
            if "--preset" in opts:
                kwargs["preset"] = opts["--preset"]
            if "--workers" in opts or "--envs" in opts:
                kwargs["n_envs"] = _count(opts.get("--workers") or opts["--envs"], "--workers")
            if "--seed" in opts:
                kwargs["seed"] = _count(opts["--seed"], "--seed")
            return build_rl_config(self.name, self.target, **kwargs)
        kwargs = {}
        if "--epochs" in opts:
            kwargs["epochs"] = _count(opts["--epochs"], "--epochs")
        if "--iters" in opts:
            kwargs["iters"] = _count(opts["--iters"], "--iters")
        if "--preset" in opts:
            kwargs["preset"] = opts["--preset"]
        if "--seed" in opts:
            kwargs["seed"] = _count(opts["--seed"], "--seed")
        return build_gan_config(self.name, self.target, **kwargs)


_RL_FLAGS = {"--steps", "--preset", "--workers", "--envs", "--seed"}
_GAN_FLAGS = {"--epochs", "--iters", "--preset", "--seed"}


def _count(word: str, flag: str) -> int:
    """``100k`` → 100000, ``10M`` → 10000000: the CLI's own reading of a count."""
    return int(parse_steps(word, flag) or 0)


def parse_train_command(command: str) -> TrainCommand | None:
    """The training a command starts, if it is a plain ``playground rl|gan train NAME TARGET [flags]``."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 5 or words[0] != "playground" or words[1] not in TRAIN_PAGES or words[2] != "train":
        return None
    kind, name, target, rest = words[1], words[3], words[4], words[5:]
    allowed = _RL_FLAGS if kind == "rl" else _GAN_FLAGS
    if len(rest) % 2:
        return None
    options = tuple(zip(rest[::2], rest[1::2]))
    if any(flag not in allowed for flag, _ in options):
        return None
    try:
        for flag, value in options:
            if flag != "--preset":
                _count(value, flag)
    except PlaygroundError:
        return None
    return TrainCommand(kind, name, target, options)


def start_training(command: TrainCommand) -> None:
    """Start a real background job for ``command`` and open its training page on it: the run's live panel
    on top, the form (set to the run's settings) folded below.

    Run alone (outside the app's navigation) a page cannot switch: the run still starts, and the
    page says where to watch it."""
    from playground import jobs

    with st.spinner(t("train_agent.starting")):
        run_id, _pid = jobs.launch_detached(command.kind, command.name, command.target, command.cli_options(),
                                            lang=lang(), env=auth.child_env())
    state_key, page_path = TRAIN_PAGES[command.kind]
    st.session_state[state_key] = run_id
    st.session_state.setdefault(LANDED, {})[command.kind] = run_id
    try:
        st.switch_page(page_path)
    except StreamlitAPIException:
        page_title = t("nav.train_agent") if command.kind == "rl" else t("nav.train_gan")
        st.success(t("challenges.started_elsewhere", run=run_id, page=page_title))


# -- drawing ---------------------------------------------------------------------------------------
def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def when(iso: str | None) -> str:
    """An ISO time from the game (UTC) as a short, readable one: ``2026-11-23 04:10 UTC``."""
    if not iso:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(iso).astimezone(dt.UTC)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def goal_text(card: Mapping[str, Any]) -> str:
    """What the challenge measures and where the bar is, in the session's language."""
    metric = card["metric"]
    name = "/".join(card.get("gan_metric") or []) if metric in ("fd", "kid") and card.get("gan_metric") else None
    where = " / ".join(card.get("envs") or card.get("datasets") or []) or t("challenges.any_game")
    constraints = card.get("constraints") or {}
    if metric == "score" and (constraints.get("min_games") or MIN_GAMES) > MIN_GAMES:  # Taxi's pass mark: 100 games
        name = t("challenges.metric.score_games", games=constraints["min_games"])
    parts = [t("challenges.goal_main", metric=name or t(f"challenges.metric.{metric}"),
               op=OP_SIGNS.get(card["op"], card["op"]), threshold=f"{card['threshold']:g}", where=where)]
    for extra in card.get("also") or []:
        metric_name = t("challenges.metric." + extra["metric"])
        parts.append(f"{metric_name} {OP_SIGNS.get(extra['op'], extra['op'])} {extra['threshold']:g}")
    if constraints.get("algos"):
        parts.append(t("challenges.goal_algos", algos=" / ".join(constraints["algos"])))
    if constraints.get("max_steps"):
        parts.append(t("challenges.goal_steps", steps=f"{constraints['max_steps']:,}"))
    if constraints.get("max_wall_time_s"):
        parts.append(t("challenges.goal_hours", hours=f"{constraints['max_wall_time_s'] / 3600:g}"))
    return t("challenges.goal_sep").join(parts)


def challenge_card(card: Mapping[str, Any], *, key: str, tiers: Mapping[str, Any] | None = None,
                   start_button: bool = False) -> None:
    """One challenge: status, XP, what it asks, progress, the best try, and the commands to get there."""
    with st.container(border=True):
        icon = STATUS_ICONS.get(card["status"], "⬜")
        st.markdown(f"**{icon} {text(card['title'])}** · {text(card['tier_name'])} · "
                    f"{t('challenges.xp', xp=card['xp'])}")
        st.caption(t(f"challenges.status.{card['status']}") + (
            " · " + t("challenges.provisional") if card.get("provisional") else ""))
        st.write(text(card["description"]))
        st.markdown(f"🎯 {goal_text(card)}")
        progress = card.get("progress")
        best = card.get("best")
        best_value = best.get("value") if best else None
        label = t("challenges.best", value=fmt(best_value)) if best_value is not None else t("challenges.no_try")
        if progress is not None:
            st.progress(float(progress), text=label)
        else:
            st.caption(label)
        if card.get("award"):
            st.caption(t("challenges.met_on", when=when(card["award"].get("created_at"))))
        if card.get("required_for"):
            tier = (tiers or {}).get(card["required_for"])
            st.caption(t("challenges.required_for", tier=text(tier) if tier else card["required_for"]))
        commands = card.get("commands") or []
        if commands:
            st.code("\n".join(commands), language="bash")
        if start_button and commands:
            parsed = parse_train_command(commands[0])
            kind = "secondary" if card["status"] == "met" else "primary"
            if parsed is not None and st.button(t("challenges.start", what=f"{parsed.name} · {parsed.target}"),
                                                key=f"start-{key}", type=kind):
                with shown_errors():
                    start_training(parsed)


def rows_for(entries: list[Mapping[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    """Table rows with translated column names (``challenges.col.<name>``)."""
    return [{t(f"challenges.col.{c}"): when(entry.get(c)) if c == "created_at" else entry.get(c) for c in columns}
            for entry in entries]


def leaderboard(board: Mapping[str, Any], *, goal: str | None = None, gan: bool = False) -> None:
    """A game's or a challenge's leaderboard: agents, people, and the published reference scores.

    ``goal``: the challenge's goal in the session's language; ``gan``: the target is a data set
    (people do not play it, even before any GAN result says so)."""
    if board["type"] == "challenge":
        st.caption(f"{text(board['title'])} · {goal or board['goal']}")
        entries = board.get("entries") or []
        if entries:
            columns = ["rank", "player", "algo", "run_id", "value", "meets", "step", "created_at"]
            st.dataframe(rows_for(entries, columns), hide_index=True, width="stretch")
        else:
            st.info(t("challenges.board_empty"))
        return
    st.markdown(f"**{t('challenges.agents')}**")
    agents = board.get("agents") or []
    if not agents:
        st.info(t("challenges.board_empty"))
    elif board.get("kind") == "gan" or gan:
        st.dataframe(rows_for(agents, ["rank", "metric", "player", "model", "run_id", "dataset", "step", "fd", "kid",
                                       "psnr", "l1", "cycle_l1", "samples"]),
                     hide_index=True, width="stretch")
    else:
        st.dataframe(rows_for(agents, ["rank", "player", "algo", "run_id", "env", "step", "result", "mean", "std",
                                       "games", "human_normalised"]),
                     hide_index=True, width="stretch")
    if board.get("kind") != "gan" and not gan:
        st.markdown(f"**{t('challenges.humans')}**")
        humans = board.get("humans") or []
        if humans:
            st.dataframe(rows_for(humans, ["rank", "player", "score", "games", "env", "human_normalised"]),
                         hide_index=True, width="stretch")
        else:
            st.info(t("challenges.humans_empty"))
    reference = board.get("reference")
    if reference:
        cols = st.columns(3)
        for col, name in zip(cols, ("random", "human", "nature_dqn")):
            col.metric(t(f"challenges.ref.{name}"), fmt(reference.get(name)))
        st.caption(t("challenges.ref_source"))
