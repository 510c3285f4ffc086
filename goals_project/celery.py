"""The Celery app. Without CELERY_BROKER_URL every task runs eagerly, in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings")

app = Celery("goals_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="goals_project.ping")
def ping(value: str) -> str:
    """Round-trip check used by operators and the worker test."""
    return f"pong:{value}"
