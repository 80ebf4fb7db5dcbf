"""The overview page (navigation in ``dashboard/app.py``, code in ``dashboard/overview.py``)."""

from dashboard import overview

overview.page()
