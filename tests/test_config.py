"""Settings: typed on load, checked on set, a broken file never stops a command nor gets overwritten."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Mapping

import pytest

from recommender import config, paths, usage
from recommender.errors import InputError, TaskprofError
from tests.conftest import assert_one_line_error

GB = 1_000_000_000


def store(text_or_obj) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text_or_obj if isinstance(text_or_obj, str) else json.dumps(text_or_obj))


def test_defaults_without_a_file():
    settings = config.load()
    assert dict(settings) == {name: s.default for name, s in config.SETTINGS.items()}
    assert settings.warnings == ()
    assert not paths.config_path().exists()  # reading never creates it


def test_every_setting_has_a_help_line_and_a_known_kind():
    for name, setting in config.SETTINGS.items():
        assert setting.help.strip(), name
        assert setting.kind in config.KINDS, name


# --- load: the three rules -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "stored", "typed"), [
    ("logging", False, False),
    ("log_text", False, False),
    ("auto_install_after", 7, 7),
    ("auto_install_tier", "quality", "quality"),
    ("update_every", 604800, 604800),
    ("update_every", None, None),
    ("quality_host", "http://gpu-box:11434", "http://gpu-box:11434"),
    ("quality_host", "gpu-box", "http://gpu-box:11434"),  # any address Ollama takes, normalized
    ("fast_host_memory", 128 * GB, 128 * GB),
])
def test_typed_values_are_used_silently(name, stored, typed):
    store({name: stored})
    settings = config.load()
    assert settings[name] == typed
    assert settings.warnings == ()


@pytest.mark.parametrize(("name", "stored", "typed", "command"), [
    ("logging", "false", False, "taskprof config set logging false"),
    ("auto_install", "yes", True, "taskprof config set auto_install yes"),
    ("auto_install_after", "5", 5, "taskprof config set auto_install_after 5"),
    ("auto_install_tier", "ALL", "all", "taskprof config set auto_install_tier ALL"),
    ("update_every", "7d", 7 * 86400, "taskprof config set update_every 7d"),
    ("update_every", "off", None, "taskprof config set update_every off"),
    ("quality_host_memory", "128 GB", 128 * GB, "taskprof config set quality_host_memory '128 GB'"),
])
def test_a_string_config_set_accepts_is_read_with_a_warning(name, stored, typed, command):
    store({name: stored})
    settings = config.load()
    assert settings[name] == typed
    (warning,) = settings.warnings
    assert name in warning and command in warning and "\n" not in warning


def test_stored_false_string_turns_logging_off(run):
    store({"logging": "false"})
    assert run("suggest", "--json", "review this contract").exit_code == 0
    assert list(usage.events()) == []
    store({"logging": True})
    assert run("suggest", "--json", "review this contract").exit_code == 0
    assert len(list(usage.events())) == 1  # the same command logs when logging is on


@pytest.mark.parametrize(("name", "stored"), [
    ("auto_install_after", "abc"),
    ("auto_install_after", 0),
    ("auto_install_after", 1001),
    ("auto_install_after", True),  # JSON true is not a count, though Python's bool is an int
    ("auto_install_after", 2.5),
    ("logging", "maybe"),
    ("logging", 0),
    ("logging", None),
    ("auto_install_tier", "huge"),
    ("update_every", "7"),
    ("update_every", 0),
    ("update_every", "53w"),
    ("quality_host", "ftp://gpu-box"),
    ("quality_host", 11434),
    ("fast_host_memory", "lots"),
    ("fast_host_memory", 1000),
    ("log_text", {"nested": [1, 2]}),
])
def test_anything_else_is_a_warning_and_the_default(name, stored):
    store({name: stored, "auto_install": True})
    settings = config.load()
    assert settings[name] == config.SETTINGS[name].default
    assert settings["auto_install"] is True  # one bad value spoils only itself
    (warning,) = settings.warnings
    assert name in warning and json.dumps(stored) in warning and "default" in warning
    assert "\n" not in warning


@pytest.mark.parametrize("text", ["{nope", "", "[1, 2]", '"logging"', "null"])
def test_a_broken_file_gives_every_default_and_one_warning(text):
    store(text)
    settings = config.load()
    assert dict(settings) == {name: s.default for name, s in config.SETTINGS.items()}
    (warning,) = settings.warnings
    assert str(paths.config_path()) in warning and "\n" not in warning


def test_a_broken_file_is_not_overwritten_by_set_or_unset():
    store("{nope, my notes")
    with pytest.raises(TaskprofError, match=r"config\.json") as raised:
        config.set_value("logging", "false")
    assert not isinstance(raised.value, InputError)  # exit 1, not a usage error
    with pytest.raises(TaskprofError, match=r"config\.json"):
        config.unset("logging")
    assert paths.config_path().read_text() == "{nope, my notes"


def test_unknown_keys_are_kept_on_rewrite_and_named_on_load():
    store({"loging": False})
    assert config.load().warnings[0].count("'loging'") == 1
    config.set_value("log_text", "false")
    assert json.loads(paths.config_path().read_text()) == {"loging": False, "log_text": False}


def test_settings_are_read_only_and_serialise_as_json():
    settings = config.load()
    assert isinstance(settings, Mapping)
    with pytest.raises(TypeError):
        settings["logging"] = False  # type: ignore[index]
    with pytest.raises(AttributeError):
        settings.logging = False  # type: ignore[misc]
    assert json.loads(json.dumps(settings.to_json()))["update_every"] is None
    assert settings.to_json() == dict(settings)
    store({"logging": "false"})
    settings = config.load()
    for twin in (copy.copy(settings), copy.deepcopy(settings), pickle.loads(pickle.dumps(settings))):
        assert twin == settings and twin.warnings == settings.warnings


# --- set: the parser for each kind ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("7d", 7 * 86400), ("12h", 12 * 3600), ("30m", 1800), ("2w", 14 * 86400), ("1m", 60), (" 3D ", 3 * 86400),
    ("off", None),
])
def test_update_every_takes_a_duration_or_off(text, seconds):
    assert config.set_value("update_every", text) == seconds
    assert config.load()["update_every"] == seconds
    assert json.loads(paths.config_path().read_text())["update_every"] == seconds


@pytest.mark.parametrize("text", ["7", "7 days", "0d", "1.5h", "53w", "-1d", "never", ""])
def test_update_every_refuses_what_is_not_a_duration(text):
    with pytest.raises(InputError, match="update_every takes a duration"):
        config.set_value("update_every", text)
    assert not paths.config_path().exists()


@pytest.mark.parametrize(("text", "url"), [
    ("gpu-box", "http://gpu-box:11434"),
    ("http://gpu-box:11434/", "http://gpu-box:11434"),
    ("https://ollama.example.com", "https://ollama.example.com:443"),
    ("[::1]:8080", "http://[::1]:8080"),
])
def test_hosts_are_ollama_addresses(text, url):
    assert config.set_value("quality_host", text) == url
    assert config.load()["quality_host"] == url
    config.unset("quality_host")
    assert config.load()["quality_host"] is None  # back to --host / OLLAMA_HOST


@pytest.mark.parametrize("text", ["ftp://gpu-box", "gpu-box:99999", "", "   "])
def test_bad_hosts_are_refused_naming_the_setting(text):
    with pytest.raises(InputError, match=r"^fast_host"):
        config.set_value("fast_host", text)


def test_host_check_does_not_load_the_ollama_client():
    code = ("import sys; from recommender import config; "
            "config.parse('quality_host', 'gpu-box'); print('ollama' in sys.modules, 'httpx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_memory_settings_take_sizes():
    assert config.set_value("quality_host_memory", "128GB") == 128 * GB
    assert config.set_value("fast_host_memory", "48GiB") == 48 * 2**30
    settings = config.load()
    assert (settings["quality_host_memory"], settings["fast_host_memory"]) == (128 * GB, 48 * 2**30)
    with pytest.raises(InputError, match=r"^quality_host_memory: 'lots' is not a memory size"):
        config.set_value("quality_host_memory", "lots")
    config.unset("quality_host_memory")
    assert config.load()["quality_host_memory"] is None


def test_unset_of_a_null_value_removes_it():
    config.set_value("update_every", "off")
    config.unset("update_every")
    assert json.loads(paths.config_path().read_text()) == {}


def test_log_text_is_a_bool():
    assert config.set_value("log_text", "false") is False
    assert config.load()["log_text"] is False
    with pytest.raises(InputError, match="true or false"):
        config.set_value("log_text", "hash")


def test_show_writes_values_as_people_read_them():
    assert config.show("update_every", 7 * 86400) == "1w"
    assert config.show("update_every", 36 * 3600) == "36h"
    assert config.show("update_every", None) == "off"
    assert config.show("quality_host_memory", 128 * GB) == "128 GB"
    assert config.show("quality_host", None) == "--host or OLLAMA_HOST"
    assert config.show("logging", False) == "false"


# --- through the CLI ----------------------------------------------------------------------------


def test_new_settings_through_the_cli(run):
    listed = run("config", "list").stdout
    for name, setting in config.SETTINGS.items():
        assert name in listed and setting.help in listed
    assert run("config", "set", "update_every", "12h").exit_code == 0
    assert json.loads(run("config", "list", "--json").stdout)["update_every"] == 12 * 3600
    bad = run("config", "set", "quality_host", "ftp://gpu-box")
    assert bad.exit_code == 2 and "quality_host" in bad.stderr


def test_a_broken_file_never_ends_in_a_traceback(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text('{"auto_install_after": "abc", "logging": "false", "quality_host": 5}')
    env = {**os.environ, "TASKPROF_HOME": str(home)}
    listed = subprocess.run([sys.executable, "-m", "recommender", "config", "list", "--json"],
                            capture_output=True, text=True, env=env)
    assert listed.returncode == 0, listed.stderr
    values = json.loads(listed.stdout)
    assert (values["auto_install_after"], values["logging"], values["quality_host"]) == (3, False, None)
    (home / "config.json").write_text("{broken")
    refused = subprocess.run([sys.executable, "-m", "recommender", "config", "set", "logging", "false"],
                             capture_output=True, text=True, env=env)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr and "config.json" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert (home / "config.json").read_text() == "{broken"


def test_serve_origins_are_checked_and_normalised(run_script):
    ok = run_script("config", "set", "serve_origins", " HTTPS://Chat.Example.org/, https://*.mycorp.test ")
    assert ok.returncode == 0, ok.stderr
    assert config.load().serve_origins == "https://chat.example.org,https://*.mycorp.test"
    bad = run_script("config", "set", "serve_origins", "chat.example.org")
    assert_one_line_error(bad, 2, "is not an origin")
    assert config.load().serve_origins == "https://chat.example.org,https://*.mycorp.test"  # nothing lost
    assert run_script("config", "set", "serve_origins", "off").returncode == 0
    assert config.load().serve_origins is None
