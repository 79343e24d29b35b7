"""A stored batch run in a process of its own, for the window. No Qt.

Why a process: every thread of a process shares one GIL. A batch's five workers (uploads,
downloads, checks and previews of 4095 px images) took it in turns with the window's GUI
thread, which then waited up to ~100 ms to paint (``bench/RESULTS.md`` § Batch). In a
child process they share only the CPU with it.

The window (:mod:`refiner_gui.controllers.batch_process`) starts ``python -m
refiner_gui.batch.child`` (a frozen app: itself with :data:`CHILD_FLAG`) and talks to it
over its stdin and stdout in frames: a 4-byte big-endian length, then a pickle. Only the
window's own child reads them, on pipes nobody else holds, so pickle is safe here, and the
start frame may carry a demo or test key (never the stored key: a
:class:`~refiner_gui.clients.KeyedClientFactory` reads it from the key store in the child).

- window → child: one :class:`ChildStart`, then commands: ``("pause",)``,
  ``("resume",)``, ``("cancel_look", position)``, ``("cancel_all",)``,
  ``("retry_failed",)``, ``("stop",)``. The end of input (the window is gone, or crashed)
  stops the batch as a quit does: resumable, nothing cancelled.
- child → window: ``("event", BatchEvent, pause_reason)`` for each queue event,
  ``("log", level, logger name, message)`` for each log record, ``("ended", Counts)`` once
  the run returned (summary.csv written), ``("error", text)`` when it could not run.

The child's own stdout is pointed at stderr first, so a stray print can never corrupt a
frame; the window logs what arrives on stderr.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from refiner_gui.processes import BATCH_PROCESS_FLAG

if TYPE_CHECKING:  # only the standard library at import: the frozen app's start reads this
    from refiner_gui.clients import ClientFactory

__all__ = ["CHILD_FLAG", "ChildStart", "FrameReader", "encode_frame", "main", "read_frame"]

log = logging.getLogger(__name__)

CHILD_FLAG = BATCH_PROCESS_FLAG  # a frozen app's argument that makes it this child
_HEADER = struct.Struct(">I")


@dataclass(frozen=True)
class ChildStart:
    """What the child runs: batch ``batch_id`` of the store at ``store_path``."""

    store_path: Path
    batch_id: int
    factory: ClientFactory
    concurrency: int | None = None
    retry_failed: bool = False  # queue the failed looks again before the run starts


def encode_frame(obj: object) -> bytes:
    """``obj`` as one frame (length, then pickle)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's object from a blocking ``stream``; None at the end of input."""
    head = _read_exactly(stream, _HEADER.size)
    if head is None:
        return None
    body = _read_exactly(stream, _HEADER.unpack(head)[0])
    return None if body is None else pickle.loads(body)


def _read_exactly(stream: IO[bytes], n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class FrameReader:
    """Frames out of bytes as they arrive (the window's side, fed from a pipe)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Add ``data``; every frame now complete, in order."""
        self._buffer += data
        out: list[Any] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            out.append(pickle.loads(bytes(self._buffer[_HEADER.size : end])))
            del self._buffer[:end]
        return out


class _Out:
    """The frame stream to the window; any thread (the queue's workers send events)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.broken = False

    def send(self, obj: object) -> None:
        frame = encode_frame(obj)
        with self._lock:
            if self.broken:
                return
            try:
                self._stream.write(frame)
                self._stream.flush()
            except OSError:  # the window is gone: the command thread stops the queue
                self.broken = True


class _LogFrames(logging.Handler):
    """Sends each log record to the window, whose handlers redact and write it."""

    def __init__(self, out: _Out) -> None:
        super().__init__(logging.INFO)
        self._out = out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self._out.send(("log", record.levelno, record.name, text))
        except Exception:
            self.handleError(record)


def _commands(stream: IO[bytes], queue: Any) -> None:
    """Command thread: apply the window's commands to ``queue`` until input ends."""
    while True:
        try:
            cmd = read_frame(stream)
        except Exception:
            log.exception("unreadable command from the window")
            cmd = None
        if cmd is None:  # the window closed its end: stop as a quit does (resumable)
            queue.stop()
            return
        name, *args = cmd
        if name == "pause":
            queue.pause("user")
        elif name == "resume":
            queue.resume()
        elif name == "cancel_look":
            queue.cancel_look(int(args[0]))
        elif name == "cancel_all":
            queue.cancel_all()
        elif name == "retry_failed":
            queue.retry_failed()
        elif name == "stop":
            queue.stop()
        else:
            log.warning("unknown command from the window: %r", name)


def run(start: ChildStart, commands: IO[bytes], out: _Out) -> int:
    """Run ``start``'s batch until it ends or is stopped; the exit code."""
    from refiner_gui.batch.queue import BatchQueue
    from refiner_gui.jobs.store import JobStore

    store = JobStore(start.store_path)
    try:
        holder: list[BatchQueue] = []

        def relay(event: object) -> None:  # on a queue thread
            out.send(("event", event, holder[0].pause_reason if holder else None))

        queue = BatchQueue(
            store, start.factory, start.batch_id, concurrency=start.concurrency, on_event=relay
        )
        holder.append(queue)
        if start.retry_failed:
            queue.retry_failed()  # before its threads start: none may see an empty queue
        threading.Thread(
            target=_commands, args=(commands, queue), name="batch-commands", daemon=True
        ).start()
        out.send(("ended", queue.run()))
        return 0
    finally:
        store.close()


def main() -> int:
    """The child's entry point: read the start frame, run, exit."""
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # from here a print goes to stderr, never into the frames
    commands = os.fdopen(os.dup(0), "rb")
    out = _Out(frames)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(_LogFrames(out))
    from refiner_gui.allocator import map_big_blocks

    map_big_blocks()  # before any image, as the window does (see refiner_gui.allocator)
    try:
        start = read_frame(commands)
        if not isinstance(start, ChildStart):
            out.send(("error", "The batch process got no batch to run."))
            return 2
        return run(start, commands, out)
    except Exception as exc:
        log.exception("the batch process failed")
        out.send(("error", f"{type(exc).__name__}: {exc}"))
        return 1


if __name__ == "__main__":
    # Run as ``-m``, this file is ``__main__``; the window pickles this module's classes
    # under their real name, so the run must use those.
    from refiner_gui.batch.child import main as _main

    sys.exit(_main())
