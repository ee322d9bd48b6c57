"""Home: who plays, their tier and the way to the next one, the one suggested next challenge,
recent runs, and one-click first steps that start real training jobs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from playground import access, runs
from playground.errors import PlaygroundError
from playground.game import profiles
from playground.ui import auth
from playground.ui.common import error_text, page, shown_errors, t
from playground.ui.game_views import (
    RUN_STATUS_ICONS,
    STATUS_ICONS,
    announce,
    challenge_card,
    fmt,
    load_game,
    rows_for,
    TrainCommand,
    start_training,
    text,
)

RECENT_RUNS = 8


def player_switch(game: Any, player: str) -> None:
    """Play as someone else on this machine, or as a new player (``playground profile NAME --use``)."""
    with st.expander(t("home.switch_player")):
        names = [row["player"] for row in game.players_summary()]
        if player not in names:
            names.insert(0, player)
        with st.form("home.player_form", border=False):
            chosen = st.selectbox(t("home.pick_player"), names, index=names.index(player))
            new = st.text_input(t("home.new_player"), placeholder=t("home.new_player_hint"))
            if st.form_submit_button(t("home.use_player")):
                with shown_errors():
                    name = profiles.use(new.strip() or chosen)
                    if profiles.active_player() != name:
                        st.warning(t("home.env_player", name=profiles.active_player()))
                    else:
                        st.rerun()


def tier_progress(profile: dict[str, Any]) -> None:
    tier = text(profile["tier"]["name"])
    nxt = profile.get("next_tier")
    cols = st.columns([2, 1, 1, 1])  # tier names are long ("Getting started", "Going deeper")
    cols[0].metric(t("home.tier"), tier)
    cols[1].metric(t("home.xp"), fmt(profile["xp"]))
    cols[2].metric(t("home.challenges_met"), f"{profile['challenges_met']} / {profile['challenges_total']}")
    cols[3].metric(t("home.badges"), f"{profile['achievements_earned']} / {profile['achievements_total']}")
    if nxt is None:
        st.success(t("home.top_tier", tier=tier))
        return
    st.progress(float(nxt["xp_progress"]),
                text=t("home.to_next_tier", tier=text(nxt["name"]), xp=fmt(nxt["xp_missing"]), need=fmt(nxt["xp"])))
    if nxt["requires"]:
        done = "  ".join(f"{STATUS_ICONS['met' if r['met'] else 'open']} {text(r['title'])}" for r in nxt["requires"])
        st.caption(t("home.tier_requires", tier=text(nxt["name"]), challenges=done))


def first_steps() -> None:
    st.subheader(t("home.first_steps"))
    st.caption(t("home.first_steps_hint"))
    first, left, right = st.columns(3)
    with first:  # the first lesson: a table that learns in seconds
        if st.button(t("home.train_taxi"), key="home.train_taxi", type="primary", width="stretch"):
            with shown_errors():
                start_training(TrainCommand("rl", "qlearning", "Taxi-v4"))
        st.caption(t("home.train_taxi_hint"))
    with left:
        if st.button(t("home.train_ppo"), key="home.train_ppo", type="primary", width="stretch"):
            with shown_errors():
                start_training(TrainCommand("rl", "ppo", "CartPole-v1"))
        st.caption(t("home.train_ppo_hint"))
    with right:
        if st.button(t("home.train_dcgan"), key="home.train_dcgan", type="primary", width="stretch"):
            with shown_errors():
                start_training(TrainCommand("gan", "dcgan", "mnist-5k"))
        st.caption(t("home.train_dcgan_hint"))


def recent_runs() -> None:
    st.subheader(t("home.recent_runs"))
    try:
        records = [runs.record(r) for r in access.visible(auth.actor(), runs.list_runs())]
    except PlaygroundError as exc:
        st.error(error_text(exc))
        return
    if not records:
        st.info(t("home.no_runs"))
        return
    rows = []
    for r in list(reversed(records))[:RECENT_RUNS]:
        last = r.get("last_eval")
        rows.append({
            "run": r["id"],
            "status": f"{RUN_STATUS_ICONS.get(r['status'], '')} {t('home.run_status.' + r['status'])}",
            "algo": r["algo"],
            "env": r["env"],
            "progress": f"{fmt(r['step'])} / {fmt(r['total_steps'])}",
            "last_eval": last["mean"] if last else None,
            "created_at": r["created_at"],
        })
    st.dataframe(rows_for(rows, ["run", "status", "algo", "env", "progress", "last_eval", "created_at"]),
                 hide_index=True, width="stretch")
    if len(records) > RECENT_RUNS:
        st.caption(t("home.more_runs", n=len(records)))


def render() -> None:
    page("nav.home")
    with shown_errors():
        game = load_game()
        player = auth.player()
        announce(game, player)
        profile = game.profile(player)
        tiers = {tier.id: tier.name for tier in game.catalogue.tiers}
        st.subheader(t("home.hello", name=player))
        if not auth.served():  # on a served app the signed-in person is the player, and nobody else
            player_switch(game, player)
        tier_progress(profile)

        st.subheader(t("home.next_challenge"))
        nxt = profile.get("next_challenge")
        if nxt is None:
            st.success(t("home.all_done"))
        else:
            challenge_card(nxt, key="home-next", tiers=tiers, start_button=True)
        if profile["recent_awards"]:
            titles = {c.id: c.title for c in game.catalogue.challenges}
            lines = [f"🏆 {text(titles.get(a['challenge'], a['challenge']))} ({t('challenges.xp', xp=a['xp'])})"
                     for a in reversed(profile["recent_awards"])]
            st.caption(t("home.recent_awards") + " " + " · ".join(lines))
    first_steps()
    recent_runs()


render()
