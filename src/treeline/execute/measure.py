"""The harness's instruments: peak memory, cost and the machine's identity."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import resource
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

_BASELINE_MB = 0.0  # resident size at a warm worker child's fork point (0: a fresh process)


def fork_baseline() -> None:
    """In a child forked from a warm worker: peaks count from here. Linux resets the high-water
    mark to the current resident size on `5` in clear_refs; what the parent had imported stays
    resident in the child, so it is subtracted — the cell's own peak, not its libraries'."""
    global _BASELINE_MB
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    _BASELINE_MB = _status_mb("VmRSS") or 0.0


def _status_mb(field: str) -> float | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0  # kB
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB, above the fork point of a warm worker.

    Linux's `ru_maxrss` also carries the parent's resident size at fork across exec, so a worker
    forked from a large process would report the parent's peak; VmHWM starts fresh at exec (and
    at `fork_baseline`).
    """
    peak = _status_mb("VmHWM")
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return peak - _BASELINE_MB


# A cell is `contended` when its worker got less than this share of its threads' time while
# other processes kept more than CONTENDED_LOAD cores busy beyond the ones its threads left free.
CONTENDED_SHARE, CONTENDED_LOAD = 0.8, 0.25


@dataclass
class Share:
    """How much of the machine a cell had while tuning."""

    cpu_share: float  # its CPU seconds ÷ (wall × threads)
    machine_load: float  # cores other processes kept busy (NaN where /proc/stat is missing)
    contended: bool


class CpuShare:
    """Measures, over a `with` block, this process's CPU seconds against its wall seconds and
    the machine's busy time (Linux /proc/stat, steal included) against its own."""

    def __init__(self, threads: int):
        self.threads = threads
        self.share: Share | None = None

    def __enter__(self) -> CpuShare:
        import time

        self._t0, self._cpu0, self._busy0 = time.perf_counter(), time.process_time(), machine_busy()
        return self

    def __exit__(self, *exc: object) -> None:
        import math
        import time

        wall = time.perf_counter() - self._t0
        own = time.process_time() - self._cpu0
        busy1 = machine_busy()
        if wall <= 0:
            return
        share = own / (wall * self.threads)
        load, contended = math.nan, False
        if self._busy0 is not None and busy1 is not None:
            cores = busy1[1]
            load = max(0.0, (busy1[0] - self._busy0[0] - own) / wall)
            spare = max(0, cores - self.threads)
            contended = share < CONTENDED_SHARE and load - spare > CONTENDED_LOAD
        self.share = Share(share, load, contended)


def machine_busy() -> tuple[float, int] | None:
    """(CPU seconds every core has been busy since boot, steal included; the core count), from
    /proc/stat; None where it cannot be read."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    total = lines[0].split()
    if total[0] != "cpu" or len(total) < 9:
        return None
    # user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, total[1:9])
    cores = sum(1 for ln in lines if ln.startswith("cpu") and ln[3:4].isdigit())
    return (user + nice + system + irq + softirq + steal) / ticks, max(cores, 1)


class NvmlSampler:
    """Peak GPU memory used by this process, sampled through NVML (for the tree libraries).

    Without NVML (no GPU, or no nvidia-ml-py) it reports None rather than a made-up number.
    """

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> NvmlSampler:
        try:
            import pynvml  # from nvidia-ml-py

            pynvml.nvmlInit()
        except Exception:
            return self
        self.peak_bytes = 0
        pid = os.getpid()

        def sample() -> None:
            handles = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]
            while not self._stop.is_set():
                for h in handles:
                    try:
                        procs = pynvml.nvmlDeviceGetComputeRunningProcesses(h)
                    except pynvml.NVMLError:
                        continue
                    used = sum(p.usedGpuMemory or 0 for p in procs if p.pid == pid)
                    self.peak_bytes = max(self.peak_bytes or 0, used)
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)

    @property
    def peak_mb(self) -> float | None:
        return None if self.peak_bytes is None else self.peak_bytes / 2**20


def cost_usd(seconds: float, price_per_hour: float) -> float:
    return seconds / 3600.0 * price_per_hour


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return out + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# The harness's own libraries: they split, tune, score and record every cell.
HARNESS_LIBRARIES = ("treeline", "numpy", "pandas", "pyarrow", "scikit-learn", "optuna", "mlflow")


def libraries() -> list[str]:
    """Every distribution whose version can change a recorded result: the harness's, and each
    contender's and featurizer's declared `libraries` (module names, mapped to the installed
    distributions that provide them). A new contender brings its libraries along."""
    from importlib import metadata

    from treeline.contenders import catalogue as contenders
    from treeline.featurize import catalogue as featurizers

    modules = {
        lib.split(".")[0]
        for cls in [*contenders().values(), *featurizers().values()]
        for lib in cls.libraries
    }
    provided = metadata.packages_distributions()
    names = set(HARNESS_LIBRARIES)
    for module in modules:
        names.update(provided.get(module, [module]))
    return sorted(names, key=str.lower)


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for lib in libraries():
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "absent"
    return out


@dataclass(frozen=True)
class OomCounts:
    """Out-of-memory kills counted before a cell: in this process's memory cgroup (where its
    workers run) and machine-wide; None where Linux does not say."""

    cgroup: int | None
    machine: int | None


def oom_counts() -> OomCounts:
    return OomCounts(cgroup_oom_kills(), oom_kills())


def oom_killed(pid: int, before: OomCounts) -> tuple[bool | None, str]:
    """Whether the kernel's OOM killer killed process `pid` (a worker found dead of SIGKILL),
    and how that is known: the kernel log naming the pid; else an OOM kill in the worker's own
    memory cgroup since `before`; else unknown (None) — an OOM kill elsewhere on the machine
    is not this cell's."""
    killed = oom_killed_pids()
    if killed is not None:
        if pid in killed:
            return True, f"the kernel log names the worker (pid {pid}) as killed for memory"
        return False, f"the kernel log names no out-of-memory kill of the worker (pid {pid})"
    now = cgroup_oom_kills()
    if now is not None and before.cgroup is not None:
        if now > before.cgroup:
            return True, f"{now - before.cgroup} out-of-memory kill(s) in its memory cgroup"
        return False, "no out-of-memory kill in its memory cgroup"
    return None, "neither the kernel log nor a memory cgroup can be read here"


_OOM_KILL = re.compile(r"(?:Killed process |oom-kill:.*?\bpid=)(\d+)")


def oom_killed_pids() -> set[int] | None:
    """Processes the kernel's OOM killer killed, as its log (/dev/kmsg) names them; None when
    that log cannot be read (a container without the right, another OS)."""
    import errno

    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    pids: set[int] = set()
    try:
        while True:
            try:
                record = os.read(fd, 16384)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # records overwritten while reading: go on
                    continue
                if exc.errno == errno.EAGAIN:  # the end of the log
                    break
                return None
            if not record:
                break
            found = _OOM_KILL.search(record.decode(errors="replace").partition(";")[2])
            if found:
                pids.add(int(found.group(1)))
    finally:
        os.close(fd)
    return pids


def cgroup_oom_kills() -> int | None:
    """OOM kills in this process's memory cgroup (v2 memory.events, v1 memory.oom_control)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        rel = path.lstrip("/")
        if controllers == "":
            files = [Path("/sys/fs/cgroup") / rel / "memory.events"]
            files.append(Path("/sys/fs/cgroup/unified") / rel / "memory.events")
        elif "memory" in controllers.split(","):
            files = [Path("/sys/fs/cgroup/memory") / rel / "memory.oom_control"]
        else:
            continue
        for f in files:
            try:
                for entry in f.read_text().splitlines():
                    key, _, value = entry.partition(" ")
                    if key == "oom_kill":
                        return int(value)
            except (OSError, ValueError):
                continue
    return None


def oom_kills() -> int | None:
    """The kernel's count of out-of-memory kills on this machine (Linux), None if unknown."""
    try:
        with open("/proc/vmstat") as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
