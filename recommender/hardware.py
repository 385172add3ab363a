"""What this machine can run: memory, and which tier of a profile fits in it."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from recommender.errors import InputError, TaskprofError

if TYPE_CHECKING:  # only for annotations: config imports this module to check sizes without the catalogue
    from recommender.profiles import Model, Profile
    from recommender.types import Tier

MEMORY_ENV = "TASKPROF_MEMORY"
MEMINFO = "/proc/meminfo"
GB = 1_000_000_000
# Share of memory a model may take: the OS and other programs keep the rest.
USABLE_SHARE = 0.75
# Runtime overhead beyond weights and KV cache (compute buffers, the server itself).
OVERHEAD_BYTES = int(0.8 * GB)
# The working context the KV cache is sized for: Ollama's default is far below the models' maximum.
DEFAULT_CONTEXT = 8192
# KV cache per token of context: KV_BYTES_PER_TOKEN_1B x (B parameters) ** KV_EXPONENT.
KV_BYTES_PER_TOKEN_1B = 60_000
KV_EXPONENT = 0.42
# Below this no model in any catalogue runs; a size this small is a typo.
MIN_MEMORY_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Machine:
    """The memory a model would run in: this machine's, or one described by a flag or a setting."""

    total_bytes: int
    available_bytes: int | None
    known_gpu_bytes: int | None
    unified: bool
    source: str  # "detected", "--memory", "TASKPROF_MEMORY"
    # A detected machine asks nvidia-smi (tens of ms or more) only when a fit depends on the answer.
    probe_gpu: bool = False

    @cached_property
    def gpu_bytes(self) -> int | None:
        """Discrete GPU memory: as given, or read once from nvidia-smi when probing is on."""
        if self.known_gpu_bytes is not None or not self.probe_gpu:
            return self.known_gpu_bytes
        return nvidia_gpu_bytes()


@dataclass(frozen=True)
class TierChoice:
    """The tier to start a profile on, and why."""

    tier: Tier
    reason: str
    hint: str | None
    fits: bool = True  # False: not even the chosen tier fits this machine


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(t|tb|tib|g|gb|gib|m|mb|mib)?\s*$", re.IGNORECASE)
_UNITS = {"t": 1e12, "tb": 1e12, "tib": 2**40, "g": 1e9, "gb": 1e9, "gib": 2**30, "m": 1e6, "mb": 1e6, "mib": 2**20}


def parse_size(text: str) -> int:
    """'64GB', '64G', '48 GiB', '16000MB', or a bare number of GB."""
    match = _SIZE_RE.match(text)
    if not match:
        raise InputError(f"'{text}' is not a memory size: write it like 64GB, 48GiB or 16000MB")
    value = float(match.group(1)) * _UNITS[(match.group(2) or "gb").lower()]
    if value > 2**60:  # 400 digits would overflow int(); no machine has an exabyte
        raise InputError(f"'{text[:20]}...' is more memory than any machine has")
    if value < MIN_MEMORY_BYTES:
        raise InputError(f"'{text}' is too little memory to run any model")
    return int(value)


def detect(memory: str | None = None) -> Machine:
    """This machine, or the one --memory / TASKPROF_MEMORY describes."""
    if memory:
        return Machine(parse_size(memory), None, None, False, "--memory")
    if os.environ.get(MEMORY_ENV):
        try:
            size = parse_size(os.environ[MEMORY_ENV])
        except InputError as exc:
            raise InputError(f"{MEMORY_ENV}={os.environ[MEMORY_ENV][:20]!s}: {exc}") from None
        return Machine(size, None, None, False, MEMORY_ENV)
    total, available = _read_memory()
    # Apple silicon: the GPU uses the same memory, so total memory is what a model can use.
    unified = sys.platform == "darwin" and _machine() == "arm64"
    return Machine(total, available, None, unified, "detected", probe_gpu=not unified)


def _machine() -> str:
    import platform

    return platform.machine()


def parse_nvidia_smi(text: str) -> int | None:
    """Total memory in bytes of all GPUs from `nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits`."""
    mib = [int(float(line.strip())) for line in text.splitlines() if line.strip().replace(".", "", 1).isdigit()]
    return sum(mib) * 2**20 if mib else None


def nvidia_gpu_bytes() -> int | None:
    """Discrete NVIDIA GPU memory, when nvidia-smi is installed and answers within 2 s."""
    # Imported here, not at the top: every `suggest` detects the machine, few ever reach nvidia-smi.
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=2, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvidia_smi(out.stdout)


def _read_memory() -> tuple[int, int | None]:
    """(total, available) bytes of system memory, on Linux, macOS and Windows alike."""
    if sys.platform.startswith("linux"):
        # psutil reads these same two lines on Linux, but importing it costs every `suggest` ~5%
        # of its time; the file read costs 0.1 ms.
        try:
            with open(MEMINFO, encoding="ascii") as f:
                return parse_meminfo(f.read())
        except (OSError, ValueError):
            pass  # no /proc (a sandbox): let psutil try
    import psutil

    try:
        memory = psutil.virtual_memory()
    except (OSError, RuntimeError) as exc:
        raise TaskprofError(f"cannot read this machine's memory ({exc}); give it with --memory or "
                            f"{MEMORY_ENV}, e.g. --memory 32GB") from None
    return int(memory.total), (int(memory.available) if memory.available else None)


def parse_meminfo(text: str) -> tuple[int, int | None]:
    """(MemTotal, MemAvailable) in bytes from the text of /proc/meminfo."""
    info = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            info[key.strip()] = int(fields[0]) * 1024
    if "MemTotal" not in info:
        raise ValueError("no MemTotal line")
    return info["MemTotal"], info.get("MemAvailable")


def kv_bytes_per_token(model: Model) -> float:
    """fp16 K and V for every layer, by model size: 60 kB x (B parameters)^0.42.

    Fitted to the grouped-query models in the catalogue (2 x layers x KV heads x head size x 2 bytes):
    Llama 3.1 8B 131 kB/token, Qwen2.5 14B 197 kB, Qwen2.5 32B 262 kB, Llama 3.3 70B 328 kB;
    the fit errs high (143, 181, 260, 357 kB), which is the safe side.
    """
    return float(KV_BYTES_PER_TOKEN_1B * model.params_b ** KV_EXPONENT)


def model_memory_bytes(model: Model, context_tokens: int | None = None) -> int:
    """Memory to run a model: weights (its download size) + KV cache for the context + overhead."""
    context = min(context_tokens or DEFAULT_CONTEXT, model.context)
    return int(model.size_gb * GB + kv_bytes_per_token(model) * context + OVERHEAD_BYTES)


def system_share(machine: Machine) -> int:
    """75% of memory: the rest is the OS and your programs."""
    return int(machine.total_bytes * USABLE_SHARE)


def usable_bytes(machine: Machine) -> int:
    """What models may take: the system share plus a discrete GPU's own memory (Ollama splits a
    model between GPU and system memory)."""
    return system_share(machine) + (machine.gpu_bytes or 0)


def fits(model: Model, machine: Machine) -> bool:
    need = model_memory_bytes(model)
    # System memory first, so the GPU is read only when it could change the answer.
    return need <= system_share(machine) or need <= usable_bytes(machine)


def tier_fits(profile: Profile, machine: Machine) -> dict[str, bool]:
    return {m.tier: fits(m, machine) for m in profile.models}


def recommend_tier(profile: Profile, machine: Machine) -> TierChoice:
    quality, fast = profile.model_for("quality"), profile.model_for("fast")
    have = machine.total_bytes / GB
    if fits(quality, machine):
        need = model_memory_bytes(quality) / GB
        return TierChoice("quality", f"{quality.ref} needs ~{need:.0f} GB and this machine has {have:.0f} GB", None)
    need = model_memory_bytes(quality) / GB
    reason = f"{quality.ref} needs ~{need:.0f} GB, more than {allowance(machine)}; {fast.ref} fits"
    hint = f"For the quality tier, point OLLAMA_HOST at a machine with ~{need / USABLE_SHARE:.0f} GB or more."
    if not fits(fast, machine):
        # Not "tight": a model larger than the memory allowed to it swaps or fails to load.
        fast_need, allows = model_memory_bytes(fast) / GB, usable_bytes(machine) / GB
        reason = (f"{fast.ref} does not fit: it needs ~{_gb(fast_need)} GB and this machine allows "
                  f"~{_gb(allows)} GB of its {_gb(have)} GB; {quality.ref} needs ~{need:.0f} GB")
        hint = (f"Neither tier fits here: point OLLAMA_HOST at a machine with ~{fast_need / USABLE_SHARE:.0f} GB "
                f"or more (~{need / USABLE_SHARE:.0f} GB for the quality tier).")
        return TierChoice("fast", reason, hint, fits=False)
    return TierChoice("fast", reason, hint)


def allowance(machine: Machine, where: str = "this machine's") -> str:
    """What a model may use, said as a person checks it: '~19 GB (75% of this machine's 25 GB)'."""
    share = f"{USABLE_SHARE:.0%} of {where} {machine.total_bytes / GB:.0f} GB"
    gpu = f" plus its GPU's {machine.gpu_bytes / GB:.0f} GB" if machine.gpu_bytes else ""
    return f"the ~{usable_bytes(machine) / GB:.0f} GB a model may use ({share}{gpu}; the rest is for the system)"


def _gb(value: float) -> str:
    """GB for a sentence: a decimal below 10, where rounding would hide the gap (0.8 vs 1)."""
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


# The design's expectations, seconds per response by model size (B parameters up to the bound).
EXPECTED_SECONDS = ((9.0, (2, 5)), (16.0, (5, 10)), (40.0, (10, 20)), (float("inf"), (20, 40)))


def expected_seconds(model: Model) -> tuple[int, int]:
    """The design's seconds-per-response range for a model of this size (7-8B 2-5 s ... 70B 20-40 s)."""
    return expected_seconds_for(model.params_b)


def expected_seconds_for(params_b: float) -> tuple[int, int]:
    for bound, window in EXPECTED_SECONDS:
        if params_b <= bound:
            return window
    raise AssertionError("unreachable")
