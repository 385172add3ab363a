"""One model, one size: every command quotes the same download size for the same reference.

A user profile that names a bundled model without its size used to get an estimate from the tag
(deepseek-r1:32b: 32 x 0.65 = 20.8 GB) while data-work says 20.0 GB, so `profiles show`, `profiles
size` (whose total then depended on the order of its arguments) and `install --dry-run` disagreed.
"""

from __future__ import annotations

import json

BARE = {
    "name": "mine",
    "description": "my reasoning profile",
    "models": [
        {"name": "qwen2.5:7b", "tag": "latest", "tier": "fast", "purpose": "quick answers"},
        {"name": "deepseek-r1:32b", "tag": "latest", "tier": "quality", "purpose": "long reasoning"},
    ],
    "recommended_for": ["thinking things through"],
}


def _write_user_profile(home, doc=BARE):
    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{doc['name']}.json").write_text(json.dumps(doc), encoding="utf-8")


def _model(profile_json, ref):
    return next(m for m in profile_json["models"] if m["name"] == ref)


def test_a_bundled_model_named_bare_in_a_user_profile_has_the_bundled_size(run, taskprof_home):
    _write_user_profile(taskprof_home)
    mine = json.loads(run("profiles", "show", "mine", "--json").stdout)
    data_work = json.loads(run("profiles", "show", "data-work", "--json").stdout)
    theirs = _model(data_work, "deepseek-r1:32b")
    ours = _model(mine, "deepseek-r1:32b")
    assert (ours["size_gb"], ours["params_b"]) == (theirs["size_gb"], theirs["params_b"]) == (20.0, 32.8)
    # The model taskprof knows nothing about is still estimated from its tag, and says so.
    assert _model(mine, "qwen2.5:7b")["size_gb"] == 4.5


def test_profiles_size_total_does_not_depend_on_the_order_of_the_profiles(run, taskprof_home):
    _write_user_profile(taskprof_home)
    one = json.loads(run("profiles", "size", "mine", "data-work", "--json").stdout)
    other = json.loads(run("profiles", "size", "data-work", "mine", "--json").stdout)
    assert one["total_gb"] == other["total_gb"] == round(20.0 + 4.7 + 4.5, 2)
    sizes = {m["ref"]: m["size_gb"] for m in one["models"]}
    assert sizes["deepseek-r1:32b"] == 20.0
    assert one["saved_gb"] == other["saved_gb"] == 20.0


def test_install_plan_and_profiles_show_agree(run, taskprof_home, ollama_server):
    _write_user_profile(taskprof_home)
    ollama_server.publish("qwen2.5:7b")
    ollama_server.publish("deepseek-r1:32b")
    env = {"OLLAMA_HOST": ollama_server.host}
    shown = json.loads(run("profiles", "show", "mine", "--json").stdout)
    plan = run("install", "mine", "--tier", "all", "--dry-run", "--json", env=env)
    assert plan.exit_code == 0, plan.output
    planned = {m["model"]: m["size_gb"] for m in json.loads(plan.stdout)["plan"]["models"]}
    assert planned["deepseek-r1:32b"] == _model(shown, "deepseek-r1:32b")["size_gb"] == 20.0
    assert planned["qwen2.5:7b"] == _model(shown, "qwen2.5:7b")["size_gb"]
