"""The competitors page (code in ``dashboard/competitors.py``)."""

from dashboard import auth, competitors

auth.require("viewer", page=True)
competitors.page()
