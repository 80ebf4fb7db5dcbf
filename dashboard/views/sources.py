"""The sources page (navigation in ``dashboard/app.py``, code in ``dashboard/sources.py``)."""

from dashboard import auth, sources

auth.require("viewer", page=True)
sources.page()
