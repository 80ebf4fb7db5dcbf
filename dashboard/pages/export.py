"""The export page (navigation in ``dashboard/app.py``, code in ``dashboard/export.py``)."""

from dashboard import export

export.page()
