"""The overview page (navigation in ``dashboard/app.py``, code in ``dashboard/overview.py``)."""

from dashboard import auth, overview

auth.require("viewer", page=True)
overview.page()
