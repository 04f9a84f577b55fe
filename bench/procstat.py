"""CPU time and memory of a process by pid, read from /proc (Linux only)."""

from __future__ import annotations

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read()
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(b")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def family(pid: int) -> list[int]:
    """The process and its descendants (a server's workers), by the parent pids in /proc."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            parents[int(name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) in KiB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def rss_kib(pid: int) -> int:
    return memory_kib(pid)["VmRSS"]


def system_cpu() -> dict[str, float]:
    """The whole box's CPU time so far, in seconds, from the first line of /proc/stat."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {name: int(value) / CLOCK_TICKS for name, value in zip(names, fields)}


def box_usage(before: dict[str, float], after: dict[str, float], elapsed_s: float, cores: int) -> dict[str, float]:
    """Busy, softirq and steal time of the box between two ``system_cpu`` readings, in % of all its cores."""
    delta = {name: after[name] - before[name] for name in before}
    capacity = elapsed_s * cores
    busy = sum(v for name, v in delta.items() if name not in ("idle", "iowait", "steal"))
    return {
        "busy_percent": round(100 * busy / capacity, 1),
        "softirq_percent": round(100 * delta["softirq"] / capacity, 1),
        "steal_percent": round(100 * delta["steal"] / capacity, 1),
    }


def all_cpu_seconds() -> dict[int, float]:
    """CPU seconds of every process now running, by pid (processes gone in the meantime are skipped)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found[int(entry)] = cpu_seconds(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


def others_cpu_seconds(before: dict[int, float], after: dict[int, float], ours: set[int]) -> tuple[float, float]:
    """CPU time used between two ``all_cpu_seconds`` readings by processes not in ``ours``.

    Returns (user processes, kernel threads): loopback traffic this heavy is partly
    handled by the kernel's softirq threads, which count as the test's own cost.
    """
    user = kernel = 0.0
    for pid, t in after.items():
        if pid in ours:
            continue
        used = t - before.get(pid, 0.0)
        if used <= 0:
            continue
        if is_kernel_thread(pid):
            kernel += used
        else:
            user += used
    return user, kernel


def is_kernel_thread(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return not fh.read(1)
    except OSError:
        return False
