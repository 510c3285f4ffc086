import logging
import sys

from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created

logger = logging.getLogger("campaigns")


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Messaging data"

    def ready(self) -> None:
        from campaigns import sqlite

        connection_created.connect(sqlite.on_connection_created, dispatch_uid="campaigns.sqlite")
        if _is_server_start():
            logger.info("Goals starting: %s", runtime_summary())


def _is_server_start() -> bool:
    argv = " ".join(sys.argv)
    return any(word in argv for word in ("runserver", "gunicorn", "uwsgi", "celery", "daphne"))


def runtime_summary() -> str:
    """Which database and which task mode this process uses, in one line."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        database = f"SQLite database {db['NAME']}"
    else:
        database = f"PostgreSQL database {db['NAME']} on {db.get('HOST') or 'local socket'}"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        tasks = "background tasks run in-process (no CELERY_BROKER_URL set)"
    else:
        broker = settings.CELERY_BROKER_URL.split("@")[-1]
        tasks = f"background tasks queued to Celery broker {broker}"
    return f"{database}; {tasks}"
