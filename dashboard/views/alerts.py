"""The alerts page (navigation in ``dashboard/app.py``, code in ``dashboard/alerts_page.py``)."""

from dashboard import alerts_page

alerts_page.page()
