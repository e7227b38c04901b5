"""Test settings: production settings with a throw-away key, no HTTPS redirect, plain static storage."""
import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("AUDIT_ANCHOR_KEY", "test-only-audit-anchor-key-0123456789abcdef")
# Anchors belong to one database: a test run's go to a file of its own (tests that anchor use their tmp_path).
os.environ.setdefault("AUDIT_ANCHOR_FILE", os.path.join(tempfile.gettempdir(), f"audit-anchors-test-{os.getpid()}",
                                                        "anchors.jsonl"))

from .settings import *  # noqa: E402,F403

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
