"""Security baseline: lockout by username + address, deploy checks, masked ID numbers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


def login(client, username, password, ip):
    return client.post(reverse("admin:login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_lockout_after_repeated_failures_only_for_that_username_and_address(client, clerk_a, clerk_b, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "clerk_a", "wrong-password", "10.0.0.1")
    locked = login(client, "clerk_a", PASSWORD, "10.0.0.1")
    assert locked.status_code == 429
    # Another clerk behind the same township NAT still gets in.
    assert login(client, "clerk_b", PASSWORD, "10.0.0.1").status_code == 302


def test_check_deploy_is_clean_in_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "SECURE_SSL_REDIRECT"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0",
           "SECRET_KEY": "prod-like-secret-" + "x9Q!" * 15, "ALLOWED_HOSTS": "ybj.example.gov.cn",
           # the audit anchors' key and a file outside the app (poverty_registry.audit.checks warns without them)
           "AUDIT_ANCHOR_KEY": "prod-like-anchor-key-" + "k7R#" * 10, "AUDIT_ANCHOR_FILE": "/srv/anchors/a.jsonl"})
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_id_numbers_masked_in_lists_unless_permitted(client, clerk_a, supervisor, person_a):
    masked = person_a.id_number[:6] + "********" + person_a.id_number[-4:]
    client.force_login(clerk_a)
    page = client.get(reverse("admin:poverty_registry_person_changelist")).content.decode()
    assert masked in page and person_a.id_number not in page
    detail = client.get(reverse("admin:poverty_registry_person_change", args=[person_a.pk])).content.decode()
    assert masked in detail and person_a.id_number not in detail
    client.force_login(supervisor)  # supervisors hold view_full_id_number
    page = client.get(reverse("admin:poverty_registry_person_changelist")).content.decode()
    assert person_a.id_number in page


def test_security_headers(client, clerk_a):
    client.force_login(clerk_a)
    response = client.get(reverse("home"))
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_session_expires_when_idle(settings):
    assert settings.SESSION_SAVE_EVERY_REQUEST and settings.SESSION_COOKIE_AGE <= 3600
