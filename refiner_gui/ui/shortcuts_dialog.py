"""TEMPORARY stub until the real dialog merges."""

from PySide6.QtWidgets import QDialog


class ShortcutsDialog(QDialog):
    """Stub."""
