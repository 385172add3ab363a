"""What this machine can run: detection from simulated readings, the memory formula, tier choice."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
from types import SimpleNamespace

import psutil
import pytest

from recommender import hardware
from recommender.errors import InputError, TaskprofError
from recommender.hardware import GB, Machine
from recommender.profiles import load_catalogue


def machine(gb: float, gpu_gb: float | None = None) -> Machine:
    return Machine(int(gb * GB), None, int(gpu_gb * GB) if gpu_gb else None, False, "test")


# What psutil.virtual_memory() returns on each platform (its fields there), in bytes.
LINUX = SimpleNamespace(total=24 * GB, available=20 * GB, percent=16.7, used=3 * GB, free=1 * GB, active=8 * GB,
                        inactive=9 * GB, buffers=GB // 10, cached=18 * GB, shared=GB // 5, slab=GB // 3)
MACOS = SimpleNamespace(total=64 * 2**30, available=41 * 2**30, percent=35.9, used=20 * 2**30, free=2 * 2**30,
                        active=20 * 2**30, inactive=19 * 2**30, wired=3 * 2**30)
WINDOWS = SimpleNamespace(total=32 * 2**30, available=11 * 2**30, percent=65.6, used=21 * 2**30, free=11 * 2**30)


def simulate(monkeypatch, memory: SimpleNamespace, platform_name: str, machine_name: str) -> None:
    monkeypatch.delenv("TASKPROF_MEMORY", raising=False)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory)
    monkeypatch.setattr(sys, "platform", platform_name)
    monkeypatch.setattr(platform, "machine", lambda: machine_name)


MEMINFO = """MemTotal:       24576000 kB
MemFree:         1000000 kB
MemAvailable:   20480000 kB
Buffers:          123456 kB
"""


def test_meminfo_is_read_in_bytes():
    assert hardware.parse_meminfo(MEMINFO) == (24576000 * 1024, 20480000 * 1024)
    with pytest.raises(ValueError):
        hardware.parse_meminfo("Buffers: 1 kB\n")


def test_linux_memory_comes_from_the_kernel_without_psutil(monkeypatch, tmp_path):
    (tmp_path / "meminfo").write_text(MEMINFO)
    monkeypatch.setattr(hardware, "MEMINFO", str(tmp_path / "meminfo"))
    simulate(monkeypatch, LINUX, "linux", "x86_64")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: pytest.fail("psutil asked on Linux"))
    found = hardware.detect()
    assert (found.total_bytes, found.available_bytes) == (24576000 * 1024, 20480000 * 1024)
    assert not found.unified and found.probe_gpu and found.source == "detected"


def test_linux_without_proc_asks_psutil(monkeypatch, tmp_path):
    monkeypatch.setattr(hardware, "MEMINFO", str(tmp_path / "no-such-file"))
    simulate(monkeypatch, LINUX, "linux", "x86_64")
    found = hardware.detect()
    assert (found.total_bytes, found.available_bytes) == (24 * GB, 20 * GB)


def test_apple_silicon_memory_is_unified_and_reports_what_is_available(monkeypatch):
    simulate(monkeypatch, MACOS, "darwin", "arm64")
    found = hardware.detect()
    assert (found.total_bytes, found.available_bytes) == (64 * 2**30, 41 * 2**30)
    assert found.unified
    assert not found.probe_gpu and found.gpu_bytes is None  # no nvidia-smi on a Mac
    assert hardware.fits(load_catalogue()["research"].model_for("quality"), found)  # 70B on a 64 GiB Mac


def test_an_intel_mac_is_not_unified(monkeypatch):
    simulate(monkeypatch, MACOS, "darwin", "x86_64")
    assert not hardware.detect().unified


def test_windows_memory_needs_no_sysconf(monkeypatch):
    simulate(monkeypatch, WINDOWS, "win32", "AMD64")
    monkeypatch.delattr(os, "sysconf", raising=False)  # Windows has none: detection must not need it
    found = hardware.detect()
    assert (found.total_bytes, found.available_bytes) == (32 * 2**30, 11 * 2**30)
    assert not found.unified and found.probe_gpu


def test_unreadable_memory_is_a_one_line_error_that_says_what_to_do(monkeypatch):
    def refuse():
        raise OSError(2, "No such file or directory", "/proc/meminfo")

    monkeypatch.delenv("TASKPROF_MEMORY", raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(psutil, "virtual_memory", refuse)
    with pytest.raises(TaskprofError, match="--memory") as raised:
        hardware.detect()
    assert "\n" not in str(raised.value)


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="needs a Linux /proc")
def test_psutil_is_imported_only_where_it_is_needed():
    code = ("import sys; from recommender import hardware; hardware.detect('16GB'); hardware.detect(); "
            "linux = 'psutil' in sys.modules; hardware.MEMINFO = '/no/such/file'; hardware.detect(); "
            "print(linux, 'psutil' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "TASKPROF_MEMORY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "True"]


def test_nvidia_smi_output_sums_every_gpu():
    assert hardware.parse_nvidia_smi("24564\n24564\n") == 2 * 24564 * 2**20
    assert hardware.parse_nvidia_smi("") is None
    assert hardware.parse_nvidia_smi("NVIDIA-SMI has failed\n") is None


def test_detected_machine_is_this_one():
    found = hardware.detect()
    assert found.source == "detected"
    assert found.total_bytes > 256 * 2**20
    assert found.available_bytes is None or found.available_bytes <= found.total_bytes


@pytest.mark.parametrize(("text", "expected"), [
    ("64GB", 64 * GB), ("64", 64 * GB), ("48 GiB", 48 * 2**30), ("16000MB", 16 * GB), ("1TB", 1000 * GB),
])
def test_memory_sizes(text, expected):
    assert hardware.parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-4GB", "10 apples", "1MB", ""])
def test_bad_memory_sizes(text):
    with pytest.raises(InputError):
        hardware.parse_size(text)


def test_memory_flag_and_variable_simulate_another_machine(monkeypatch):
    monkeypatch.setenv("TASKPROF_MEMORY", "128GB")
    assert hardware.detect().total_bytes == 128 * GB
    assert hardware.detect("16GB").total_bytes == 16 * GB  # the flag wins


def test_memory_formula_is_weights_plus_kv_cache_plus_overhead():
    model = load_catalogue()["research"].model_for("fast")  # llama3.1:8b, 4.9 GB
    kv = hardware.KV_BYTES_PER_TOKEN_1B * model.params_b ** hardware.KV_EXPONENT * hardware.DEFAULT_CONTEXT
    assert hardware.model_memory_bytes(model) == int(model.size_gb * GB + kv + hardware.OVERHEAD_BYTES)
    # Llama 3.1 8B keeps 131 kB of K and V a token; the fit must not underestimate it badly.
    assert 120_000 <= hardware.kv_bytes_per_token(model) <= 160_000
    longer = hardware.model_memory_bytes(model, context_tokens=32768)
    assert longer > hardware.model_memory_bytes(model)


# Memory each tier of the design needs: a 7-8B fast model, a 14B, a 32B and a 70B quality model.
@pytest.mark.parametrize(("profile", "tier", "smallest_fit_gb"), [
    ("programming", "fast", 16),        # qwen2.5-coder:7b ~6.7 GB
    ("skills-building", "fast", 16),    # qwen2.5:14b ~11.3 GB
    ("programming", "quality", 36),     # qwen2.5-coder:32b ~22.9 GB
    ("research", "quality", 64),        # llama3.3:70b ~46.7 GB
])
def test_each_tier_fits_from_the_expected_machine_size(profile, tier, smallest_fit_gb):
    model = load_catalogue()[profile].model_for(tier)
    sizes = [16, 24, 36, 48, 64, 128]
    fits = [s for s in sizes if hardware.fits(model, machine(s))]
    assert fits[0] == smallest_fit_gb
    assert fits == [s for s in sizes if s >= smallest_fit_gb]


@pytest.mark.parametrize(("gb", "programming", "research"), [
    (8, "fast", "fast"), (16, "fast", "fast"), (24, "fast", "fast"), (36, "quality", "fast"),
    (48, "quality", "fast"), (64, "quality", "quality"), (128, "quality", "quality"),
])
def test_tier_choice_across_memory_sizes(gb, programming, research):
    catalogue = load_catalogue()
    assert hardware.recommend_tier(catalogue["programming"], machine(gb)).tier == programming
    choice = hardware.recommend_tier(catalogue["research"], machine(gb))
    assert choice.tier == research
    if research == "fast":
        assert "OLLAMA_HOST" in choice.hint


def test_nvidia_smi_is_read_only_when_a_fit_depends_on_it(tmp_path, monkeypatch):
    marker = tmp_path / "asked"
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ntouch {marker}\necho 24564\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.delenv("TASKPROF_MEMORY", raising=False)
    found = hardware.detect()
    catalogue = load_catalogue()
    small = catalogue["programming"].model_for("fast")
    assert hardware.fits(small, found)
    assert not marker.exists()  # system memory was enough: no GPU question asked
    # Bigger than any machine's memory, so the answer depends on the GPU on every machine.
    huge = dataclasses.replace(catalogue["research"].model_for("quality"), size_gb=100_000)
    assert not hardware.fits(huge, found)
    assert marker.exists()
    assert found.gpu_bytes == 24564 * 2**20


@pytest.mark.parametrize("gb", [1, 4, 8])
def test_a_machine_too_small_for_any_tier_is_told_so_not_tight(gb):
    research = load_catalogue()["research"]  # llama3.1:8b ~6.9 GB, llama3.3:70b ~47 GB
    choice = hardware.recommend_tier(research, machine(gb))
    assert choice.tier == "fast" and not choice.fits
    assert "tight" not in choice.reason
    need = hardware.model_memory_bytes(research.model_for("fast")) / GB
    allows = hardware.usable_bytes(machine(gb)) / GB
    assert f"llama3.1:8b does not fit: it needs ~{need:.1f} GB and this machine allows ~{allows:.1f} GB" in choice.reason
    assert "Neither tier fits" in choice.hint and "OLLAMA_HOST" in choice.hint
    assert hardware.recommend_tier(research, machine(16)).fits  # the fast model fits 16 GB


def test_suggest_with_too_little_memory_says_it_does_not_fit(run):
    result = run("suggest", "--memory", "1GB", "--no-log", "write a poem about autumn")
    assert result.exit_code == 0, result.output
    assert "tight" not in result.output
    assert "does not fit: it needs ~6.9 GB and this machine allows ~0.8 GB of its 1.0 GB" in result.output


def test_a_discrete_gpu_adds_its_memory():
    model = load_catalogue()["programming"].model_for("quality")
    assert not hardware.fits(model, machine(24))
    assert hardware.fits(model, machine(24, gpu_gb=24))


def test_design_expectations_by_size():
    catalogue = load_catalogue()
    assert hardware.expected_seconds(catalogue["research"].model_for("fast")) == (2, 5)
    assert hardware.expected_seconds(catalogue["skills-building"].model_for("fast")) == (5, 10)
    assert hardware.expected_seconds(catalogue["programming"].model_for("quality")) == (10, 20)
    assert hardware.expected_seconds(catalogue["research"].model_for("quality")) == (20, 40)


def test_profiles_mark_tiers_this_machine_cannot_hold(run):
    small = run("profiles", "--memory", "16GB")
    assert "qwen2.5-coder:32b (too big)" in small.stdout
    assert "qwen2.5-coder:7b (too big)" not in small.stdout
    big = run("profiles", "--memory", "128GB")
    assert "(too big)" not in big.stdout
    data = {p["name"]: p for p in json.loads(run("profiles", "--json", "--memory", "36GB").stdout)}
    fits = {m["tier"]: m["fits"] for m in data["research"]["models"]}
    assert fits == {"fast": True, "quality": False}
