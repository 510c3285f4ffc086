"""Root conftest: environment defaults for the test run, set before Django reads settings."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("STATIC_MANIFEST", "0")
