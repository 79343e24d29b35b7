"""A service body that is an HTML page (a gateway's 502) is shown as one line of its text.

Against the sandbox's gateway fault (a real nginx-style page over HTTP) and in the window's
error panel, which shows service text as plain text, never as rendered markup.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from refiner_gui.api import RefinerClient, ServiceUnavailable
from refiner_gui.safe_text import ONE_LINE_LIMIT, one_line
from refiner_gui.sandbox import Fault
from refiner_gui.ui.error_panel import ErrorPanel
from tests.helpers.fast import fast_retry


def gateway_error(sandbox) -> ServiceUnavailable:
    sandbox.inject(Fault("credits", "gateway_html", http_status=502, times=50))
    client = RefinerClient("html-key-0123456789", sandbox.base_url, retry=fast_retry())
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            client.credits()
    finally:
        client.close()
    return caught.value


def test_a_gateway_page_becomes_its_title_on_one_line(sandbox):
    err = gateway_error(sandbox)
    assert err.http_status == 502
    assert err.vendor_message == "502 Bad Gateway"
    for text in (err.vendor_message, err.user_message, err.support_text()):
        assert "<" not in text and "nginx" not in text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "<!DOCTYPE html>\n<html><head><title>\n 503  Service\n Unavailable </title>",
            "503 Service Unavailable",
        ),
        (
            "<html><head><style>h1{color:red}</style><script>alert(1)</script></head>"
            "<body><h1>Bad &amp; gateway</h1><p>try <b>later</b></p></body></html>",
            "Bad & gateway try later",
        ),
        (
            "<HTML><BODY><img src=x onerror=alert(1)>&lt;b&gt;bold&lt;/b&gt;</BODY></HTML>",
            "<b>bold</b>",
        ),
        ("plain\r\nline two\x1b[2J", "plain line two"),
        ("<span class='x'>Bad <i>gateway</i></span>", "Bad gateway"),  # a bare fragment
        ("a < b and c > d", "a < b and c > d"),  # not markup: kept as it is
    ],
)
def test_one_line(body, expected):
    assert one_line(body) == expected


def test_one_line_is_length_limited():
    text = one_line("<html><body>" + "word " * 500 + "</body></html>")
    assert len(text) <= ONE_LINE_LIMIT and text.endswith("…") and "\n" not in text


def test_the_error_panel_shows_the_page_as_plain_text(qtbot, sandbox):
    panel = ErrorPanel()
    qtbot.addWidget(panel)
    panel.show_error(gateway_error(sandbox))
    for label in (panel.title, panel.message, panel.details):
        assert label.textFormat() is Qt.TextFormat.PlainText
        assert "<" not in label.text() and "\n" not in label.text()
    assert "Service said: 502 Bad Gateway" in panel.details.text()
