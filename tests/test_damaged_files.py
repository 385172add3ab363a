"""Damaged, hostile and unwritable files: one warning (or one error line), the right exit code, nothing lost.

Each case builds the file for real and runs the console script in a subprocess, where a traceback
or a hang would show.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from recommender import config, files, paths, state
from tests.conftest import assert_one_line_error


def warnings_of(proc: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("Warning:")]


def one_warning(proc: subprocess.CompletedProcess, *needles: str) -> str:
    (warning,) = warnings_of(proc)
    for needle in needles:
        assert needle in warning, warning
    return warning


def broken_copies(path):
    return sorted(path.parent.glob(path.name + ".broken-*"))


# --- state.json --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["suggest", "review this contract"], ["status"]])
def test_non_utf8_state_is_moved_aside_with_one_warning(run_script, ollama_server, command):
    path = paths.state_path()
    path.parent.mkdir(parents=True)
    damaged = b"\xff\xfe{\"version\": 1}"
    path.write_bytes(damaged)
    proc = run_script(*command, "--host", ollama_server.host) if command[0] == "status" else run_script(*command)
    assert proc.returncode == 0, proc.stderr
    # suggest may not need the state at all; when it reads it, it says so once.
    if command[0] == "status" or warnings_of(proc):
        one_warning(proc, "state.json", "not UTF-8", "moved it to state.json.broken-")
        (kept,) = broken_copies(path)
        assert kept.read_bytes() == damaged  # nothing lost
    else:
        assert path.read_bytes() == damaged


def test_a_state_file_of_the_wrong_shape_is_moved_aside(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "installed": {"programming": "fast"}}))
    loaded = state.load(path)
    assert not loaded.exists and "installed.programming" in loaded.warning and "broken-" in loaded.warning
    assert not path.exists() and len(broken_copies(path)) == 1


# --- config.json -------------------------------------------------------------------------------


def test_config_nested_100000_deep_is_one_warning(run_script):
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("[" * 100_000 + "]" * 100_000)
    proc = run_script("suggest", "--json", "review this contract")
    assert proc.returncode == 0
    one_warning(proc, "config.json", "using the default settings")
    assert json.loads(proc.stdout)["profile"]
    assert path.read_text().startswith("[[[")  # left for the user to fix: a setting file is never replaced


def test_depth_is_checked_before_parsing_however_large_the_cap(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    with pytest.raises(files.DamagedFile, match=r"nested 100000 levels deep"):
        files.read_json(path, max_bytes=10_000_000)
    path.write_text(json.dumps({"text": "[[[[{{{{" * 100, "ok": [[1]]}))
    assert files.read_json(path)["ok"] == [[1]]  # brackets inside strings are text


def _nesting(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_nesting, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_nesting, value), default=0)
    return 0


@pytest.mark.parametrize("value", [
    {"a": 'x\\"[[[', "b": ["\\", {"c": "]]]\\\\"}]},  # escaped quotes and backslashes beside brackets
    ['"', ['\\"{', ["}\\n\""]], "[", {}],
    ["\u00e9[\u4e2d]", [[[[]]]], 'a"b\\\\"[c'],
])
def test_json_depth_matches_the_parsed_nesting(value):
    # json_depth reads the text without parsing it: strings with escapes must not shift its count.
    text = json.dumps(value, ensure_ascii=False)
    assert files.json_depth(text) == _nesting(json.loads(text))


def test_quality_host_memory_of_400_digits(run_script):
    digits = "9" * 400
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text(f'{{"quality_host_memory": {digits}}}')
    listed = run_script("config", "list", "--json")
    assert listed.returncode == 0
    one_warning(listed, "config.json", "400 digits")
    assert json.loads(listed.stdout)["quality_host_memory"] is None
    path.unlink()
    refused = run_script("config", "set", "quality_host_memory", digits)
    assert_one_line_error(refused, 2, "more memory than any machine has")
    assert not path.exists()


# --- the personal model ------------------------------------------------------------------------


def personal_warning(proc) -> str:
    return one_warning(proc, "personal model", "using the shipped classifier")


def test_personal_manifest_holding_an_array(run_script):
    folder = paths.personal_model_dir()
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("[]")
    proc = run_script("suggest", "--json", "review this contract")
    assert proc.returncode == 0
    assert "manifest.json" in personal_warning(proc)
    assert json.loads(proc.stdout)["profile"] == "document-intelligence"
    assert (folder / "manifest.json").read_text() == "[]"


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_personal_head_empty_or_truncated(run_script, damage):
    from recommender import classifier

    shipped = classifier.Classifier(paths.bundled_dir("models"))
    folder = paths.personal_model_dir()
    folder.mkdir(parents=True)
    manifest = {"format": shipped.manifest["format"], "labels": shipped.labels, "examples_file": "examples.json",
                "base_training_data": shipped.manifest["training_data"]["sha256"],
                "heads": {"static": {"file": "head-static.npz", "threshold": shipped.threshold}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "examples.json").write_text("[]")
    head = folder / "head-static.npz"
    if damage == "empty":
        head.write_bytes(b"")
    else:
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.savez(buffer, coef=shipped.coef, intercept=shipped.intercept)
        head.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    proc = run_script("suggest", "--json", "review this contract")
    assert proc.returncode == 0
    assert "head-static.npz" in personal_warning(proc)
    assert json.loads(proc.stdout)["profile"] == "document-intelligence"


# --- user profiles -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dev-zero-link", "fifo"])
def test_a_profile_that_is_not_a_file_neither_hangs_nor_reads_without_limit(run_script, kind):
    folder = paths.user_profiles_dir()
    folder.mkdir(parents=True)
    target = folder / "endless.json"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    started = time.monotonic()
    proc = run_script("profiles", "--json", timeout=30)
    assert proc.returncode == 0
    assert time.monotonic() - started < 20
    one_warning(proc, "endless.json", "skipped", "FIFO" if kind == "fifo" else "outside")
    assert "programming" in {p["name"] for p in json.loads(proc.stdout)}
    assert target.is_symlink() or target.is_fifo()  # left where it is


def test_a_link_inside_the_profiles_folder_is_read(tmp_path):
    folder = paths.user_profiles_dir()
    folder.mkdir(parents=True)
    (folder / "real.json").write_text("{}")
    (folder / "alias.json").symlink_to(folder / "real.json")
    assert files.read_json(folder / "alias.json", within=folder) == {}
    with pytest.raises(files.DamagedFile, match=r"more than"):
        files.read_bytes(folder / "real.json", max_bytes=1)


# --- an unwritable data directory --------------------------------------------------------------


def _without_root_powers() -> list[str]:
    """A prefix that runs a command without the power to write where permissions forbid it.

    root ignores a folder's mode; setpriv drops that capability for the one command."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a read-only folder cannot be made for root")
    caps = "-dac_override,-dac_read_search,-fowner"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]


@pytest.fixture
def read_only_home(taskprof_home):
    taskprof_home.mkdir()
    (taskprof_home / "config.json").write_text('{"auto_install": true}')
    personal = taskprof_home / "personal"
    personal.mkdir()
    (personal / "manifest.json").write_text("{}")
    for folder in (personal, taskprof_home):
        folder.chmod(0o500)
    yield taskprof_home
    for folder in (taskprof_home, personal):
        folder.chmod(0o700)


@pytest.mark.parametrize("args", [["config", "set", "logging", "false"], ["config", "unset", "auto_install"],
                                  ["train", "--reset"]])
def test_changes_in_a_read_only_data_dir_are_one_line_errors(read_only_home, args):
    from tests.conftest import console_script

    proc = subprocess.run([*_without_root_powers(), *console_script(), *args], capture_output=True, text=True,
                          timeout=60)
    assert_one_line_error(proc, 1, str(read_only_home))
    assert (read_only_home / "config.json").read_text() == '{"auto_install": true}'
    assert (read_only_home / "personal" / "manifest.json").exists()
    assert config.load(read_only_home / "config.json").auto_install is True
