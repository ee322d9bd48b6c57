"""Challenges and leaderboards: every challenge as a card with its progress, filtered by tier; a
leaderboard per game, dataset or challenge (agents and people, with the published reference);
badges; and every player on this store."""

from __future__ import annotations

from typing import Any

import streamlit as st

from playground.ui import auth
from playground.ui.common import page, shown_errors, t
from playground.ui.game_views import (
    announce,
    challenge_card,
    goal_text,
    leaderboard,
    load_game,
    rows_for,
    text,
    when,
)

ALL = "*"


def challenge_cards(game: Any, player: str) -> None:
    tiers = {tier.id: tier.name for tier in game.catalogue.tiers}
    left, right = st.columns([2, 1])
    with left:
        chosen = st.radio(t("challenges.tier_filter"), [ALL, *tiers], horizontal=True, key="challenges.tier",
                          format_func=lambda tid: t("challenges.all_tiers") if tid == ALL else text(tiers[tid]))
    with right:
        status = st.selectbox(t("challenges.status_filter"), [ALL, "open", "attempted", "met"], key="challenges.status",
                              format_func=lambda s: t("challenges.all_status") if s == ALL else
                              t(f"challenges.status.{s}"))
    cards = game.cards(player, tier=None if chosen == ALL else chosen)
    shown = [c for c in cards if status == ALL or c["status"] == status]
    met = sum(1 for c in cards if c["status"] == "met")
    st.caption(t("challenges.count", met=met, total=len(cards), shown=len(shown)))
    if not shown:
        st.info(t("challenges.none_shown"))
    for tier_id in tiers:
        in_tier = [c for c in shown if c["tier"] == tier_id]
        if not in_tier:
            continue
        tier = game.catalogue.tier(tier_id)
        st.subheader(text(tier.name))
        st.caption(text(tier.description) + " · " + t("challenges.tier_needs", xp=f"{tier.xp:,}"))
        columns = st.columns(2)
        for i, card in enumerate(in_tier):
            with columns[i % 2]:
                challenge_card(card, key=card["id"], tiers=tiers, start_button=True)


def boards(game: Any, player: str) -> None:
    games = sorted(set(game.known_games().values()), key=str.lower)
    challenges = {c.id: c for c in game.catalogue.challenges}
    datasets = {g for c in game.catalogue.challenges if c.kind == "gan" for g in c.games}
    options = [*games, *challenges]
    default = options.index("CartPole") if "CartPole" in options else 0

    def label(target: str) -> str:
        if target in challenges:
            return t("challenges.board_challenge", title=text(challenges[target].title))
        return target

    target = st.selectbox(t("challenges.board_pick"), options, index=default, format_func=label,
                          key="challenges.board")
    with shown_errors():
        goal = goal_text(game.card(challenges[target], player)) if target in challenges else None
        leaderboard(game.leaderboard(target), goal=goal, gan=target in datasets)


def badges(game: Any, player: str) -> None:
    earned = game.achievements(player)
    st.caption(t("challenges.badges_count", n=sum(1 for b in earned if b["earned"]), total=len(earned)))
    columns = st.columns(3)
    for i, badge in enumerate(earned):
        with columns[i % 3], st.container(border=True):
            icon = badge["icon"] if badge["earned"] else "🔒"
            st.markdown(f"**{icon} {text(badge['name'])}**")
            st.write(text(badge["text"]))
            if badge["earned"]:
                st.caption(t("challenges.badge_earned", when=when(badge["earned_at"])))


def players(game: Any, active: str) -> None:
    rows = [{**row, "tier": text(row["tier"]["name"]), "active": "✅" if row["active"] else ""}
            for row in game.players_summary(active)]
    st.dataframe(rows_for(rows, ["player", "active", "tier", "xp", "challenges_met"]), hide_index=True,
                 width="stretch")


def render() -> None:
    page("nav.challenges")
    with shown_errors():
        game = load_game()
        active = auth.player()
        announce(game, active)
        names = [row["player"] for row in game.players_summary(active)]
        index = names.index(active) if active in names else 0
        player = st.sidebar.selectbox(t("challenges.player"), names, index=index, key="challenges.player")
        cards_tab, boards_tab, badges_tab, players_tab = st.tabs(
            [t("challenges.tab_cards"), t("challenges.tab_boards"), t("challenges.tab_badges"),
             t("challenges.tab_players")])
        with cards_tab:
            challenge_cards(game, player)
        with boards_tab:
            boards(game, player)
        with badges_tab:
            badges(game, player)
        with players_tab:
            players(game, active)


render()
