"""Django settings, read from the environment in this one place (safe production defaults)."""
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("生产环境必须设置 SECRET_KEY 环境变量")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"
# Rotating the key: the new one in SECRET_KEY, the old one here until sessions and signed links made with it
# have expired (README "Security model").
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_filters",
    "import_export",
    "axes",
    "csp",
    "poverty_registry",
    "enrollment",
    "claims",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "poverty_registry.audit.middleware.AuditContextMiddleware",
    "axes.middleware.AxesMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "poverty_registry.User"
LOGIN_URL = "admin:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/medins")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Timeouts: a Redis that is away fails a cache call within seconds (progress and parse caches are best
# effort), it does not hang a request.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                      "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 5}}}
# How long the dashboards' and statistics' aggregates are kept (poverty_registry/figures.py); 0 keeps none.
DASHBOARD_CACHE_SECONDS = int(os.environ.get("DASHBOARD_CACHE_SECONDS", "300"))

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Long imports and the nightly run are chunked; a redelivery must not come before a chunk can finish.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
CELERY_BEAT_SCHEDULE: dict = {}
# Celery tasks sharing out the chunks of one batch re-settlement (one per core of the workers is right).
RESETTLE_WORKERS = int(os.environ.get("RESETTLE_WORKERS", os.cpu_count() or 2))
# A re-settlement with no chunk finished for this long and none in progress was left by a dead worker (or its
# message was lost): beat's resettle.recover queues it again. Longer than a chunk's start-up on a busy queue.
RESETTLE_LEASE_SECONDS = int(os.environ.get("RESETTLE_LEASE_SECONDS", "900"))
CELERY_BEAT_SCHEDULE["resettle-recover"] = {"task": "resettle.recover", "schedule": 300.0}
# Memory for each sort or hash of a bulk write's transaction (PostgreSQL work_mem, set for that transaction:
# imports, re-settlement chunks, subsidy computations; importing.tune_bulk_transaction).
BULK_WORK_MEM = os.environ.get("BULK_WORK_MEM", "256MB")
# A statement changing more rows than this is recorded in the audit journal and spread into indexed records
# after its commit (poverty_registry.audit.trail); fewer are recorded directly. The periodic run catches up on any left.
AUDIT_DIRECT_ROWS = int(os.environ.get("AUDIT_DIRECT_ROWS", "5000"))
# Admin lists count exactly up to this many rows and show PostgreSQL's estimate ("约 …条") above it.
ADMIN_EXACT_COUNT_LIMIT = int(os.environ.get("ADMIN_EXACT_COUNT_LIMIT", "100000"))
# Limits on uploaded tables (poverty_registry.tabular), checked before any parse in every path (web, worker,
# command): the upload's size; each zip member's uncompressed size and compression ratio (zip bombs); rows of
# data, columns, and characters a cell (a longer cell is a row error).
IMPORT_MAX_FILE_MB = int(os.environ.get("IMPORT_MAX_FILE_MB", "50"))
IMPORT_MAX_MEMBER_MB = int(os.environ.get("IMPORT_MAX_MEMBER_MB", "200"))
IMPORT_MAX_COMPRESSION_RATIO = int(os.environ.get("IMPORT_MAX_COMPRESSION_RATIO", "100"))
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "300000"))
IMPORT_MAX_COLUMNS = int(os.environ.get("IMPORT_MAX_COLUMNS", "200"))
IMPORT_MAX_CELL_CHARS = int(os.environ.get("IMPORT_MAX_CELL_CHARS", "1000"))
# An upload whose table text (uncompressed sheets, or CSV bytes) passes this is previewed on a Celery worker
# even if its rows look few: the work done inside a web request stays bounded whatever the file claims.
IMPORT_INLINE_MAX_MB = int(os.environ.get("IMPORT_INLINE_MAX_MB", "16"))
CELERY_BEAT_SCHEDULE["audit-spread-journal"] = {"task": "audit.spread_journal", "schedule": 60.0}
# Audit anchors (poverty_registry.audit.anchor): every hour the heads of both audit chains, signed with a key the
# database never holds, are appended to a file the database cannot reach. Without a key, DEBUG derives one from
# SECRET_KEY; production refuses to anchor (and `check --deploy` warns). Retired keys still verify the lines they
# signed.
AUDIT_ANCHOR_KEY = os.environ.get("AUDIT_ANCHOR_KEY", "")
AUDIT_ANCHOR_RETIRED_KEYS = env_list("AUDIT_ANCHOR_RETIRED_KEYS")
AUDIT_ANCHOR_FILE = Path(os.environ.get("AUDIT_ANCHOR_FILE", VAR_DIR / "audit-anchors" / "anchors.jsonl"))
CELERY_BEAT_SCHEDULE["audit-anchor"] = {
    "task": "audit.anchor", "schedule": crontab(minute=os.environ.get("AUDIT_ANCHOR_MINUTE", "5")),
}
# A running import preview or confirm holds a lease its process renews (every third of it); beat marks a run
# whose lease ran out (its worker died) interrupted, and the clerk may retry it (poverty_registry.import_leases).
IMPORT_LEASE_SECONDS = int(os.environ.get("IMPORT_LEASE_SECONDS", "120"))
CELERY_BEAT_SCHEDULE["import-leases"] = {"task": "imports.expire_leases", "schedule": 60.0}

# Nightly cross-department matching (DOMAIN §8): inbox folder per source, schedule, link threshold.
MATCHING_INBOX = Path(os.environ.get("MATCHING_INBOX", VAR_DIR / "inbox"))
MATCHING_LINK_THRESHOLD = float(os.environ.get("MATCHING_LINK_THRESHOLD", "0.9"))
# A running matching run with no progress for this long and no step in progress was left by a dead worker:
# beat's matching.recover resumes it. Longer than the slowest step's start-up (the queue may be busy).
MATCHING_LEASE_SECONDS = int(os.environ.get("MATCHING_LEASE_SECONDS", "900"))
CELERY_BEAT_SCHEDULE["matching-recover"] = {"task": "matching.recover", "schedule": 300.0}
CELERY_BEAT_SCHEDULE["nightly-matching"] = {
    "task": "matching.nightly",
    "schedule": crontab(hour=os.environ.get("MATCHING_HOUR", "2"), minute=os.environ.get("MATCHING_MINUTE", "30")),
}
# Nightly anti-fraud screening of the year's claims (DOMAIN §7.1), after the matching.
CELERY_BEAT_SCHEDULE["nightly-screening"] = {
    "task": "supervision.screen_nightly",
    "schedule": crontab(hour=os.environ.get("SCREENING_HOUR", "3"), minute=os.environ.get("SCREENING_MINUTE", "30")),
}

# Access log (poverty_registry.access_log): an account that opens more persons' full ID numbers in a day than
# this is listed for supervisors (computed for the day before by beat at ACCESS_FLAG_HOUR:ACCESS_FLAG_MINUTE).
ACCESS_FULL_ID_DAILY_LIMIT = int(os.environ.get("ACCESS_FULL_ID_DAILY_LIMIT", "200"))
CELERY_BEAT_SCHEDULE["access-flag-day"] = {
    "task": "access_log.flag_yesterday",
    "schedule": crontab(hour=os.environ.get("ACCESS_FLAG_HOUR", "0"),
                        minute=os.environ.get("ACCESS_FLAG_MINUTE", "20")),
}

AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "poverty_registry.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Township offices sit behind one NAT: lock out a username from an address, not the whole address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_CALLABLE = "poverty_registry.auth.lockout_response"  # the page in Chinese, with the wait
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))

SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True  # idle expiry: the age counts from the last request
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# The back office speaks Chinese to everyone: no Accept-Language negotiation (no LocaleMiddleware).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Larger uploads spool to FILE_UPLOAD_TEMP_DIR; a full or unwritable disk drops the file with a message, not a 500.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "poverty_registry.uploads.SpoolingUploadHandler"]
IMPORT_EXPORT_SKIP_ADMIN_LOG = True  # the audit trail's triggers record every imported row
# The admin's "导出" is a way of viewing: who may view a model may export it (through its scoped resource);
# imports ask for change (the reference admins ask for add as well).
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT = True  # a control character in a name must not fail an export

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
