"""The inbox page (navigation in ``dashboard/app.py``, code in ``dashboard/inbox.py``)."""

from dashboard import inbox

inbox.page()
