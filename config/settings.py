"""Settings, driven by environment variables.

Without any variable the project runs embedded: SQLite file, tasks executed eagerly in
process, local-memory cache. `DATABASE_URL`, `REDIS_URL` and `CELERY_BROKER_URL` switch it to
PostgreSQL, Redis and real Celery workers. The README lists every variable.
"""

import hashlib
import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import csp.constants
import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random value, for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, or set DEBUG=1 "
            "to run locally with a development key."
        )
    # Local development only: DEBUG is on, and `manage.py check --deploy` flags this key.
    SECRET_KEY = "django-insecure-local-development-key-change-me"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # First, so that its `createsuperuser` (the password policy without a prompt) is the one run.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "core",
    "brands",
    "customers",
    "catalog",
    "labels",
    "orders",
    "notifications",
    "promotions",
    "loyalty_management",
    "marketing",
    "rules",
    "wallets",
    "rewards",
    "campaigns",
    "vouchers",
    "experiments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.UnstorableQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees the response of a login view that met a lockout.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# The test suite runs on parallel workers (pytest-xdist, `make test`): as each gets a test
# database of its own, each gets a Redis database of its own (the one of REDIS_URL + 1 + its
# number), since tests empty the cache and count rate limits there.
_TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _TEST_WORKER.startswith("gw") and _TEST_WORKER[2:].isdigit():
    _redis = urlsplit(REDIS_URL)
    _redis_db = int(_redis.path.strip("/") or 0) + 1 + int(_TEST_WORKER[2:])
    REDIS_URL = urlunsplit(_redis._replace(path=f"/{_redis_db}"))
# CACHES: see "Cache resilience and throttling" below.

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# runserver and the test client serve app static files straight from their folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Production sends through SMTP; the console backend (which prints whole messages and
# addresses into the log) is the default only with DEBUG.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@promo.local")

# Webhooks to loopback, private or link-local addresses are refused unless this is on (local
# development and tests), so an endpoint URL cannot reach the services behind the firewall.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", DEBUG)
# Private networks webhooks may reach all the same (comma-separated CIDRs, e.g. a receiver
# inside the company network: "10.20.0.0/16").
# A malformed value stops the start here, rather than failing deliveries later.
WEBHOOK_ALLOWED_NETWORKS = [
    str(ipaddress.ip_network(cidr, strict=False))
    for cidr in env_list("WEBHOOK_ALLOWED_NETWORKS", "")
]

# --- REST API ---------------------------------------------------------------------------------
# JSON bodies nested deeper than this are refused with a 400 (`parse_error`).
JSON_MAX_DEPTH = int(os.environ.get("JSON_MAX_DEPTH", "32"))
# JSON bodies larger than this are refused with a 413 (`payload_too_large`): 200 POS tickets of
# 50 lines fit well within it.
JSON_MAX_BODY_BYTES = int(os.environ.get("JSON_MAX_BODY_BYTES", str(5 * 1024 * 1024)))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "brands.api.authentication.DeviceKeyAuthentication",
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ClientRateThrottle"],
    # Client IPs come from X-Forwarded-For only as far as this many proxies are trusted.
    "NUM_PROXIES": int(os.environ.get("TRUSTED_PROXY_COUNT", "0")),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Promotions and loyalty platform API",
    "DESCRIPTION": (
        "Storefront, staff and POS device API. Every error has the body "
        '`{"code", "message", "fields"}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PaymentStatusEnum": "orders.models.Order.PaymentStatus",
        "OrderStatusEnum": "orders.models.Order.Status",
        "ChannelEnum": "orders.models.Order.Channel",
        "LabelTypeEnum": "labels.models.Label.Type",
        "PromotionTypeEnum": "promotions.models.Promotion.Type",
        "PromotionStatusEnum": "promotions.models.Promotion.Status",
        "PromotionStackingEnum": "promotions.models.Promotion.Stacking",
        "PromotionTargetEnum": "promotions.models.Promotion.Target",
        "RuleStatusEnum": "rules.models.Rule.Status",
        "RuleEventEnum": "rules.models.Event",
        "RuleConditionEntityEnum": "rules.models.RuleCondition.Entity",
        "RuleConditionOperatorEnum": "rules.models.RuleCondition.Operator",
        "RuleActionTypeEnum": "rules.models.RuleAction.Type",
        "RuleFiringOutcomeEnum": "rules.models.RuleFiring.Outcome",
        "BadgeKindEnum": "loyalty_management.models.BadgeDefinition.Kind",
    },
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or REDIS_URL or None
# Without a broker, tasks run in the calling process once its transaction commits.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "default")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task unacknowledged for this long is handed to another worker (Redis transport).
# Publishing to a broker that hangs fails after the socket timeout instead of holding the request
# (what was owed stays in the outbox); it must stay above the worker's 1 s poll.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "5")),
    "socket_connect_timeout": float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "2")),
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "core.beat_scheduler:DatabaseScheduler"
# The default periodic tasks. Beat creates the missing ones in django-celery-beat's tables when
# it starts and never overwrites them: edit them in the admin (Periodic tasks). Daily and
# hourly jobs run at fixed times (UTC, crontab), the others every few minutes.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "core-outbox-sweep": {
        "task": "core.outbox_sweep",
        "schedule": 60,
    },
    "core-outbox-purge": {
        "task": "core.outbox_purge",
        "schedule": crontab(minute="45", hour="3"),  # daily at 03:45
    },
    "notifications-requeue-stale-deliveries": {
        "task": "notifications.requeue_stale_deliveries",
        "schedule": 5 * 60,
    },
    "marketing-reconcile-loyalty-points": {
        "task": "marketing.reconcile_loyalty_points",
        "schedule": 10 * 60,
    },
    "loyalty-release-pending-points": {
        "task": "loyalty_management.release_pending_points",
        "schedule": 15 * 60,
    },
    "loyalty-expire-points": {
        "task": "loyalty_management.expire_points",
        "schedule": crontab(minute="5"),  # hourly at :05
    },
    "loyalty-notify-expiring-points": {
        "task": "loyalty_management.notify_expiring_points",
        "schedule": crontab(minute="15", hour="*/6"),  # 00:15, 06:15, 12:15, 18:15
    },
    "loyalty-review-tiers": {
        "task": "loyalty_management.review_tiers",
        "schedule": crontab(minute="30", hour="2"),  # daily at 02:30
    },
    "loyalty-repair-balance-drift": {
        "task": "loyalty_management.repair_balance_drift",
        "schedule": crontab(minute="0", hour="3"),  # daily at 03:00
    },
    "rules-daily-sweep": {
        "task": "rules.daily_sweep",
        "schedule": crontab(minute="0", hour="5"),  # daily at 05:00
    },
    "promotions-sync-promotions-to-stores": {
        "task": "promotions.sync_promotions_to_stores",
        "schedule": 60,
    },
    "promotions-sweep-pos-logs": {
        "task": "promotions.sweep_pos_logs",
        "schedule": crontab(minute="35"),  # hourly at :35
    },
    "promotions-reconcile-usage-counters": {
        "task": "promotions.reconcile_usage_counters",
        "schedule": crontab(minute="30", hour="3"),  # daily at 03:30
    },
}

# --- POS uploads ------------------------------------------------------------------------------
# Device log lines are kept this many days (swept hourly), and a device may send this many
# lines per minute (a 429 with Retry-After above it).
POS_LOG_RETENTION_DAYS = int(os.environ.get("POS_LOG_RETENTION_DAYS", "30"))
POS_LOG_LINES_PER_MINUTE = int(os.environ.get("POS_LOG_LINES_PER_MINUTE", "600"))


# --- Cache resilience and throttling ------------------------------------------------------
def database_key_prefix(database: dict) -> str:
    """A cache key prefix unique to the database, so deployments sharing a Redis stay apart."""
    parts = ("ENGINE", "HOST", "PORT", "NAME")
    identity = "|".join(str(database.get(part) or "") for part in parts)
    return "promo-" + hashlib.sha256(identity.encode()).hexdigest()[:12]


CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX") or database_key_prefix(DATABASES["default"])
# Each request waits at most about this long on an unreachable Redis (connect, then read)...
CACHE_SOCKET_TIMEOUT = float(os.environ.get("CACHE_SOCKET_TIMEOUT", "0.1"))
# ...and after a failure the process skips Redis for this long before it tries again.
CACHE_CIRCUIT_BREAKER_COOLDOWN = float(os.environ.get("CACHE_CIRCUIT_BREAKER_COOLDOWN", "30"))
if REDIS_URL:
    _redis_options = {
        "socket_connect_timeout": CACHE_SOCKET_TIMEOUT,
        "socket_timeout": CACHE_SOCKET_TIMEOUT,
        "CIRCUIT_BREAKER_COOLDOWN": CACHE_CIRCUIT_BREAKER_COOLDOWN,
    }
    CACHES = {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": _redis_options,
        },
        # Rate limit counters: Redis, or this process's memory while Redis is unreachable.
        "throttle": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{CACHE_KEY_PREFIX}-throttle",
            "OPTIONS": {**_redis_options, "FALLBACK": True},
        },
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "throttle": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "throttle",
        },
    }

# Requests per client (device, user, or IP) and scope; "N/second|minute|hour|day".
THROTTLE_RATES = {
    scope: os.environ.get(f"THROTTLE_RATE_{scope.upper()}", default)
    for scope, default in {
        "default": "600/minute",
        "auth": "10/minute",
        "quote": "120/minute",
        "order": "60/minute",
        "codes": "20/minute",
        "pos_sync": "600/minute",
        "pos_upload": "120/minute",
    }.items()
}

# --- Transactional outbox ---------------------------------------------------------------------
# What must happen after a commit is written in the same transaction and sent to the broker after
# it (core/outbox.py). A message not done is sent again this long after its last send, the
# delay doubling each time up to the maximum; done messages are kept this many days.
OUTBOX_RESEND_AFTER_SECONDS = int(os.environ.get("OUTBOX_RESEND_AFTER_SECONDS", "300"))
OUTBOX_RESEND_MAX_SECONDS = int(os.environ.get("OUTBOX_RESEND_MAX_SECONDS", "3600"))
# A send the broker refused is tried again after this, doubled per send, by the sweep.
OUTBOX_SEND_RETRY_SECONDS = int(os.environ.get("OUTBOX_SEND_RETRY_SECONDS", "30"))
OUTBOX_RETENTION_DAYS = int(os.environ.get("OUTBOX_RETENTION_DAYS", "7"))
# /healthz says `degraded` while an owed effect has waited longer than this.
OUTBOX_LATE_AFTER_SECONDS = int(os.environ.get("OUTBOX_LATE_AFTER_SECONDS", "900"))

# --- Authentication, lockout and passwords ---------------------------------------------------
# django-axes counts failed logins in the database (admin, basket page and API token alike) and
# refuses a username, or an IP address, after AUTH_FAILURE_LIMIT failures within the cool-off;
# each failure during a lockout starts the cool-off again.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AUTH_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AUTH_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = False  # else one good login of the attacker's own clears the IP's count
AXES_DISABLE_ACCESS_LOG = True  # successful logins go to the `security` log instead
AXES_VERBOSE = False
# The client's address, for lockouts and the security log, is DRF's (as for throttles):
# REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT reverse proxies (REST_FRAMEWORK["NUM_PROXIES"])
# the address the nearest one saw, taken from X-Forwarded-For. 0 trusts no such header at all.
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"

# API tokens (django-rest-knox): only a hash is stored; each login issues a new token that
# expires after AUTH_TOKEN_TTL_HOURS; a user keeps at most AUTH_TOKEN_LIMIT_PER_USER live ones.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=int(os.environ.get("AUTH_TOKEN_TTL_HOURS", "24"))),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
AUTH_TOKEN_LIMIT_PER_USER = int(os.environ.get("AUTH_TOKEN_LIMIT_PER_USER", "10"))

# Argon2 hashes new passwords; a password stored with another hasher below is rehashed with
# Argon2 at its owner's next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# --- Personal data and retention --------------------------------------------------------------
# Who sees which personal field in full, masked or not at all is the table in core/privacy.py.
# Records older than these many days are deleted by nightly sweeps, in batches of
# RETENTION_BATCH_SIZE rows: rule firings (`rules.sweep_firings`, 03:30 UTC) and notifications
# with their inbox messages, deliveries and attempts (`notifications.sweep_notifications`,
# 03:45 UTC). POS log lines have POS_LOG_RETENTION_DAYS above.
RULE_FIRING_RETENTION_DAYS = int(os.environ.get("RULE_FIRING_RETENTION_DAYS", "180"))
NOTIFICATION_RETENTION_DAYS = int(os.environ.get("NOTIFICATION_RETENTION_DAYS", "365"))
RETENTION_BATCH_SIZE = int(os.environ.get("RETENTION_BATCH_SIZE", "1000"))
# Failed login attempts (django-axes) are kept this many days (`accounts.sweep_login_attempts`,
# 04:00 UTC); a lockout needs only those within AUTH_COOLOFF_MINUTES.
LOGIN_ATTEMPT_RETENTION_DAYS = int(os.environ.get("LOGIN_ATTEMPT_RETENTION_DAYS", "30"))
CELERY_BEAT_SCHEDULE["rules-sweep-firings"] = {
    "task": "rules.sweep_firings",
    "schedule": crontab(hour=3, minute=30),
}
CELERY_BEAT_SCHEDULE["notifications-sweep-notifications"] = {
    "task": "notifications.sweep_notifications",
    "schedule": crontab(hour=3, minute=45),
}
CELERY_BEAT_SCHEDULE["accounts-sweep-login-attempts"] = {
    "task": "accounts.sweep_login_attempts",
    "schedule": crontab(hour=4, minute=0),
}

# --- Deployment and security headers ----------------------------------------------------------
# Off by default so the embedded default and the tests run over plain HTTP; the production
# environment in the README turns them on (`manage.py check --deploy` is then clean).
# Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER names the header it sets to
# "https" (e.g. X-Forwarded-Proto); the proxy must overwrite that header from clients.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's health check may use plain HTTP
_proxy_ssl_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
if _proxy_ssl_header:
    if not _proxy_ssl_header.upper().startswith("HTTP_"):
        _proxy_ssl_header = "HTTP_" + _proxy_ssl_header
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header.upper().replace("-", "_"), "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content security policy (django-csp) on every page: the admin, the basket pages and the API
# docs load scripts, styles, fonts and images from this site only, and call only this site.
# CSP_REPORT_ONLY=1 reports violations in the browser console instead of blocking them.
_content_security_policy = {
    "DIRECTIVES": {
        "default-src": [csp.constants.SELF],
        "script-src": [csp.constants.SELF],
        "style-src": [csp.constants.SELF],
        "img-src": [csp.constants.SELF, "data:"],
        "font-src": [csp.constants.SELF, "data:"],
        "connect-src": [csp.constants.SELF],
        "object-src": [csp.constants.NONE],
        "base-uri": [csp.constants.SELF],
        "form-action": [csp.constants.SELF],
        "frame-ancestors": [csp.constants.NONE],
    },
}
if env_bool("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _content_security_policy
else:
    CONTENT_SECURITY_POLICY = _content_security_policy

# Swagger UI and Redoc from drf-spectacular-sidecar: pinned with the package, served by this app.
SPECTACULAR_SETTINGS.update(
    SWAGGER_UI_DIST="SIDECAR", SWAGGER_UI_FAVICON_HREF="SIDECAR", REDOC_DIST="SIDECAR"
)

# --- Wallets ----------------------------------------------------------------------------------
# Stored-value wallets (the `wallets` app). Credit left in a wallet with no movement for
# WALLET_EXPIRY_INACTIVE_DAYS days expires (an `expiry` row on its ledger), swept daily at
# 04:15 UTC by `wallets.expire_inactive` in batches of WALLET_EXPIRY_BATCH_SIZE wallets.
# 0 (the default): wallet credit never expires.
WALLET_EXPIRY_INACTIVE_DAYS = int(os.environ.get("WALLET_EXPIRY_INACTIVE_DAYS", "0"))
WALLET_EXPIRY_BATCH_SIZE = int(os.environ.get("WALLET_EXPIRY_BATCH_SIZE", "500"))
CELERY_BEAT_SCHEDULE["wallets-expire-inactive"] = {
    "task": "wallets.expire_inactive",
    "schedule": crontab(hour=4, minute=15),
}

# --- Cashback ---------------------------------------------------------------------------------
# Cashback is credited as loyalty points when an order is paid and taken back on refunds
# (`marketing.cashback`); the rate is the program's `cashback_points_per_unit`. The sweep
# `marketing.reconcile_cashback` (every 10 minutes) credits and reverses what a lost task left
# undone, for orders older than CASHBACK_RECONCILE_AFTER_MINUTES and at most
# CASHBACK_RECONCILE_LOOKBACK_DAYS old.
CASHBACK_RECONCILE_AFTER_MINUTES = int(os.environ.get("CASHBACK_RECONCILE_AFTER_MINUTES", "10"))
CASHBACK_RECONCILE_LOOKBACK_DAYS = int(os.environ.get("CASHBACK_RECONCILE_LOOKBACK_DAYS", "30"))
CELERY_BEAT_SCHEDULE["marketing-reconcile-cashback"] = {
    "task": "marketing.reconcile_cashback",
    "schedule": 10 * 60,
}

# --- Badges ------------------------------------------------------------------------------------
# Badges are evaluated when an order becomes paid and when a tier changes; a daily review awards
# what a lost task missed. It runs at BADGES_REVIEW_HOUR:BADGES_REVIEW_MINUTE UTC (default
# 02:50, after the tier review at 02:30).
BADGES_REVIEW_HOUR = int(os.environ.get("BADGES_REVIEW_HOUR", "2"))
BADGES_REVIEW_MINUTE = int(os.environ.get("BADGES_REVIEW_MINUTE", "50"))
CELERY_BEAT_SCHEDULE["loyalty-review-badges"] = {
    "task": "loyalty_management.review_badges",
    "schedule": crontab(minute=BADGES_REVIEW_MINUTE, hour=BADGES_REVIEW_HOUR),
}

# --- Points catalogue and redemptions ----------------------------------------------------------
# A request waiting for staff approval longer than REDEMPTION_APPROVAL_TIMEOUT_DAYS expires (its
# points and stock go back). The sweep runs daily at REDEMPTION_EXPIRE_HOUR:REDEMPTION_EXPIRE_MINUTE
# UTC (default 03:10).
REDEMPTION_APPROVAL_TIMEOUT_DAYS = int(os.environ.get("REDEMPTION_APPROVAL_TIMEOUT_DAYS", "14"))
REDEMPTION_EXPIRE_HOUR = int(os.environ.get("REDEMPTION_EXPIRE_HOUR", "3"))
REDEMPTION_EXPIRE_MINUTE = int(os.environ.get("REDEMPTION_EXPIRE_MINUTE", "10"))
# Redemption requests a customer may make per minute (the other catalogue calls count under
# `default`).
THROTTLE_RATES["redemptions"] = os.environ.get("THROTTLE_RATE_REDEMPTIONS", "30/minute")
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "RedemptionItemKindEnum": "loyalty_management.models.RedemptionItem.Kind",
        "RedemptionStatusEnum": "loyalty_management.models.RedemptionRequest.Status",
    }
)
CELERY_BEAT_SCHEDULE["loyalty-expire-redemptions"] = {
    "task": "loyalty_management.expire_redemptions",
    "schedule": crontab(minute=REDEMPTION_EXPIRE_MINUTE, hour=REDEMPTION_EXPIRE_HOUR),
}

# --- Rewards ------------------------------------------------------------------------------------
# Birthday rewards are issued hourly (`rewards.issue_birthday_rewards`, at :20), so every brand's
# local midnight is caught; a second run in the day issues nothing. Reward codes are announced
# REWARD_EXPIRY_NOTICE_DAYS days before they expire (0: never) and expire daily at
# REWARD_EXPIRY_HOUR:REWARD_EXPIRY_MINUTE UTC (default 03:20; `rewards.expire_rewards`).
REWARD_EXPIRY_NOTICE_DAYS = int(os.environ.get("REWARD_EXPIRY_NOTICE_DAYS", "3"))
REWARD_EXPIRY_HOUR = int(os.environ.get("REWARD_EXPIRY_HOUR", "3"))
REWARD_EXPIRY_MINUTE = int(os.environ.get("REWARD_EXPIRY_MINUTE", "20"))
THROTTLE_RATES["rewards"] = os.environ.get("THROTTLE_RATE_REWARDS", "60/minute")
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "RewardKindEnum": "rewards.models.RewardKind",
        "RewardTriggerEnum": "rewards.models.RewardTemplate.Trigger",
        "CustomerRewardStatusEnum": "rewards.models.CustomerReward.Status",
        "CustomerRewardSourceEnum": "rewards.models.CustomerReward.Source",
    }
)
CELERY_BEAT_SCHEDULE["rewards-issue-birthday-rewards"] = {
    "task": "rewards.issue_birthday_rewards",
    "schedule": crontab(minute="20"),  # hourly at :20
}
CELERY_BEAT_SCHEDULE["rewards-expire-rewards"] = {
    "task": "rewards.expire_rewards",
    "schedule": crontab(minute=REWARD_EXPIRY_MINUTE, hour=REWARD_EXPIRY_HOUR),
}
# --- Cross-brand campaigns ---------------------------------------------------------------------
# Progress is recorded when an order is paid or refunded (`campaigns.record_order`, through the
# outbox); `campaigns.process_cross_brand_accumulation` is the safety net, hourly at :25 UTC: it
# records what a lost delivery missed (campaigns live, or ended less than a day ago) and issues
# the rewards due. Customers' `GET /api/v1/campaigns/me/` counts under the `campaigns` scope.
THROTTLE_RATES["campaigns"] = os.environ.get("THROTTLE_RATE_CAMPAIGNS", "120/minute")
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "CampaignRewardKindEnum": "campaigns.models.CrossBrandCampaign.RewardKind",
        "CampaignRequirementEnum": "campaigns.models.CrossBrandCampaign.Requirement",
    }
)
CELERY_BEAT_SCHEDULE["campaigns-process-cross-brand-accumulation"] = {
    "task": "campaigns.process_cross_brand_accumulation",
    "schedule": crontab(minute="25"),  # hourly at :25
}

# --- Logging and error reporting --------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Email addresses and phone numbers are masked in every record the handlers write.
    "filters": {"pii": {"()": "core.privacy.PiiLogFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["pii"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own handlers (the debug console, error mails to ADMINS) would write records
        # unmasked: Django's records go through the masked console only.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}

SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from core.privacy import sentry_before_send

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,
        before_send=sentry_before_send,
    )
# --- Vouchers -----------------------------------------------------------------------------------
# Batches are generated by `vouchers.generate_batch` (through the outbox); codes of batches past
# their end are marked expired daily at 03:50 UTC (`vouchers.cleanup_expired_vouchers`). Staff
# endpoints count under the `vouchers` scope. A code entered that is not usable counts as a
# failed attempt per customer, IP address and device: VOUCHER_FAILURE_LIMIT failures within
# VOUCHER_LOCKOUT_SECONDS lock that party out of code look-ups for as long.
# VOUCHER_SIGNING_SECRET encrypts the brands' signing keys (default: SECRET_KEY).
VOUCHER_SIGNING_SECRET = os.environ.get("VOUCHER_SIGNING_SECRET", "")
VOUCHER_FAILURE_LIMIT = int(os.environ.get("VOUCHER_FAILURE_LIMIT", "10"))
VOUCHER_LOCKOUT_SECONDS = int(os.environ.get("VOUCHER_LOCKOUT_SECONDS", "900"))
THROTTLE_RATES["vouchers"] = os.environ.get("THROTTLE_RATE_VOUCHERS", "120/minute")
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "VoucherBatchStatusEnum": "vouchers.models.VoucherBatch.Status",
        "VoucherCodeStatusEnum": "vouchers.models.VoucherCode.Status",
        "VoucherRedemptionStatusEnum": "vouchers.models.VoucherRedemption.Status",
    }
)
CELERY_BEAT_SCHEDULE["vouchers-cleanup-expired-vouchers"] = {
    "task": "vouchers.cleanup_expired_vouchers",
    "schedule": crontab(minute="50", hour="3"),  # daily at 03:50
}
# --- A/B experiments ----------------------------------------------------------------------------
# Staff endpoints count under the `experiments` scope. Results read the orders of the exposed
# customers (`experiments.results`), so they are cached for EXPERIMENT_RESULTS_CACHE_SECONDS.
EXPERIMENT_RESULTS_CACHE_SECONDS = int(os.environ.get("EXPERIMENT_RESULTS_CACHE_SECONDS", "300"))
THROTTLE_RATES["experiments"] = os.environ.get("THROTTLE_RATE_EXPERIMENTS", "120/minute")
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "ExperimentStatusEnum": "experiments.models.Experiment.Status",
        "ExperimentAudienceEnum": "experiments.models.Experiment.Audience",
    }
)
