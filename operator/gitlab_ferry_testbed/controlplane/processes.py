"""Detached child processes for the local control plane: spawn, liveness, stop, log tails.

Layer: ``controlplane`` (a self-contained test and demo tool). It knows nothing about
Kubernetes; it must not import the operator or the rest of the testbed or keep module-level state.
Processes are spawned with ``os.posix_spawn`` in a new session (so each is its own process
group and a Ctrl-C in the terminal never reaches it) and identified by pid plus the kernel's
start time, so a pid recorded in a state file is never confused with a later process that
reuses the number. ``subprocess.Popen`` is deliberately not used: a ``Popen`` collected while
its child still runs emits a ``ResourceWarning``, and ``controlplane up`` leaves its children
running on purpose.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Signals are sent to the whole process group; a Go server forks nothing, but a wrapper might.
STOP_GRACE_SECONDS = 15.0
# Starts every run's section of a log file, so error messages quote only the latest run.
LOG_MARK = "--- gitlab-ferry controlplane: "


@dataclass(frozen=True)
class ProcessHandle:
    """A spawned process as it can be written to and read back from a state file."""

    name: str
    pid: int
    start_time: int | None  # /proc/<pid>/stat field 22; None where /proc does not exist
    log: Path

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "pid": self.pid,
            "start_time": self.start_time,
            "log": str(self.log),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ProcessHandle:
        start = data.get("start_time")
        return cls(
            name=str(data["name"]),
            pid=int(str(data["pid"])),
            start_time=int(str(start)) if start is not None else None,
            log=Path(str(data["log"])),
        )


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None when unavailable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return raw[raw.rindex(")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    fields = _proc_stat(pid)
    # fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
    return int(fields[19]) if fields is not None and len(fields) > 19 else None


def _reap(pid: int) -> bool:
    """Collect the exit status if ``pid`` is our own child; True when it has exited."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # not our child (started by another CLI invocation): nothing to reap
    return done == pid


def is_alive(handle: ProcessHandle) -> bool:
    """True while the process runs; a zombie counts as gone. Does not reap our own children on
    Linux, so :func:`exit_status` can still report how one ended."""
    fields = _proc_stat(handle.pid)
    if fields is None:
        if Path("/proc/self/stat").exists():
            return False  # /proc works and the pid is gone
        # Without /proc (macOS) a zombie still answers kill(0): reap our own children first.
        if _reap(handle.pid):
            return False
        try:
            os.kill(handle.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in ("Z", "X"):
        return False  # exited, waiting for its parent (us, or init) to reap it
    # A different start time means the pid was reused by an unrelated process.
    return handle.start_time is None or int(fields[19]) == handle.start_time


def spawn(
    name: str,
    argv: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
) -> ProcessHandle:
    """Start ``argv`` in its own session with stdin from /dev/null and output appended to
    ``log`` (appended, so a restarted server keeps the earlier log above the new one)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{LOG_MARK}{name} started {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            dict(os.environ if env is None else env),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 1),
                (os.POSIX_SPAWN_DUP2, fd, 2),
                *((os.POSIX_SPAWN_CLOSE, other) for other in _inherited_fds()),
            ],
            setsid=True,
        )
    finally:
        os.close(fd)
    return ProcessHandle(name=name, pid=pid, start_time=process_start_time(pid), log=log)


def _inherited_fds() -> list[int]:
    """Inheritable descriptors above stderr that we got from whoever started us. A detached
    server holding, say, the write end of a caller's pipe would keep ``$(gitlab-ferry
    controlplane up)`` waiting for EOF for as long as the server runs."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return []  # no /proc: nothing to enumerate cheaply; Python's own fds are not inheritable
    found = []
    for fd in fds:
        if fd > 2:
            with contextlib.suppress(OSError):  # the fd listdir itself used is already closed
                if os.get_inheritable(fd):
                    found.append(fd)
    return found


def exit_status(handle: ProcessHandle) -> str:
    """Best-effort description of how a process ended, for error messages."""
    try:
        done, status = os.waitpid(handle.pid, os.WNOHANG)
    except ChildProcessError:
        return "exited"
    if done != handle.pid:
        return "is still running"
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _signal_group(handle: ProcessHandle, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # The process is its session's leader, so its pid is the process group id.
        os.killpg(handle.pid, sig)


def wait_gone(handle: ProcessHandle, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(handle):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop(handle: ProcessHandle, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM to the process group, wait up to ``grace`` seconds, then SIGKILL."""
    if not is_alive(handle):
        _reap(handle.pid)
        return
    if grace > 0:
        _signal_group(handle, signal.SIGTERM)
    if grace <= 0 or not wait_gone(handle, grace):
        _signal_group(handle, signal.SIGKILL)
        wait_gone(handle, 10.0)
    _reap(handle.pid)  # no zombie left behind when the process was our own child


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports that were free a moment ago. The servers bind them later, so there is a small
    race, which the caller handles by retrying with new ports when a server fails to bind."""
    # All sockets stay open until every port is chosen, so the ports are distinct.
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of the latest run recorded in ``path``."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    latest = text[text.rfind(LOG_MARK) :] if LOG_MARK in text else text
    return "\n".join(latest.splitlines()[-lines:])
