"""The class at a glance, for its teacher: one row per person, its CSV, and the class's own challenge catalogue.

Everything here reads the store (and the game built on it) and nothing of the engine, so the web app's teacher page
and ``playground class …`` call the same functions.

**The rows.** Every account, and every player seen in runs or game events without one (runs from before sign-in, a
name typed into ``playground profile``): their tier, XP, challenges met of the catalogue being played, badges, running
jobs (runs created or running), runs in all, and the last time the store saw them do something (a run made, started,
beating or ended; an evaluation; a game played; an award). Signing in leaves no trace in the store, so it does not
count as activity.

**The CSV** is UTF-8 with a byte-order mark. Excel opens a double-clicked ``.csv`` in the computer's legacy code page
(GBK on a Chinese Windows, cp1252 on an English one) unless the file starts with the mark, and then shows 张伟 as
mojibake; with the mark, Excel, LibreOffice, Numbers, Google Sheets and Python's ``utf-8-sig`` (pandas too) read the
same text. The column names are English and stable (``COLUMNS``), whatever the language of the page; the tier's name
is in the asking language. Times are the server's local time, ``YYYY-MM-DD HH:MM``, which spreadsheets read as dates.

**The catalogue** a teacher chooses is checked whole by the game's own parser before anything changes; the class
setting then holds its text (``core.CATALOGUE_SETTING``), so every machine on a shared store plays it, and a copy is
kept under ``$PLAYGROUND_HOME/catalogues/`` on the machine where it was chosen. ``$PLAYGROUND_CHALLENGES`` still wins
on a machine whose environment names a file (``core.catalogue_source``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from playground import settings
from playground.access import Actor, owner
from playground.atomic import atomic_write_bytes, atomic_write_text
from playground.errors import NotAllowed, PlaygroundError
from playground.events import json_safe
from playground.game import achievements as badges
from playground.game.catalogue import Catalogue, CatalogueError
from playground.game.core import (
    CATALOGUE_SETTING,
    CatalogueSource,
    Game,
    catalogue_from_text,
    catalogue_source,
    iso,
    load_catalogue,
)
from playground.store import ACTIVE_STATUSES, Store, get_store

COLUMNS = ("player", "role", "tier", "tier_name", "xp", "challenges_met", "challenges_total", "badges",
           "running_jobs", "runs", "last_activity")
MAX_CATALOGUE_BYTES = 1 << 20  # the built-in catalogue is 42 kB
CATALOGUES = "catalogues"  # under $PLAYGROUND_HOME: the files teachers chose on this machine
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a text cell starting so is a formula to a spreadsheet


def check_teacher(actor: Actor | None) -> None:
    """The class view and its catalogue are a teacher's (None: the person at this computer, who may do all)."""
    if actor is not None and not actor.teacher:
        raise NotAllowed("classroom.teachers_only")


# -- the class at a glance --------------------------------------------------------------------------------------------
def rows(store: Store | None = None, game: Game | None = None, *, actor: Actor | None = None) -> list[dict[str, Any]]:
    """One row per person, sorted by name (JSON-ready: ``playground class show --json``)."""
    from playground import accounts, runs
    from playground.game.profiles import players_in

    check_teacher(actor)
    if game is None:
        store = store or get_store()
        runs.settle_active(store)  # a job that died is not running, whatever its row still says
        game = Game(store)
    store = game.store
    people = {a.name: a for a in accounts.everyone(store)}
    runs_of: dict[str, list[Any]] = defaultdict(list)
    for run in game.evidence.runs.values():
        runs_of[owner(run)].append(run)
    seen: dict[str, list[float]] = defaultdict(list)
    for person, runs in runs_of.items():
        seen[person] += [t for r in runs for t in (r.created_at, r.started_at, r.heartbeat_at, r.ended_at) if t]
    for attempt in game.evidence.attempts:
        seen[attempt.player].append(attempt.created_at)
    for event in game.evidence.events:
        name = event["payload"].get("player")
        if isinstance(name, str):
            seen[name].append(event["created_at"])
    for (_, name), event in [*game.award_events.items(), *game.badge_events.items()]:  # with this read's new ones
        seen[name].append(event["created_at"])
    # Not game.players(): it also names the machine's person as the owner of runs that never started.
    names = [*people, *runs_of, *players_in(game.evidence.events)]
    names = sorted(dict.fromkeys(names), key=lambda n: (n.casefold(), n))
    in_play = {c.id for c in game.catalogue.challenges}
    out = []
    for name in names:
        status = game.tier_status(name)
        runs = runs_of.get(name, [])
        account = people.get(name)
        out.append({
            "player": name,
            "role": account.role if account else None,
            "tier": status.tier.id,
            "tier_name": dict(status.tier.name),
            "xp": status.xp,
            "challenges_met": len(game.met(name) & in_play),
            "challenges_total": len(in_play),
            "badges": sum(1 for (b, p) in game.badge_events if p == name and b in badges.BY_ID),
            "running_jobs": sum(1 for r in runs if r.status in ACTIVE_STATUSES),
            "runs": len(runs),
            "last_activity": iso(max(seen[name])) if seen.get(name) else None,
        })
    return json_safe(out)


def _local(when: str | None) -> str:
    if not when:
        return ""
    return dt.datetime.fromisoformat(when).astimezone().strftime("%Y-%m-%d %H:%M")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def to_csv(table: list[dict[str, Any]], lang: str = "en") -> bytes:
    """The rows as a CSV file's bytes: ``COLUMNS`` in order, UTF-8 with a byte-order mark (see the module's note)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in table:
        shown = {**row, "tier_name": row["tier_name"].get(lang) or row["tier_name"]["en"],
                 "last_activity": _local(row["last_activity"])}
        writer.writerow([_cell(shown[c]) for c in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def write_csv(path: str | Path, table: list[dict[str, Any]], lang: str = "en") -> Path:
    """Write the CSV whole or not at all (a spreadsheet never opens half of it)."""
    try:
        return atomic_write_bytes(path, to_csv(table, lang))
    except OSError as exc:
        raise PlaygroundError("classroom.csv_unwritable", path=path, reason=exc.strerror or exc) from None


def csv_name(now: float | None = None) -> str:
    """The download's file name: ``class-2026-12-02.csv``."""
    return f"class-{dt.datetime.fromtimestamp(time.time() if now is None else now):%Y-%m-%d}.csv"


# -- the class's catalogue --------------------------------------------------------------------------------------------
def tiers_of(catalogue: Catalogue) -> list[dict[str, Any]]:
    """What a catalogue holds, tier by tier: its challenges, the XP they pay, the XP the tier needs."""
    return [{"tier": tier.id, "name": dict(tier.name), "challenges": len(catalogue.in_tier(tier.id)),
             "xp": sum(c.xp for c in catalogue.in_tier(tier.id)), "needs": tier.xp} for tier in catalogue.tiers]


def check_catalogue(data: bytes | str, name: str) -> Catalogue:
    """A catalogue file's content checked whole, as ``$PLAYGROUND_CHALLENGES`` files are; else one sentence."""
    name = Path(name).name or "catalogue.yaml"
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > MAX_CATALOGUE_BYTES:
        raise CatalogueError("classroom.catalogue_too_big", name=name, size=f"{size / 2**20:.1f}",
                             limit=MAX_CATALOGUE_BYTES // 2**20)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CatalogueError("classroom.catalogue_not_text", name=name) from None
    return catalogue_from_text(data, name)


def read_catalogue_file(path: str | Path) -> bytes:
    """A catalogue file's bytes, or the loader's sentence for a file that cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CatalogueError("game.catalogue_unreadable", path=path, reason=exc.strerror or exc) from None


def _kept(name: str, digest: str) -> Path:
    stem = re.sub(r"[^\w.-]+", "_", Path(name).stem)[:40] or "catalogue"
    return settings.home() / CATALOGUES / f"{stem}-{digest[:12]}.yaml"


def set_catalogue(data: bytes | str, name: str, *, actor: Actor | None = None, by: str | None = None,
                  store: Store | None = None) -> tuple[Catalogue, Path]:
    """Make ``data`` (a catalogue file's content, named ``name``) the class's catalogue. A bad file raises its one
    sentence and changes nothing. Returns the catalogue and where its copy is kept on this machine."""
    check_teacher(actor)
    name = Path(name).name or "catalogue.yaml"
    catalogue = check_catalogue(data, name)
    text = data if isinstance(data, str) else data.decode("utf-8-sig")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    kept = _kept(name, digest)
    if not kept.exists():
        atomic_write_text(kept, text)
    (store or get_store()).set_class_setting(CATALOGUE_SETTING, {
        "name": name, "yaml": text, "sha256": digest, "set_at": time.time(),
        "set_by": by if by is not None else actor.name if actor is not None else None})
    return catalogue, kept


def use_builtin(*, actor: Actor | None = None, store: Store | None = None) -> bool:
    """Back to the built-in catalogue; whether the class had one of its own."""
    check_teacher(actor)
    store = store or get_store()
    had = store.class_setting(CATALOGUE_SETTING) is not None
    store.set_class_setting(CATALOGUE_SETTING, None)
    return had


def in_use(store: Store | None = None) -> tuple[CatalogueSource, Catalogue | None, PlaygroundError | None]:
    """Which catalogue is played here, the catalogue itself, and the sentence that says why it cannot be read (a
    class file that an upgrade no longer accepts, a ``$PLAYGROUND_CHALLENGES`` file that went away)."""
    store = store or get_store()
    source = catalogue_source(store)
    try:
        return source, load_catalogue(store), None
    except PlaygroundError as exc:
        return source, None, exc
