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
frame; the window logs what arrives on stderr. The child runs at a background CPU
priority (:func:`~refiner_gui.processes.lower_priority`): on a machine with few cores
its five workers must not keep the GUI thread waiting for one.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from refiner_gui.processes import BATCH_PROCESS_FLAG, lower_priority
from refiner_gui.redaction import redact

if TYPE_CHECKING:  # only the standard library at import: the frozen app's start reads this
    from refiner_gui.clients import ClientFactory

__all__ = [
    "CHILD_FLAG",
    "MAX_FRAME",
    "ChildStart",
    "FrameError",
    "FrameReader",
    "encode_frame",
    "main",
    "read_frame",
]

log = logging.getLogger(__name__)

CHILD_FLAG = BATCH_PROCESS_FLAG  # a frozen app's argument that makes it this child
_HEADER = struct.Struct(">I")
# Frames are small (a look's row, a log line); a bigger length means the stream is not
# frames at all (something printed to the pipe before the child took it over).
MAX_FRAME = 16 * 1024 * 1024


class FrameError(ValueError):
    """The stream is not a stream of frames (see :data:`MAX_FRAME`)."""


@dataclass(frozen=True)
class ChildStart:
    """What the child runs: batch ``batch_id`` of the store at ``store_path``."""

    store_path: Path
    batch_id: int
    factory: ClientFactory
    concurrency: int | None = None
    retry_failed: bool = False  # queue the failed looks again before the run starts
    # The window's key when it keeps it for this session only (no keyring): the child
    # has no other way to it. Never in repr, so never in a log.
    session_key: str | None = field(default=None, repr=False)


def encode_frame(obj: object) -> bytes:
    """``obj`` as one frame (length, then pickle)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's object from a blocking ``stream``; None at the end of input."""
    head = _read_exactly(stream, _HEADER.size)
    if head is None:
        return None
    (size,) = _HEADER.unpack(head)
    if size > MAX_FRAME:
        raise FrameError(f"a frame of {size} bytes: not a frame stream")
    body = _read_exactly(stream, size)
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
        """Add ``data``; every frame now complete, in order. A frame that does not
        unpickle is skipped (logged); the ones around it still arrive. Raises
        :class:`FrameError` when the bytes are not frames at all (the rest is dropped)."""
        self._buffer += data
        out: list[Any] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME:
                self._buffer.clear()
                raise FrameError(f"a frame of {size} bytes: not a frame stream")
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            body = bytes(self._buffer[_HEADER.size : end])
            del self._buffer[:end]  # first: a bad frame must not block the ones after it
            try:
                out.append(pickle.loads(body))
            except Exception:
                log.exception("an unreadable frame from the batch process was skipped")
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
            # Redacted here too: this process knows the keys its clients use, which the
            # window may not (a key read from the keyring after the window's last look).
            self._out.send(("log", record.levelno, record.name, redact(text)))
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
    from refiner_gui.keystore import use_session_key

    if start.session_key:
        use_session_key(start.session_key)
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
    """The child's entry point: read the start frame, run, exit (never raises: a frozen
    windowed app would show a modal error box nobody can see)."""
    try:
        frames = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)  # from here a print goes to stderr, never into the frames
        commands = os.fdopen(os.dup(0), "rb")
    except OSError as exc:  # no pipes: nothing to report to
        print(f"refiner-gui batch process: no pipes to the window: {exc}", file=sys.stderr)
        return 2
    out = _Out(frames)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(_LogFrames(out))
    try:
        from refiner_gui.allocator import map_big_blocks

        map_big_blocks()  # before any image, as the window does (refiner_gui.allocator)
        if not lower_priority():  # the window's GUI thread comes first for the cores
            log.info("the batch process runs at normal priority (it may not lower it)")
        start = read_frame(commands)
        if not isinstance(start, ChildStart):
            out.send(("error", "The batch process got no batch to run."))
            return 2
        return run(start, commands, out)
    except Exception as exc:
        log.exception("the batch process failed")
        out.send(("error", redact(f"{type(exc).__name__}: {exc}")))
        return 1


if __name__ == "__main__":
    # Run as ``-m``, this file is ``__main__``; the window pickles this module's classes
    # under their real name, so the run must use those.
    from refiner_gui.batch.child import main as _main

    sys.exit(_main())
