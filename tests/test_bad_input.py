"""Bad input on the CLI: one clear sentence on stderr, exit status 2, and nothing in the store changes.

Each case compares the whole store (every row of every table) and every file under the run folders
before and after the failing command, besides ``runs list --json``; a case that names something
helpful (the closest environment id, the bad key) checks the sentence says it.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

# A real PPO run of 256 steps on CartPole: one rollout size that fits, one evaluation, one checkpoint.
TINY_TRAIN = (
    "rl", "train", "ppo", "CartPole-v1", "--steps", "256", "--envs", "1",
    "--set", "n_steps=64", "--set", "batch_size=64", "--eval-episodes", "1", "--eval-every", "256",
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Any:
    """The tiny CartPole runs here train in ~1 s on one thread; on a busy 2-core machine torch's
    default thread pool spins and the same run takes ~20 s."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# -- helpers -------------------------------------------------------------------------------------
def assert_one_sentence(result: Any) -> None:
    """Exit 2, ``error: …`` on one line of stderr, no traceback."""
    assert result.code == 2, f"exit {result.code}; stdout={result.out!r} stderr={result.err!r}"
    text = result.err.strip()
    assert text.startswith("error:"), result.err
    assert "Traceback" not in result.err, result.err
    assert "\n" not in text, f"expected one line, got:\n{result.err}"
    assert len(text) > len("error: ") + 10, result.err


def snapshot(home: Path) -> dict[str, Any]:
    """Every row of every table, and the bytes of every file in the run folders."""
    from sqlalchemy import select

    from playground.store import get_store, metadata

    store = get_store()
    tables: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            tables[table.name] = sorted(repr(tuple(row)) for row in conn.execute(select(table)).all())
    files = {}
    runs_dir = home / "runs"
    if runs_dir.is_dir():
        for path in sorted(runs_dir.rglob("*")):
            if path.is_file():
                files[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"tables": tables, "files": files}


def runs_json(cli: Any) -> list[dict[str, Any]]:
    result = cli("runs", "list", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def train_tiny(cli: Any) -> str:
    result = cli(*TINY_TRAIN)
    assert result.code == 0, result.err
    run_id = result.out.splitlines()[0].strip()
    assert run_id == "ppo-CartPole-1"
    return run_id


def run_record(cli: Any, run_id: str) -> dict[str, Any]:
    result = cli("runs", "show", run_id, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def only_checkpoint(cli: Any, run_id: str) -> Path:
    record = run_record(cli, run_id)
    assert record["status"] == "finished" and record["step"] == 256
    assert [c["step"] for c in record["checkpoints"]] == [256]
    path = Path(record["checkpoints"][0]["path"])
    assert path.is_file() and zipfile.is_zipfile(path)
    return path


@pytest.fixture
def created_run(home: Path) -> str:
    """A run in the store that was created and never trained, so the store is not empty."""
    from playground import config, training

    cfg = config.build_rl_config("ppo", "CartPole-v1", steps=256, n_envs=1)
    return training.create_run(cfg).id


# -- rl train: every choice is checked before anything is created ---------------------------------
@pytest.mark.parametrize(
    ("args", "must_say"),
    [
        (("rl", "train", "sac", "CartPole-v1"), ["'sac'", "ppo"]),
        (("rl", "train", "ppo", "ALE/Pongg-v5"), ["ALE/Pongg-v5", "ALE/Pong-v5"]),
        (("rl", "train", "ppo", "cartpole-v1"), ["did you mean CartPole-v1"]),
        (("rl", "train", "ppo", "NoSuchGame-v0"), ["NoSuchGame-v0"]),
        (("rl", "train", "dqn", "MountainCarContinuous-v0"), ["DQN", "continuous"]),
        (("rl", "train", "ppo", "CartPole-v1", "--steps", "0"), ["--steps", "'0'"]),
        (("rl", "train", "ppo", "CartPole-v1", "--steps=-5"), ["--steps", "-5"]),
        (("rl", "train", "ppo", "CartPole-v1", "--steps", "abc"), ["--steps", "abc"]),
        (("rl", "train", "ppo", "CartPole-v1", "--steps", "2.5"), ["--steps", "2.5"]),
        (("rl", "train", "ppo", "CartPole-v1", "--steps", "1e400"), ["--steps"]),
        (("rl", "train", "ppo", "CartPole-v1", "--steps", "1e20"), ["--steps"]),
        (("rl", "train", "ppo", "CartPole-v1", "--set", "nonsense=1"), ["unknown hyperparameter 'nonsense'"]),
        (("rl", "train", "ppo", "CartPole-v1", "--set", "n_steps=abc"), ["'n_steps'", "abc"]),
        (("rl", "train", "ppo", "CartPole-v1", "--set", "learning_rate=fast"), ["'learning_rate'", "fast"]),
        (("rl", "train", "dqn", "CartPole-v1", "--set", "n_steps=5"), ["'n_steps'"]),
        # (bounded with tiny --steps so that, were they wrongly accepted, the run stays short)
        (("rl", "train", "ppo", "CartPole-v1", "--steps", "64", "--eval-every", "64", "--eval-episodes", "1",
          "--set", "n_epochs=true"), ["'n_epochs'"]),
        (("rl", "train", "ppo", "CartPole-v1", "--steps", "64", "--eval-every", "64", "--eval-episodes", "1",
          "--set", "learning_rate=-1"), ["'learning_rate'"]),
        (("rl", "train", "ppo", "CartPole-v1", "--set", "n_steps"), ["KEY=VALUE"]),
        (("rl", "train", "ppo", "CartPole-v1", "--preset", "nope"), ["'nope'", "cartpole"]),
        (("rl", "train", "dqn", "CartPole-v1", "--set", "gradient_steps=0"), ["'gradient_steps'"]),
        # Settings only stable-baselines3 itself refuses are caught by a small build before the run exists.
        (("rl", "train", "sb3-dqn", "CartPole-v1", "--set", "optimize_memory_usage=true"),
         ["stable-baselines3 refuses", "optimize_memory_usage"]),
        # our DQN family: settings that cannot work together, and a replay memory larger than the machine
        (("rl", "train", "dqn", "CartPole-v1", "--preset", "rainbow", "--set", "v_min=100"),
         ["v_min below v_max", "v_min=100", "v_max=100"]),
        (("rl", "train", "dqn", "CartPole-v1", "--set", "distributional=true", "--set", "atoms=1"), ["atoms=1"]),
        (("rl", "train", "dqn", "CartPole-v1", "--set", "n_step=0"), ["n_step", "not 0"]),
        (("rl", "train", "dqn", "CartPole-v1", "--set", "prioritized=true", "--set", "alpha=1.5"), ["alpha", "1.5"]),
        (("rl", "train", "dqn", "CartPole-v1", "--set", "noisy=true"), ["exploration_initial_eps=0"]),
        (("rl", "train", "dqn", "ALE/Pong-v5", "--set", "buffer_size=100000000"),
         ["100,000,000 transitions", "lower buffer_size"]),
        (("rl", "train", "ppo", "CartPole-v1", "--device", "cuda"), ["cuda"]),
        # infinite and NaN numbers, absurd sizes, names that would paint the terminal
        (("rl", "train", "ppo", "CartPole-v1", "--set", "ent_coef=inf"), ["'ent_coef'", "finite"]),
        (("rl", "train", "ppo", "CartPole-v1", "--set", "gamma=nan"), ["'gamma'", "finite"]),
        (("rl", "train", "ppo", "CartPole-v1", "--set", "net_arch=[0]"), ["'net_arch'", "layer sizes"]),
        (("rl", "train", "ppo", "CartPole-v1", "--set", "net_arch=[64, -1]"), ["'net_arch'", "-1"]),
        (("rl", "train", "ppo", "CartPole-v1", "--envs", "100000"), ["--envs", "at most 256"]),
        (("rl", "train", "ppo", "CartPole-v1", "--eval-episodes", "100000000000000000000"), ["--eval-episodes"]),
        (("rl", "train", "ppo", "CartPole-v1", "--name", "bad\x1b[31mname"), ["control characters", "\\x1b"]),
        (("rl", "train", "ppo", "CartPole-v1", "--set", "n_step=5"), ["did you mean n_steps?"]),
        (("gan", "train", "dcgan", "digits", "--set", "lr_g=inf"), ["'lr_g'", "finite"]),
        (("gan", "train", "dcgan", "digits", "--batch-size", str(10**30)), ["--batch-size", "1,797 images"]),
        (("gan", "train", "dcgan", "digits", "--iters", "1e20"), ["--iters"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_train_refuses_bad_input_before_creating_a_run(
    cli: Any, home: Path, created_run: str, args: tuple[str, ...], must_say: list[str]
) -> None:
    before, listed = snapshot(home), runs_json(cli)
    assert [r["id"] for r in listed] == [created_run]

    result = cli(*args)

    assert_one_sentence(result)
    for part in must_say:
        assert part in result.err, f"{part!r} missing from {result.err!r}"
    assert result.out == "", "no run id may be printed for a run that was not created"
    assert snapshot(home) == before
    assert runs_json(cli) == listed


def test_env_suggestions_point_at_the_closest_ids(cli: Any, home: Path) -> None:
    """The suggestion is the nearest id, not just any id: a typo in one game names that game."""
    result = cli("rl", "train", "dqn", "ALE/Breakot-v5")
    assert_one_sentence(result)
    assert "ALE/Breakout-v5" in result.err
    assert "ALE/Pong-v5" not in result.err


def test_error_text_is_printed_as_is_not_read_as_markup(cli: Any, home: Path, tmp_path: Path) -> None:
    """What the user typed comes back verbatim: brackets in an id or a path are not rich markup."""
    result = cli("rl", "train", "ppo", "[/red]")
    assert_one_sentence(result)
    assert "[/red]" in result.err

    missing = tmp_path / "model[best].zip"
    result = cli("rl", "import", str(missing), "--env", "CartPole-v1", "--algo", "ppo")
    assert_one_sentence(result)
    assert str(missing) in result.err


def test_negative_seed_is_refused_before_a_run_is_created(cli: Any, home: Path, created_run: str) -> None:
    before, listed = snapshot(home), runs_json(cli)
    result = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "256", "--seed=-1")
    assert_one_sentence(result)
    assert "seed" in result.err
    assert snapshot(home) == before
    assert runs_json(cli) == listed


# -- runs that do not exist ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("rl", "eval", "no-such-run"),
        ("rl", "resume", "no-such-run"),
        ("runs", "show", "no-such-run"),
        ("runs", "stop", "no-such-run"),
        ("runs", "delete", "no-such-run", "-y"),
    ],
    ids=lambda v: " ".join(v),
)
def test_a_run_that_does_not_exist(cli: Any, home: Path, created_run: str, args: tuple[str, ...]) -> None:
    before, listed = snapshot(home), runs_json(cli)
    result = cli(*args)
    assert_one_sentence(result)
    assert "no-such-run" in result.err
    assert snapshot(home) == before
    assert runs_json(cli) == listed


# -- resume and eval of runs that cannot ----------------------------------------------------------
def test_resume_and_eval_of_a_run_never_trained(cli: Any, home: Path, created_run: str) -> None:
    before = snapshot(home)
    for args in (
        ("rl", "resume", created_run),
        ("rl", "resume", created_run, "--steps", "1000"),
        ("rl", "eval", created_run),
    ):
        result = cli(*args)
        assert_one_sentence(result)
        assert created_run in result.err and "checkpoint" in result.err
        assert result.out == ""
        assert snapshot(home) == before
    assert run_record(cli, created_run)["status"] == "created"


def test_resume_and_eval_when_the_checkpoints_are_gone(cli: Any, home: Path) -> None:
    run_id = train_tiny(cli)
    only_checkpoint(cli, run_id).unlink()
    before, record = snapshot(home), run_record(cli, run_id)

    for args in (("rl", "resume", run_id, "--steps", "1000"), ("rl", "eval", run_id)):
        result = cli(*args)
        assert_one_sentence(result)
        assert "checkpoint" in result.err
        assert snapshot(home) == before
        assert run_record(cli, run_id) == record


def test_resume_refuses_a_run_that_is_still_running(cli: Any, home: Path) -> None:
    from playground import runs

    run_id = train_tiny(cli)
    only_checkpoint(cli, run_id)
    runs.mark_running(run_id)  # claimed by this very process, which is alive
    before, record = snapshot(home), run_record(cli, run_id)
    assert record["status"] == "running"

    result = cli("rl", "resume", run_id, "--steps", "1000")
    assert_one_sentence(result)
    assert "running" in result.err and run_id in result.err
    assert result.out == ""

    result = cli("runs", "delete", run_id, "-y")
    assert_one_sentence(result)
    assert "running" in result.err

    assert snapshot(home) == before
    assert run_record(cli, run_id) == record
    row = runs.get(run_id)
    assert row.status == "running" and row.pid == os.getpid() and row.total_steps == 256


def _truncate_to_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _replace_with_garbage(path: Path) -> None:
    path.write_bytes(b"this is not a zip archive\n" * 200)


@pytest.mark.parametrize("damage", [_truncate_to_half, _replace_with_garbage], ids=["truncated", "not-a-zip"])
def test_eval_and_resume_refuse_a_damaged_checkpoint(cli: Any, home: Path, damage: Any) -> None:
    run_id = train_tiny(cli)
    checkpoint = only_checkpoint(cli, run_id)
    damage(checkpoint)
    damaged = checkpoint.read_bytes()
    before, record = snapshot(home), run_record(cli, run_id)

    for args in (
        ("rl", "eval", run_id),
        ("rl", "eval", run_id, "--checkpoint", "latest"),
        ("rl", "resume", run_id, "--steps", "1000"),
    ):
        result = cli(*args)
        assert_one_sentence(result)
        assert checkpoint.name in result.err
        assert checkpoint.read_bytes() == damaged
        assert snapshot(home) == before
        assert run_record(cli, run_id) == record
    assert record["status"] == "finished" and record["total_steps"] == 256


def test_resume_refuses_a_whole_zip_whose_weights_are_damaged(cli: Any, home: Path) -> None:
    """The zip opens and its checksums hold, but policy.pth is not a tensor file: still nothing may change."""
    run_id = train_tiny(cli)
    checkpoint = only_checkpoint(cli, run_id)
    with zipfile.ZipFile(checkpoint) as src:
        members = {name: src.read(name) for name in src.namelist()}
    assert "policy.pth" in members
    members["policy.pth"] = b"not a torch file"
    with zipfile.ZipFile(checkpoint, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    damaged = checkpoint.read_bytes()
    before, record = snapshot(home), run_record(cli, run_id)

    for args in (("rl", "eval", run_id), ("rl", "resume", run_id, "--steps", "1000")):
        result = cli(*args)
        assert_one_sentence(result)
        assert checkpoint.name in result.err
        assert checkpoint.read_bytes() == damaged
        assert run_record(cli, run_id) == record
        assert snapshot(home) == before


def test_resume_with_an_impossible_total_changes_nothing(cli: Any, home: Path) -> None:
    run_id = train_tiny(cli)
    only_checkpoint(cli, run_id)
    config_file = Path(run_record(cli, run_id)["folder"]) / "config.yaml"
    config_text = config_file.read_text()
    before, record = snapshot(home), run_record(cli, run_id)

    for steps in ("100", "256", "0", "1e20"):
        result = cli("rl", "resume", run_id, "--steps", steps)
        assert_one_sentence(result)
        assert "--steps" in result.err
        assert config_file.read_text() == config_text
        assert run_record(cli, run_id) == record
        assert snapshot(home) == before


# -- rl import -----------------------------------------------------------------------------------
def test_import_refuses_what_is_not_an_sb3_zip(cli: Any, home: Path, created_run: str, tmp_path: Path) -> None:
    text_file = tmp_path / "model.zip"
    text_file.write_text("hello, I am not a model\n")
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "a zip, but not a stable-baselines3 one")
    missing = tmp_path / "missing.zip"
    before, listed = snapshot(home), runs_json(cli)

    for path in (text_file, other_zip, missing, tmp_path):
        result = cli("rl", "import", str(path), "--env", "CartPole-v1", "--algo", "ppo")
        assert_one_sentence(result)
        assert path.name in result.err
        assert result.out == ""
        assert snapshot(home) == before
        assert runs_json(cli) == listed
    assert not missing.exists()


# -- PLAYGROUND_HOME that cannot be used ---------------------------------------------------------
def test_playground_home_under_a_regular_file(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    afile = tmp_path / "afile"
    afile.write_text("just a file\n")
    monkeypatch.setenv("PLAYGROUND_HOME", str(afile / "home"))

    for args in (
        ("runs", "list"),
        ("runs", "list", "--json"),
        ("rl", "train", "ppo", "CartPole-v1", "--steps", "256"),
    ):
        result = cli(*args)
        assert_one_sentence(result)
        assert "PLAYGROUND_HOME" in result.err and str(afile / "home") in result.err
        assert result.out == ""
        assert afile.read_text() == "just a file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_playground_home_whose_runs_folder_is_a_file(cli: Any, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "runs").write_text("not a folder\n")
    result = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "256")
    assert_one_sentence(result)
    assert "runs" in result.err
    assert (home / "runs").read_text() == "not a folder\n"


def test_a_database_file_that_is_not_a_database(cli: Any, home: Path) -> None:
    home.mkdir(parents=True)
    garbage = b"this is not an SQLite database\n" * 100
    (home / "playground.db").write_bytes(garbage)
    result = cli("runs", "list")
    assert_one_sentence(result)
    assert "playground.db" in result.err
    assert (home / "playground.db").read_bytes() == garbage


def test_numbers_in_set_are_numbers(cli: Any, home: Path) -> None:
    """YAML alone reads 3e-4 as a string; a learning rate written that way must still be a number."""
    from playground.config import parse_sets

    assert parse_sets(["learning_rate=3e-4", "n_steps=128", "net_arch=[64, 64]", "clip_range=lin_0.1"]) == {
        "learning_rate": 3e-4, "n_steps": 128, "net_arch": [64, 64], "clip_range": "lin_0.1"}


def test_a_saved_config_that_no_longer_fits_is_one_sentence() -> None:
    from playground.config import RLConfig, saved
    from playground.errors import BadConfig

    with pytest.raises(BadConfig) as caught:
        saved(RLConfig, "ppo-CartPole-7", {"algo": "ppo", "env": "CartPole-v1", "steps": "many"})
    message = str(caught.value)
    assert message.startswith("run ppo-CartPole-7's saved settings no longer fit (") and "start a new run" in message
    assert message.count("\n") == 0


def test_settings_that_need_more_memory_than_the_machine_has_are_one_sentence(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("rl", "train", "ppo", "CartPole-v1", "--set", "n_steps=1000000000000", "--steps", "1000")
    assert result.code == 2, result.err
    assert "more memory than this machine has" in result.err and "Traceback" not in result.err


def test_a_value_error_names_its_key_without_listing_every_other(cli: Any, home: Path) -> None:
    result = cli("rl", "train", "ppo", "CartPole-v1", "--set", "n_steps=-5")
    assert_one_sentence(result)
    assert "'n_steps'" in result.err and "known keys" not in result.err and "ent_coef" not in result.err


def test_eval_of_an_absurd_number_of_games_or_an_unreadable_checkpoint(cli: Any, home: Path) -> None:
    run_id = train_tiny(cli)
    before = snapshot(home)
    result = cli("rl", "eval", run_id, "--episodes", str(10**20))
    assert_one_sentence(result)
    assert "--episodes" in result.err and "10,000" in result.err
    path = only_checkpoint(cli, run_id)
    if os.geteuid() == 0:  # root reads any file: refuse this one as the kernel would refuse an ordinary user
        import builtins
        import errno

        real_open = builtins.open

        def guarded(file: Any, *args: Any, **kwargs: Any) -> Any:
            if str(file) == str(path):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return real_open(file, *args, **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(builtins, "open", guarded)
            result = cli("rl", "eval", run_id)
    else:
        path.chmod(0)
        try:
            result = cli("rl", "eval", run_id)
        finally:
            path.chmod(0o644)
    assert_one_sentence(result)
    assert "cannot be read" in result.err and "permission" in result.err.lower()
    assert snapshot(home) == before


def test_compare_needs_two_runs(cli: Any, home: Path, created_run: str) -> None:
    before = snapshot(home)
    result = cli("runs", "compare", created_run, "--out", str(home / "one.png"))
    assert_one_sentence(result)
    assert "two or more runs" in result.err and not (home / "one.png").exists()
    assert snapshot(home) == before


def test_runs_list_leaves_out_a_damaged_row_names_it_and_lists_the_rest(cli: Any, home: Path,
                                                                        created_run: str) -> None:
    from playground import config, training
    from playground.store import get_store

    other = training.create_run(config.build_rl_config("ppo", "CartPole-v1", steps=256, n_envs=1)).id
    with get_store().engine.begin() as conn:
        conn.exec_driver_sql("UPDATE runs SET config = '{not json' WHERE id = ?", (created_run,))
    result = cli("runs", "list", "--json")
    assert result.code == 0, result.err
    assert [r["id"] for r in json.loads(result.out)] == [other]
    assert f"run {created_run} is left out" in result.err and "not valid JSON" in result.err
    shown_run = cli("runs", "show", created_run)
    assert_one_sentence(shown_run)
    assert "damaged" in shown_run.err
    assert cli("runs", "delete", created_run, "--yes").code == 0
    assert cli("runs", "list", "--json").err == ""


def test_runs_list_never_cuts_an_id_in_a_narrow_terminal(cli: Any, home: Path, created_run: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from playground import cli as cli_module
    from rich.console import Console

    monkeypatch.setattr(cli_module, "out", Console(width=80, markup=False, highlight=False, force_terminal=False))
    result = cli("runs", "list")
    assert result.code == 0
    assert created_run in result.out, result.out
    # One line per run, nothing past 80 columns, every column there (it once folded the data set into 2-letter
    # pieces down six lines); then a long name and a narrow terminal: the name gives way, then whole columns.
    [row] = [line for line in result.out.splitlines() if created_run in line]
    assert "created" in row and "CartPole-v1" in row and all(len(line) <= 80 for line in result.out.splitlines())
    header = result.out.splitlines()[0].split()
    assert header[:2] == ["id", "env"] and header[-1] == "created", header  # no empty name column
    from playground import config, training

    named = training.create_run(config.build_rl_config("ppo", "CartPole-v1", steps=256, n_envs=1),
                                label="a-very-long-name-for-a-first-cartpole-agent-that-balances").id
    wide = cli("runs", "list").out
    [row] = [line for line in wide.splitlines() if named in line]
    assert "a-very-long" in row and "…" in row and "CartPole-v1" in row and "created" in row, wide
    monkeypatch.setattr(cli_module, "out", Console(width=48, markup=False, highlight=False, force_terminal=False))
    narrow = cli("runs", "list").out
    assert created_run in narrow and all(len(line) <= 48 for line in narrow.splitlines()), narrow
    assert "created" not in narrow.splitlines()[0], narrow  # left out before an id would be cut



def test_a_stored_name_with_control_characters_is_printed_escaped(cli: Any, home: Path) -> None:
    """A name written by an older version, or straight into a shared database, never reaches a terminal raw."""
    from playground import config, training
    from playground.store import get_store

    run = training.create_run(config.build_rl_config("ppo", "CartPole-v1", steps=256, n_envs=1), label="fine")
    get_store().update_run(run.id, label="evil\x1b]0;owned\x07\x1b[2J")  # every door refuses it; the database did not
    for args in (("runs", "list"), ("runs", "show", run.id)):
        result = cli(*args)
        assert result.code == 0, result.err
        assert "\x1b" not in result.out and "\x07" not in result.out, (args, result.out)
    assert "evil\\x1b]0;o" in cli("runs", "list").out  # shown, escaped
