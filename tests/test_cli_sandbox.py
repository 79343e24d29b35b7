"""``refiner-cli sandbox``: its help names only server options, and ``--fault NAME`` serves
the misbehaviour the test suite's fault table calls NAME."""

from __future__ import annotations

import argparse
import io
import json
import threading

import pytest
import requests

from refiner_gui import cli
from refiner_gui.api import CancelToken
from refiner_gui.cli_args import build_parser
from refiner_gui.sandbox import FAULT_NAMES, named_faults
from tests.helpers.fault_cases import CASES

POLL = "/api/common/query-async-task-result"


def _sandbox_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["sandbox"]


def test_sandbox_help_lists_only_server_options_each_with_help(capsys):
    assert cli.run(["sandbox", "--help"]) == 0
    text = capsys.readouterr().out
    actions = _sandbox_parser()._actions
    options = {o for a in actions for o in a.option_strings}
    assert options == {
        "-h",
        "--help",
        "--host",
        "--port",
        "--latency",
        "--fault",
        "--credits",
        "--task-ttl",
        "--result-ttl",
        "--json",
        "-v",
        "--verbose",
    }
    for action in actions:
        assert action.help and len(action.help) > 10, action.option_strings
        assert action.option_strings[-1] in text
    usage = text.split("\n\n")[0]
    for client_option in ("--api-key", "--base-url", "--poll-interval", "--timeout"):
        assert client_option not in usage
    for name in FAULT_NAMES:  # every name, whole (not broken at a hyphen)
        assert name in text


def test_fault_names_are_the_test_suites_fault_table():
    assert [c.id for c in CASES] == list(FAULT_NAMES)
    for case in CASES:
        assert named_faults(case.id) == case.faults
    assert named_faults("hang-poll") is not named_faults("hang-poll")  # fresh copies


@pytest.mark.parametrize(
    "argv",
    [
        ["--fault", "no-such-fault"],
        ["--host", "0.0.0.0"],
        ["--host", "example.org"],
        ["--port", "70000"],
        ["--latency", "nan"],
        ["--credits", "-1"],
        ["--api-key", "k"],
    ],
)
def test_sandbox_refuses_bad_options(argv):
    err = io.StringIO()
    assert cli.run(["sandbox", *argv], stdout=io.StringIO(), stderr=err) == cli.EXIT_USAGE
    assert "error:" in err.getvalue()


class _Lines(io.StringIO):
    """stdout that says when a whole line arrived (the sandbox prints its address)."""

    def __init__(self) -> None:
        super().__init__()
        self.line = threading.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        if "\n" in self.getvalue():
            self.line.set()
        return n


def test_sandbox_serves_the_named_faults_in_order():
    out, err, cancel = _Lines(), io.StringIO(), CancelToken()
    argv = ["sandbox", "--port", "0", "--json", "--latency", "0"]
    argv += ["--fault", "error-poll-410-revoked", "--fault", "error-poll-404-not-found"]
    codes: list[int] = []
    runner = threading.Thread(
        target=lambda: codes.append(cli.run(argv, stdout=out, stderr=err, cancel=cancel))
    )
    runner.start()
    try:
        assert out.line.wait(10), err.getvalue()
        url = json.loads(out.getvalue())["base_url"]
        assert url.startswith("http://127.0.0.1:")
        headers = {"ailabapi-api-key": "any-key"}
        answers = [
            requests.get(url + POLL, params={"task_id": "t"}, headers=headers, timeout=5)
            for _ in range(2)
        ]
    finally:
        cancel.cancel()
        runner.join(10)
    assert [a.status_code for a in answers] == [410, 404]
    assert [a.json()["error_code_str"] for a in answers] == [
        "ERROR_TASK_REVOKED",
        "ERROR_RESOURCE_NOT_FOUND",
    ]
    assert codes == [0]
    assert "fault queued: error-poll-410-revoked" in err.getvalue()
    assert out.getvalue().count("\n") == 1  # stdout: the address only
