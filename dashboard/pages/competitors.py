"""The competitors page (code in ``dashboard/competitors.py``)."""

from dashboard import competitors

competitors.page()
