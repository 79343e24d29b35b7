"""The log file: rotating, in the log folder, and never holding a registered secret."""

from __future__ import annotations

import logging

from refiner_gui.api.errors import register_secret
from refiner_gui.logs import setup_logging


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
        for h in [h for h in root.handlers if getattr(h, "_refiner_gui", False)]:
            root.removeHandler(h)
            h.close()
    assert "boom with ***" in text and "key is ***" in text
    assert "Traceback" in text
    assert secret not in text
