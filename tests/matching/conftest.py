"""Fixtures of the matching tests: an empty inbox directory configured as MATCHING_INBOX."""
from __future__ import annotations

import pytest


@pytest.fixture
def inbox(tmp_path, settings):
    folder = tmp_path / "inbox"
    folder.mkdir()
    settings.MATCHING_INBOX = folder
    return folder
