"""Work done in a forked process beside this one, so that a second processor is used.

A build writes many outputs that are independent of each other (the shareable data, the
data-quality reports, each coder's workbook). :func:`beside` runs one such job in a forked
child while this process goes on with the rest, then collects what the job returned. The
child shares this process's memory (copy on write), so the frames the job reads are not
copied or pickled; only the job's return value comes back, pickled.

Failures are never reported from the child: when the job raises, or the child dies, the job
is run again here, where it raises its error whole (a one-line pceval error, or a real
traceback) exactly as it would have without the child. A job must therefore be safe to run
twice: it writes its files atomically, and writes nothing outside them.

Where the system cannot fork (Windows, macOS's default), when the work is too small to be
worth a process, or when the memory available is less than this process already holds, the
job runs here, when its result is asked for. The child adds its own working memory to this
process's, and whatever pages either writes to stop being shared: on a machine without that
much to spare, taking longer is better than running out.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["Pending", "beside", "can_fork", "memory_allows_fork"]

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def can_fork() -> bool:
    """Whether jobs can run in a forked child here (Linux; elsewhere forking is unsafe).

    Examples
    --------
    >>> isinstance(can_fork(), bool)
    True
    """
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _meminfo_kib(path: str, field: str) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_allows_fork() -> bool:
    """Whether the memory available is at least what this process holds (Linux's
    ``MemAvailable`` against this process's resident size): the most a child can come to
    need of its own, if every page it shares with this process came to be copied.

    Examples
    --------
    >>> isinstance(memory_allows_fork(), bool)
    True
    """
    available = _meminfo_kib("/proc/meminfo", "MemAvailable")
    resident = _meminfo_kib("/proc/self/status", "VmRSS")
    return available is not None and resident is not None and available >= resident


class Pending(Generic[T]):
    """A job started by :func:`beside`; :meth:`result` waits for it and returns its value."""

    def __init__(self, job: Callable[[], T], fork: bool) -> None:
        self._job = job
        self._child = None
        self._receiver = None
        self._done = False
        self._value: Any = None
        self.forked = False
        if fork and can_fork() and memory_allows_fork():
            self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_run_in_child, args=(sender, self._job, os.getpid()),
                                daemon=True)
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a threaded process may deadlock; pyarrow and
            # jemalloc reset their thread pools and locks in the child (pthread_atfork)
            warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*fork.*")
            child.start()
        sender.close()
        self._child, self._receiver, self.forked = child, receiver, True

    def result(self) -> T:
        """The job's return value (waiting for the child), or its error raised here."""
        if self._done:
            return self._value
        outcome = None
        if self._child is not None:
            try:
                outcome = self._receiver.recv()
            except (EOFError, OSError):
                outcome = None  # the child died without answering
            finally:
                self._close()
        # the job failed in the child (or never ran there): run it here, where its error is
        # raised as it would have been without the child
        self._value = outcome[1] if outcome is not None and outcome[0] == "ok" else self._job()
        self._done = True
        return self._value

    def cancel(self) -> None:
        """Stop the child, if it is running, and wait for it to end."""
        if self._child is not None and self._child.is_alive():
            self._child.kill()
        self._close()

    def _close(self) -> None:
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None
        if self._child is not None:
            self._child.join()
            self._child.close()
            self._child = None


@contextlib.contextmanager
def beside(job: Callable[[], T], *, fork: bool = True) -> Iterator[Pending[T]]:
    """Run ``job`` in a forked child while the body of the ``with`` runs here.

    Parameters
    ----------
    job : callable
        Takes no arguments; what it returns must pickle. It may run twice (see the module's
        notes), so it writes its files atomically and nothing else.
    fork : bool
        False runs the job here, when :meth:`Pending.result` is called (for work too small
        to be worth a process). True forks where the system can and the memory allows
        (:func:`memory_allows_fork`).

    Yields
    ------
    Pending
        Call :meth:`Pending.result` inside the ``with`` to get the job's return value. If
        the body raises first, the child is stopped before the error goes on, so it writes
        nothing after the ``with``.

    Examples
    --------
    >>> with beside(lambda: sum(range(10))) as pending:
    ...     here = sum(range(5))
    ...     there = pending.result()
    >>> here, there
    (10, 45)
    """
    pending = Pending(job, fork)
    try:
        yield pending
    finally:
        if not pending._done:
            pending.cancel()


def _end_with_parent(parent: int) -> None:
    """Have the kernel kill this child when the parent dies (Linux), so a killed build's
    child cannot write into the folder the next build is writing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _run_in_child(sender: Any, job: Callable[[], Any], parent: int) -> None:
    _end_with_parent(parent)
    try:
        outcome: tuple[str, Any] = ("ok", job())
    except BaseException:  # noqa: BLE001 - the parent runs the job again and raises it there
        outcome = ("failed", None)
    try:
        sender.send(outcome)
    except Exception:  # noqa: BLE001 - a value that does not pickle: the parent runs the job
        sender.send(("failed", None))
    finally:
        sender.close()
