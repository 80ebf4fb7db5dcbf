"""The sources page (navigation in ``dashboard/app.py``, code in ``dashboard/sources.py``)."""

from dashboard import sources

sources.page()
