"""The job history: every stored job in a filterable, sortable table with thumbnails.

Public name: :class:`HistoryPanel` (the widget the main window embeds as a tab or dock).
Its parts:

* ``model`` – :class:`HistoryModel`, a table model over the store's ids; SQLite filters and
  sorts, jobs are fetched a page at a time for the rows being painted.
* ``thumbnails`` – the lazy, bounded thumbnail cache; decoding runs on the thread pool.
* ``panel`` – the widget and controller: count, row actions, selection, querying.
* ``filters`` – the filter bar (state, verdict, tag, search).
* ``table`` – the job table view, its column sizes and its keys' help.
"""

from __future__ import annotations

from refiner_gui.ui.history.panel import HistoryPanel

__all__ = ["HistoryPanel"]
