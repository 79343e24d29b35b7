"""The log file: rotating, in the log folder, and never holding a registered secret."""

from __future__ import annotations

import logging

from refiner_gui.api.errors import register_secret
from refiner_gui.logs import buffer_startup_logs, setup_logging, stop_logging


def test_secrets_are_redacted_from_messages_and_tracebacks(tmp_path):
    secret = "sk-LOGSECRET-424242"
    register_secret(secret)
    path = setup_logging(log_dir=tmp_path)
    root = logging.getLogger()
    try:
        log = logging.getLogger("refiner_gui.test")
        log.info("key is %s", secret)
        try:
            raise RuntimeError(f"boom with {secret}")
        except RuntimeError:
            log.exception("failed")
        for h in root.handlers:
            h.flush()
        text = path.read_text()
    finally:
        stop_logging()
    assert "boom with ***" in text and "key is ***" in text
    assert "Traceback" in text
    assert secret not in text


def test_startup_records_are_kept_until_the_file_opens_then_written_first(tmp_path):
    secret = "sk-BUFFERED-SECRET-777"
    register_secret(secret)
    log = logging.getLogger("refiner_gui.test.buffer")
    try:
        buffer = buffer_startup_logs()
        log.info("first, with %s", secret)
        try:
            raise ValueError(f"early failure quoting {secret}")
        except ValueError:
            log.exception("second")
        assert not (tmp_path / "refiner-gui.log").exists()  # nothing on disk yet
        path = setup_logging(log_dir=tmp_path)
        log.info("third")
        assert buffer not in logging.getLogger().handlers
        buffer.emit(logging.makeLogRecord({"msg": "late, from another thread"}))
        for h in logging.getLogger().handlers:
            h.flush()
        text = path.read_text(encoding="utf-8")
    finally:
        stop_logging()
    assert text.index("first, with ***") < text.index("second") < text.index("third")
    assert "early failure quoting ***" in text and secret not in text
    assert "late, from another thread" in text  # drained buffers forward, never drop


def test_a_full_startup_buffer_says_how_many_records_it_dropped(tmp_path):
    log = logging.getLogger("refiner_gui.test.flood")
    try:
        buffer = buffer_startup_logs()
        buffer.capacity = 3
        for i in range(5):
            log.info("record %d", i)
        path = setup_logging(log_dir=tmp_path)
        for h in logging.getLogger().handlers:
            h.flush()
        text = path.read_text(encoding="utf-8")
    finally:
        stop_logging()
    assert "record 2" in text and "record 3" not in text
    assert "2 start-up log records were dropped (more than 3)" in text
