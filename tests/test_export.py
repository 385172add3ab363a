"""`taskprof export litellm`: a LiteLLM proxy config of the profiles and tiers, on each tier's server."""

from __future__ import annotations

import re
import warnings

import pytest
import yaml

from recommender import serve
from recommender.profiles import load_catalogue

URL = re.compile(r"^https?://[^/\s]+$")


def load(run, *args: str, tmp_path) -> dict:
    target = tmp_path / "litellm.yaml"
    result = run("export", "litellm", "-o", str(target), *args)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the file is the result; the note goes to stderr
    return yaml.safe_load(target.read_text(encoding="utf-8"))


def check_shape(data: dict) -> None:
    """LiteLLM's documented config shape (docs.litellm.ai/docs/proxy/configs, its ConfigYAML model):
    model_list entries with a model_name and litellm_params holding `model` and `api_base`."""
    assert set(data) == {"model_list"}
    for entry in data["model_list"]:
        assert set(entry) <= {"model_name", "litellm_params", "model_info"}
        assert isinstance(entry["model_name"], str) and entry["model_name"]
        params = entry["litellm_params"]
        assert set(params) == {"model", "api_base"}
        assert params["model"].startswith("ollama_chat/")
        assert URL.match(params["api_base"]), params["api_base"]


def test_every_profile_and_tier_is_a_model_group_named_as_serve_names_it(run, tmp_path, monkeypatch):
    monkeypatch.setenv("TASKPROF_MEMORY", "128GB")
    data = load(run, tmp_path=tmp_path)
    check_shape(data)
    catalogue = load_catalogue()
    by_name = {e["model_name"]: e["litellm_params"] for e in data["model_list"]}
    assert len(by_name) == len(data["model_list"]) == 3 * len(catalogue)
    for p in catalogue.values():
        for tier in ("fast", "quality"):
            params = by_name[f"taskprof/{p.name}:{tier}"]
            assert params == {"model": f"ollama_chat/{p.model_for(tier).ref}", "api_base": "http://127.0.0.1:11434"}
        assert by_name[f"taskprof/{p.name}"]["model"].removeprefix("ollama_chat/") in {m.ref for m in p.models}
    for name in by_name:  # the same names serve accepts
        assert serve.parse_virtual(name).profile in catalogue


def test_chosen_profiles_only_and_host_flag(run, tmp_path):
    data = load(run, "programming", "writing", "--host", "gpu-box:8080", tmp_path=tmp_path)
    names = [e["model_name"] for e in data["model_list"]]
    assert names == ["taskprof/programming", "taskprof/programming:fast", "taskprof/programming:quality",
                     "taskprof/writing", "taskprof/writing:fast", "taskprof/writing:quality"]
    assert {e["litellm_params"]["api_base"] for e in data["model_list"]} == {"http://gpu-box:8080"}
    assert run("export", "litellm", "nosuch").exit_code == 2


def test_stdout_by_default(run):
    result = run("export", "litellm", "data-work")
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["model_list"][1]["model_name"] == "taskprof/data-work:fast"


def test_each_tier_points_at_its_server(run, tmp_path, ollama_server, gpu_box, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.host)
    assert run("config", "set", "quality_host", gpu_box.host).exit_code == 0
    data = load(run, "programming", tmp_path=tmp_path)
    by_name = {e["model_name"]: e["litellm_params"]["api_base"] for e in data["model_list"]}
    assert by_name["taskprof/programming:fast"] == ollama_server.host
    assert by_name["taskprof/programming:quality"] == gpu_box.host


@pytest.mark.slow
def test_litellm_reads_it_with_its_own_parser(run, tmp_path):
    """LiteLLM's config model and its Router (what the proxy builds from model_list). Slow: it needs
    the proxy extra, which CI installs for `pytest -m slow`; without it this is a failure, not a skip."""
    from litellm import Router
    from litellm.proxy._types import ConfigYAML

    data = load(run, tmp_path=tmp_path)
    parsed = ConfigYAML.model_validate(data)
    assert len(parsed.model_list) == len(data["model_list"])
    router = Router(model_list=data["model_list"])
    with warnings.catch_warnings():  # get_model_list is older than its replacement, so found in more versions
        warnings.simplefilter("ignore", DeprecationWarning)
        group = router.get_model_list(model_name="taskprof/programming:quality")
    assert [d["litellm_params"]["model"] for d in group] == ["ollama_chat/qwen2.5-coder:32b"]
