"""Logging set-up: a rotating file in the platform's log folder, with secrets redacted.

Every record passes through :class:`RedactingFilter`, so even a third-party library that
logs a header or URL cannot write the API key to disk. No Qt.

The window starts with :func:`buffer_startup_logs` (records kept in memory) and calls
:func:`setup_logging` right after its first paint: opening the file needs
``logging.handlers`` and ``platformdirs``, ~15 ms that would otherwise delay the window.
:func:`setup_logging` writes the buffered records first, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from refiner_gui.redaction import redact

LOG_FILE = "refiner-gui.log"


class RedactingFilter(logging.Filter):
    """Replaces registered secrets in the formatted message (and drops the args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place (message and traceback); always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            message = str(record.msg)
        if record.exc_info:
            # The traceback is formatted here, redacted, and folded into the message, so a
            # secret in an exception's text cannot reach the file through exc_info.
            text = logging.Formatter().formatException(record.exc_info)
            message = f"{message}\n{text}"
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message)
        record.args = None
        return True


class StartupBuffer(logging.Handler):
    """Keeps the records logged before the log file exists (at most ``capacity``; the
    rest are counted in ``dropped``). Once :meth:`drain_into` has run, a record that
    reaches it anyway (another thread, mid-switch) goes straight to the file handler.
    Any thread (``emit`` runs under the handler's lock)."""

    def __init__(self, capacity: int = 1000) -> None:
        super().__init__()
        self.capacity = capacity
        self.records: list[logging.LogRecord] = []
        self.dropped = 0
        self._target: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Hold ``record`` (or count it as dropped), or forward it once drained."""
        if self._target is not None:
            self._target.handle(record)
        elif len(self.records) < self.capacity:
            self.records.append(record)
        else:
            self.dropped += 1

    def drain_into(self, target: logging.Handler) -> None:
        """Write the held records to ``target`` in order; later ones follow directly."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            records, self.records = self.records, []
            self._target = target
            for record in records:
                target.handle(record)
            if self.dropped:
                target.handle(
                    logging.makeLogRecord(
                        {
                            "name": __name__,
                            "levelno": logging.WARNING,
                            "levelname": "WARNING",
                            "msg": f"{self.dropped} start-up log records were dropped "
                            f"(more than {self.capacity}).",
                        }
                    )
                )


def buffer_startup_logs(level: int = logging.INFO) -> StartupBuffer:
    """Hold log records in memory until :func:`setup_logging` (cheap: no file, no imports).
    Call once, first thing at start-up."""
    root = logging.getLogger()
    handler = StartupBuffer()
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def setup_logging(level: int = logging.INFO, *, log_dir: Path | None = None) -> Path:
    """Send the root logger to a rotating file (1 MB x 5), after the records held by a
    :class:`StartupBuffer`, which it removes. Returns the file's path."""
    import logging.handlers

    from refiner_gui.config import app_paths

    folder = log_dir or app_paths().logs
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    _remove_handlers(lambda h: getattr(h, "_refiner_gui", False))  # a file set up before
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter())
    handler._refiner_gui = True  # type: ignore[attr-defined]
    buffers = [h for h in root.handlers if isinstance(h, StartupBuffer)]
    for buffered in buffers:
        buffered.drain_into(handler)  # from now on it forwards to the file
    # One assignment swaps the buffer for the file: a record logged meanwhile on another
    # thread reaches exactly one of them, never both (addHandler then removeHandler would
    # leave a moment with both attached, and the line written twice).
    root.handlers = [h for h in root.handlers if h not in buffers] + [handler]
    root.setLevel(level)
    for buffered in buffers:
        buffered.close()
    # urllib3 logs full URLs at DEBUG; our own lines say what matters.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    return path


def stop_logging() -> None:
    """Detach, flush and close the app's log file and any start-up buffer (the end of
    :func:`buffer_startup_logs` / :func:`setup_logging`). Safe to call when neither ran."""
    _remove_handlers(lambda h: getattr(h, "_refiner_gui", False) or isinstance(h, StartupBuffer))


def _remove_handlers(which: Callable[[logging.Handler], bool]) -> None:
    root = logging.getLogger()
    for h in [h for h in root.handlers if which(h)]:
        root.removeHandler(h)
        h.close()
