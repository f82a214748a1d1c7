"""Settings for the CRM.

Everything that differs between a laptop demo and a production deployment comes from the
environment (or a `.env` file beside README.md). `CRM_ENV=production` switches on the strict
settings and refuses to start with a missing or default secret key.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


CRM_ENV = env("CRM_ENV", "development")
PRODUCTION = CRM_ENV == "production"
TESTING = "pytest" in sys.modules or env_bool("CRM_TESTING")
DATA_DIR = Path(env("CRM_DATA_DIR", str(BASE_DIR / "data")))

DEFAULT_SECRET_KEY = "django-insecure-crm-development-key-change-me"
SECRET_KEY = env("SECRET_KEY", DEFAULT_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "CRM_ENV=production needs SECRET_KEY set to a random value of at least 50 characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )

DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "axes",
    "django_tasks_db",
    "crm.core",
    "crm.accounts",
    "crm.customers",
    "crm.sales",
    "crm.activities",
    "crm.leads",
    "crm.notify",
    "crm.dataio",
    "crm.privacy",
    "crm.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "crm.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "crm.core.middleware.InterfaceLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Configuration (lists, settings, grants, scopes) read once per request (issue 5 §6).
    "crm.core.configstate.ConfigStampMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before any middleware or view reads a form body: too large -> the CRM's 413 page.
    "crm.core.body_limit.RequestTooLargeMiddleware",
    # Refreshes the session's idle deadline at most once a minute (issue 5 §6).
    "crm.accounts.middleware.SessionIdleRefreshMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "crm.core.middleware.HtmxLoginRedirectMiddleware",
    "crm.accounts.middleware.ForcePasswordChangeMiddleware",
    # Axes must come last so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.web.context_processors.navigation",
                "crm.notify.context_processors.notifications",
            ],
            "builtins": ["django.templatetags.i18n", "crm.web.templatetags.crm"],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'crm.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE makes every transaction take the write lock up front, so two concurrent
        # creates queue up instead of failing with "database is locked" half-way through.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    if TESTING:
        DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-crm.sqlite3")}
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# --- Cache, sessions, tasks ------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    # django_tasks_rq reaches Redis through django_rq's queues and checks the app is installed;
    # without Redis there are no RQ queues to configure, so it joins only here.
    INSTALLED_APPS.append("django_rq")
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_rq.RQBackend",
            "QUEUES": ["default"],
        }
    }
    RQ_QUEUES = {"default": {"URL": REDIS_URL}}
else:
    # Without Redis the cache must still be one for every process of the box (`crm run`
    # starts two web workers): a per-process local-memory cache let the workers disagree for
    # minutes (issue 5 §1). Configuration no longer goes through the cache at all (it is
    # parsed per process and keyed by a stamp in the database, crm.core.configstate), so
    # what remains cached is small and rare (rate-limit counters and the like), and a file
    # cache beside the SQLite database is shared by all processes with nothing to set up.
    # Tests run in one process: local memory, cleared around every test.
    CACHES = {
        "default": (
            {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
            if TESTING
            else {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(DATA_DIR / "cache"),
            }
        )
    }
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
if TESTING:
    TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# ORG-4 and issue 5 §3: login protection an attacker cannot turn against users.
# 1. 5 failed logins in 15 minutes lock one username *at one client address* (the combination,
#    so that strangers cannot lock a colleague out from elsewhere, and one typing colleague does
#    not lock a whole office behind a NAT address).
AXES_FAILURE_LIMIT = int(env("CRM_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env("CRM_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# 2. One address may fail this often in the same 15 minutes, whatever the usernames (429).
CRM_LOGIN_IP_FAILURE_LIMIT = int(env("CRM_LOGIN_IP_FAILURE_LIMIT", "20"))
# 3. One username may fail this often from all addresses together within the window; then it
#    is locked for everybody and the administrators are told (audit entry and email).
CRM_LOGIN_ACCOUNT_FAILURE_LIMIT = int(env("CRM_LOGIN_ACCOUNT_FAILURE_LIMIT", "50"))
CRM_LOGIN_ACCOUNT_WINDOW = timedelta(minutes=int(env("CRM_LOGIN_ACCOUNT_WINDOW_MINUTES", "60")))
AXES_HANDLER = "crm.accounts.lockout.LoginAttemptHandler"
# A refused attempt checks no password, so it is not a guess: it neither counts nor extends the
# lock (else a locked-out attacker's retries would push a username over limit 3 on their own).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crm.accounts.views.lockout_response"
AXES_VERBOSE = False
AXES_ENABLED = env_bool("CRM_AXES_ENABLED", default=True)
# The client address, for the lockout and the audit trail alike (crm/core/net.py). Behind
# reverse proxies set the number of proxies that append to X-Forwarded-For (nginx: 1); with
# the default 0 the header is ignored, since any client can send it.
CRM_TRUSTED_PROXY_COUNT = int(env("CRM_TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "crm.core.net.client_address"

# Login alerts go to the administrators by email. A development machine without EMAIL_HOST
# prints them on the worker's console; production sends through EMAIL_HOST (default: the
# local mail server on localhost:25).
if env("EMAIL_HOST") or PRODUCTION:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env("EMAIL_HOST", "localhost"),
                "port": int(env("EMAIL_PORT", "25")),
                "username": env("EMAIL_HOST_USER"),
                "password": env("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS"),
                "use_ssl": env_bool("EMAIL_USE_SSL"),
                "timeout": 20,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "crm@localhost")

# Idle timeout: the session expires this long after the last request. No session write per
# request (issue 5 §6): SessionIdleRefreshMiddleware saves a logged-in session, and so pushes
# this deadline forward, only when its last refresh is over a minute old.
SESSION_COOKIE_AGE = int(env("CRM_SESSION_IDLE_MINUTES", "30")) * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "crm" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("CRM_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
NODE_MODULES = BASE_DIR / "node_modules"
# Front-end libraries from the npm registry (package.json), served by WhiteNoise: no CDN.
STATICFILES_DIRS = [
    (f"vendor/{name}", path)
    for name, path in (
        ("echarts", NODE_MODULES / "echarts" / "dist"),
        ("sortablejs", NODE_MODULES / "sortablejs"),
    )
    if path.is_dir()
]
# Attachments (crm/core/files.py). MEDIA_URL is never routed (crm/urls.py) and WhiteNoise
# serves only static files: a file is read only through the download view, which checks that
# the viewer may see its record.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("CRM_MEDIA_ROOT", str(DATA_DIR / "media")))
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
# Uploads larger than this are spooled to a temporary file while the request is read, not
# kept in memory (Django's default, 2.5 MB). The size limit of an attachment is a business
# rule (Settings → System rules, `attachment_max_mb`), enforced by crm.core.body_limit before
# the body is read and by crm.core.files while it is checked; DATA_UPLOAD_MAX_MEMORY_SIZE
# stays Django's default for the non-file part of every request (JSON bodies, form fields).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440


def storages_config(environ: dict[str, str] | os._Environ[str]) -> dict[str, dict]:
    """Where files go: the folder under the data directory by default; an S3-compatible bucket
    (django-storages, `pip install 'crm[s3]'`) when CRM_S3_BUCKET is set. Private either way:
    no public ACL, and signed URLs only, should anything ask the storage for one."""
    default: dict = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    bucket = environ.get("CRM_S3_BUCKET", "").strip()
    if bucket:
        default = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": environ.get("CRM_S3_ENDPOINT_URL", "").strip() or None,
                "access_key": environ.get("CRM_S3_ACCESS_KEY", "").strip() or None,
                "secret_key": environ.get("CRM_S3_SECRET_KEY", "").strip() or None,
                "region_name": environ.get("CRM_S3_REGION", "").strip() or None,
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": False,
            },
        }
    return {
        "default": default,
        "staticfiles": {
            "BACKEND": (
                "whitenoise.storage.CompressedManifestStaticFilesStorage"
                if PRODUCTION
                else "django.contrib.staticfiles.storage.StaticFilesStorage"
            )
        },
    }


STORAGES = storages_config(os.environ)
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Security -------------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    # Inline style attributes are harmless here and keep templates simple.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    DEBUG = False
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- CRM defaults (administrators change these in Settings) ---------------------------------
# Backups (SYS-3, `crm backup`, the daily sweep): where the archives are written.
CRM_BACKUP_DIR = Path(env("CRM_BACKUP_DIR", str(DATA_DIR / "backups")))
# The daily backup sweep; off under tests, where every sweep round (the demo's replay, the
# pool tests) would otherwise write an archive of the test database.
CRM_BACKUP_SWEEP = env_bool("CRM_BACKUP_SWEEP", default=not TESTING)
CRM_DEMO_PASSWORD = env("CRM_DEMO_PASSWORD", "crm-demo-2026")
CRM_PAGE_SIZE = 20
# Exports (issue 8 §3): rows answered at once (more run as a background job), and how long
# a background export's file is kept.
CRM_EXPORT_SYNC_LIMIT = int(env("CRM_EXPORT_SYNC_LIMIT", "10000"))
CRM_EXPORT_KEEP_DAYS = int(env("CRM_EXPORT_KEEP_DAYS", "7"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
