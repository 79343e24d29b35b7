"""``refiner-cli``'s argument parser: the commands, their options and their help.

No I/O beyond argparse's own output; :func:`build_parser` is all :mod:`refiner_gui.cli` needs.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from refiner_gui import __version__
from refiner_gui.cli_batch import add_batch_parser
from refiner_gui.cli_output import EXIT_USAGE
from refiner_gui.cli_tryon import add_model_option, add_tryon_parser
from refiner_gui.config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
)
from refiner_gui.jobs import JobState
from refiner_gui.safe_text import terminal_text
from refiner_gui.sandbox.named_faults import FAULT_NAMES

if TYPE_CHECKING:
    from _typeshed import SupportsWrite


def seconds(text: str) -> float:
    """A finite, positive number of seconds (argparse ``type``): ``nan``, ``inf``, 0 and
    negatives are refused with a plain message."""
    value = seconds_or_zero(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def seconds_or_zero(text: str) -> float:
    """A finite number of seconds, 0 or more (argparse ``type``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("must be a finite number of seconds (not nan or inf)")
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 seconds or more")
    return value


def poll_interval(text: str) -> float | None:
    """``--poll-interval``'s value: seconds (finite, positive), or None for ``auto``."""
    if text.strip().lower() == "auto":
        return None
    try:
        return seconds(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or 'auto'") from None


def _common(p: argparse.ArgumentParser) -> None:
    """The options every command that talks to the service takes."""
    p.add_argument(
        "--base-url",
        default=None,
        help=f"service root (env {BASE_URL_ENV}; default {DEFAULT_BASE_URL})",
    )
    p.add_argument(
        "--api-key", default=None, help=f"API key (env {API_KEY_ENV}, else the OS keyring)"
    )
    p.add_argument(
        "--poll-interval",
        type=poll_interval,
        default=None,
        metavar="SECONDS|auto",
        help="seconds between polls, or 'auto' (the default): planned from the job history"
        f" within the polls of a fixed {DEFAULT_POLL_INTERVAL:g} s",
    )
    p.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="overall seconds for one job: upload, wait and download (default 600), counted "
        "once it may run (a wait while the app already runs 5 tasks comes first)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")


class CliParser(argparse.ArgumentParser):
    """argparse, but its errors never echo argument values and go to the given stream.

    A mistyped flag (``--apikey KEY``) makes argparse list the key among the
    "unrecognized arguments"; only the option names are shown instead.
    """

    stream: TextIO | None = None  # set by run() for the duration of one parse

    def error(self, message: str) -> NoReturn:
        """Print the usage and the error (argument values hidden), exit with code 2."""

        def hide_values(m: re.Match[str]) -> str:
            tokens = m.group(2).split()
            return m.group(1) + " ".join(t if t.startswith("-") else "…" for t in tokens)

        message = re.sub(r"(unrecognized arguments: )(.*)", hide_values, message)
        self.print_usage(self.stream or sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # Help and --version go to stdout as usual; only error output is redirected.
        if file is None or file is sys.stderr:
            file = self.stream or sys.stderr
        if message:  # may quote the user's arguments: never let them drive the terminal
            file.write(terminal_text(message))


def build_parser() -> argparse.ArgumentParser:
    """The ``refiner-cli`` parser: one sub-command per ``cmd_*`` of :mod:`refiner_gui.cli`."""
    parser = CliParser(
        prog="refiner-cli",
        description="Refine a coarse virtual try-on image with the AILabTools "
        "Try on Clothes Refiner API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("refine", help="submit four images, wait, save the refined image")
    p.add_argument("--person", required=True, type=Path, help="the person photo")
    p.add_argument("--top", required=True, type=Path, help="the top garment (or dress)")
    p.add_argument(
        "--coarse",
        type=Path,
        default=None,
        help="the coarse try-on result (or --generate-coarse to make it first)",
    )
    p.add_argument(
        "--generate-coarse",
        action="store_true",
        help="make the coarse image first with Try on Clothes Pro/Premium (--model), then "
        "refine it: one job, two calls",
    )
    add_model_option(p)
    p.add_argument("--bottom", type=Path, default=None, help="the bottom garment (optional)")
    p.add_argument("--gender", required=True, choices=["woman", "man"])
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to save the result (.png or .jpg); default: the output folder",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--fix",
        action="store_true",
        help="upload conforming copies of images that break the rules (originals untouched)",
    )
    _common(p)

    add_tryon_parser(sub)
    _common(sub.choices["tryon"])

    p = sub.add_parser(
        "resume",
        help="wait for a submitted task and save its result; --all finishes every unfinished job",
    )
    p.add_argument(
        "task_id",
        nargs="?",
        default=None,
        help="the task id printed by refine (a job of the history, or any task)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="finish every unfinished job (after a crash); never re-submits",
    )
    p.add_argument(
        "--job",
        type=int,
        default=None,
        metavar="JOB_ID",
        help="the job TASK_ID belongs to, when the history lost it (e.g. an upload whose "
        "outcome is unknown): the job takes the task id and is finished",
    )
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--overwrite", action="store_true")
    _common(p)

    p = sub.add_parser("jobs", help="list the stored jobs, newest first")
    p.add_argument(
        "--state",
        action="append",
        choices=[s.value for s in JobState],
        help="only jobs in this state (repeatable)",
    )
    p.add_argument(
        "--limit", type=int, default=None, metavar="N", help="at most N jobs (default: all)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")

    p = sub.add_parser("check", help="check images against the service's rules (no upload)")
    p.add_argument("files", nargs="+", type=Path)
    _common(p)

    p = sub.add_parser("credits", help="show the account's credit balance")
    _common(p)

    _sandbox(sub)
    add_batch_parser(sub, _common)
    return parser


def loopback_host(text: str) -> str:
    """A loopback address to listen on (argparse ``type``): ``localhost`` or 127.x.x.x.
    The sandbox takes any API key, so it is never offered to the network."""
    host = text.strip()
    if host == "localhost":
        return "127.0.0.1"
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address) and (
            ipaddress.ip_address(host).is_loopback
        ):
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("must be a loopback address (127.0.0.1 or localhost)")


def credit_count(text: str) -> int:
    """A whole number of credits, 0 or more (argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (argparse ``type``); 0 picks a free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def _sandbox(sub: argparse._SubParsersAction[CliParser]) -> None:
    """``sandbox``: only the server's own options (it takes no key and calls no service)."""
    p = sub.add_parser(
        "sandbox",
        help="run the local sandbox of the API",
        description="Serve a local sandbox of the API on loopback until Ctrl+C. Point the "
        "window or refiner-cli at the address it prints (--base-url), with any API key.",
        # Only the epilog is pre-formatted: fault names must not be broken at hyphens.
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="fault names (--fault), as the test suite's fault table calls them:\n"
        + textwrap.fill(
            ", ".join(FAULT_NAMES),
            width=78,
            initial_indent="  ",
            subsequent_indent="  ",
            break_on_hyphens=False,
        ),
    )
    p.add_argument(
        "--host",
        type=loopback_host,
        default="127.0.0.1",
        help="loopback address to listen on (default 127.0.0.1; never a network address)",
    )
    p.add_argument(
        "--port",
        type=port_number,
        default=8765,
        help="port to listen on (default 8765; 0 picks a free one)",
    )
    p.add_argument(
        "--latency",
        type=seconds_or_zero,
        default=3.0,
        metavar="SECONDS",
        help="seconds from a submit to the finished task (default 3)",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=FAULT_NAMES,
        metavar="NAME",
        help="queue the fault the test suite calls NAME (repeatable; each applies to the "
        "next matching requests, in order); the names are listed below",
    )
    p.add_argument(
        "--credits",
        type=credit_count,
        default=1000,
        metavar="N",
        help="starting credit balance (default 1000; a finished task costs 25)",
    )
    p.add_argument(
        "--task-ttl",
        type=seconds,
        default=86400.0,
        metavar="SECONDS",
        help="seconds a task id stays known to the sandbox (default 86400, a day)",
    )
    p.add_argument(
        "--result-ttl",
        type=seconds,
        default=86400.0,
        metavar="SECONDS",
        help="seconds a result link stays valid (default 86400, a day)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the address as one JSON object on stdout"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
