"""The export page (navigation in ``dashboard/app.py``, code in ``dashboard/export.py``)."""

from dashboard import auth, export

auth.require("viewer", page=True)
export.page()
