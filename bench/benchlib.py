"""What the benchmark scripts share: timing a command with its peak memory, stopping processes,
and printing tables."""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


class CommandFailed(Exception):
    pass


def measure(command: str, cwd: str | None = None) -> tuple[float, float]:
    """Runs a shell command; returns (wall seconds, peak RSS in MiB of the largest process in it).

    GNU time reports the maximum resident set of the command and the children it waited for, so
    a pipeline's peak is its largest member's. (Measuring from this Python process would count
    its own memory: a forked child keeps its parent's high-water mark across exec.)"""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, "bash", "-c", command],
                                cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise CommandFailed(f"exit {result.returncode}: {command}\n{result.stderr.decode()}")
        peak_kib = int(report.read().split()[-1])
    return elapsed, peak_kib / 1024


def run(command: str, cwd: str | None = None) -> str:
    result = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise CommandFailed(f"exit {result.returncode}: {command}\n{result.stderr}")
    return result.stdout


def median(values):
    return statistics.median(values) if values else float("nan")


def process_tree(pid: int) -> list[int]:
    """pid and every descendant (nginx's workers, for instance)."""
    pids = [pid]
    for child in _children(pid):
        pids.extend(process_tree(child))
    return pids


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
    except OSError:
        pass
    return found


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Sum of a /proc status field (VmRSS now, VmHWM peak) over a process tree, in MiB."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User and system CPU time used so far by a process tree (every thread of each), in seconds.
    Read before and after a load, it gives a server's CPU per request: what the machine's other
    tenants and the load generator's share of the cores do not change, where requests/s does."""
    ticks = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def stop(pid: int, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after the grace period; waits so no zombie is left."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + grace
    while time.time() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (nginx's daemonised master): poll instead
            done = 0 if os.path.exists(f"/proc/{pid}") else pid
        if done:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def table(headers: list[str], rows: list[list], title: str = "") -> str:
    """A Markdown table, columns padded so it also reads well in a terminal."""
    cells = [[str(c) for c in headers]] + [[format_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [f"| {' | '.join(c.ljust(w) for c, w in zip(cells[0], widths))} |",
             f"|{'|'.join('-' * (w + 2) for w in widths)}|"]
    for row in cells[1:]:
        # The first two columns name the row (a case, a tool); the rest right-align when numeric.
        lines.append(f"| {' | '.join(c.rjust(w) if i > 1 and _numeric(c) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))} |")
    return (f"{title}\n\n" if title else "") + "\n".join(lines)


def format_cell(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "–"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("×", "").replace("-", "").isdigit()


def save(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
