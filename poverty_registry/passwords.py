"""Password rules of AUTH_PASSWORD_VALIDATORS whose stock message Django's zh-hans translation lacks."""
from __future__ import annotations

from django.contrib.auth import password_validation


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django 5.2 changed this message's text and its translation was not updated: it showed in English."""

    def get_error_message(self):
        return f"密码太短，至少需要 {self.min_length} 个字符。"

    def get_help_text(self):
        return f"密码至少需要 {self.min_length} 个字符。"
