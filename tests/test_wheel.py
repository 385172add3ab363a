"""A wheel carries the catalogue and the classifier, and works outside the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    wheel = next(dist.glob("taskprof-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True, text=True)
    # Run from an unrelated folder so that nothing can be found through the source tree.
    env = {**os.environ, "TASKPROF_HOME": str(tmp_path / "home")}
    env.pop("PYTHONPATH", None)
    exe = env_dir / "bin" / "taskprof"
    out = subprocess.run([str(exe), "profiles", "--json"], cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    profiles = json.loads(out.stdout)
    assert len(profiles) == 13
    shown = subprocess.run([str(exe), "profiles"], cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    assert "document-intelligence" in shown.stdout
    # The classifier travels in the wheel too: a wheel without models/ fails here.
    suggested = subprocess.run([str(exe), "suggest", "--json", "review this contract"],
                               cwd=tmp_path, env=env, capture_output=True, text=True)
    assert suggested.returncode == 0, suggested.stderr
    assert json.loads(suggested.stdout)["profile"] == "document-intelligence"
    location = subprocess.run(
        [str(py), "-c", "from recommender import paths; print(paths.bundled_dir('profiles'), paths.bundled_dir('models'))"],
        cwd=tmp_path, env=env, check=True, capture_output=True, text=True,
    ).stdout.split()
    assert all(str(env_dir) in loc for loc in location), location
