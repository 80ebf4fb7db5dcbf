"""The inbox page (navigation in ``dashboard/app.py``, code in ``dashboard/inbox.py``)."""

from dashboard import auth, inbox

auth.require("viewer", page=True)
inbox.page()
