"""Exports of a set of reviewed jobs: CSV, JSON, one self-contained HTML file, and a
contact sheet (lookbook) as PNG or PDF. No Qt; safe to call from a worker thread.

Every export is written to a temporary file in the destination folder and renamed into
place, so a reader never sees a partial file; none contains an API key, environment data,
or a path other than the jobs' own files (and the HTML contains no path at all).
"""

from __future__ import annotations

from refiner_gui.reports.contact_sheet import export_contact_sheet
from refiner_gui.reports.html_report import export_html
from refiner_gui.reports.summary import summarize
from refiner_gui.reports.tabular import export_csv, export_json

__all__ = ["export_csv", "export_contact_sheet", "export_html", "export_json", "summarize"]
