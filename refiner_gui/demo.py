"""Demo mode: the sandbox in-process on loopback, and the bundled sample images.

No Qt. A newcomer sees the whole flow with no key, no network and no credits. The
sandbox's "refined" image is the coarse image stamped SANDBOX: demo mode never pretends
to be the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from refiner_gui.api import RefinerClient, RetryPolicy
from refiner_gui.clients import FixedClientFactory
from refiner_gui.resource_files import resource_dir
from refiner_gui.sandbox import SandboxServer
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

DEMO_KEY = "demo-key"
_DEMO_RETRY = RetryPolicy(base=0.2, cap=2.0)
SAMPLE_FILES = {PERSON: "person.jpg", TOP: "top.jpg", COARSE: "coarse.jpg", BOTTOM: "bottom.jpg"}


def sample_paths() -> dict[str, Path]:
    """The bundled sample images, by slot (real files in an installed or frozen app)."""
    root = resource_dir("samples")
    return {slot: root / name for slot, name in SAMPLE_FILES.items()}


@dataclass
class DemoSession:
    """A running sandbox plus how to build clients for it. ``stop()`` on exit."""

    server: SandboxServer
    poll_interval: float = 0.5

    @classmethod
    def start(cls, latency: float = 4.0, poll_interval: float = 0.5) -> DemoSession:
        """Start a sandbox on loopback whose tasks take ``latency`` seconds."""
        server = SandboxServer(latency=latency)
        server.start()
        return cls(server, poll_interval)

    @property
    def base_url(self) -> str:
        """The sandbox's URL (``http://127.0.0.1:<port>``)."""
        return self.server.base_url

    @property
    def factory(self) -> FixedClientFactory:
        """Builds clients for the sandbox, with the demo key and short retry delays; plain
        data, so a batch's own process can use it too."""
        return FixedClientFactory(
            DEMO_KEY,
            self.base_url,
            {"poll_interval": self.poll_interval, "timeout": 120, "retry": _DEMO_RETRY},
        )

    def client(self) -> RefinerClient:
        """A new API client for the sandbox (see :attr:`factory`)."""
        return self.factory()

    def stop(self) -> None:
        """Stop the sandbox server (idempotent as :meth:`SandboxServer.stop` is)."""
        self.server.stop()
