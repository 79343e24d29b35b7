"""Qt widgets of the desktop app; no API or file logic lives here."""
