"""Settings, driven by environment variables.

Without any variable the project runs embedded: SQLite file, tasks executed eagerly in
process, local-memory cache. `DATABASE_URL`, `REDIS_URL` and `CELERY_BROKER_URL` switch it to
PostgreSQL, Redis and real Celery workers. The README lists every variable.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The fallback key only suits local runs; `manage.py check --deploy` flags it.
SECRET_KEY = os.environ.get("SECRET_KEY") or "django-insecure-local-development-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.UnstorableQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "promo"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@promo.local")

# Webhooks to loopback, private or link-local addresses are refused unless this is on (local
# development and tests), so an endpoint URL cannot reach the services behind the firewall.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", DEBUG)

# --- REST API ---------------------------------------------------------------------------------
# JSON bodies nested deeper than this are refused with a 400 (`parse_error`).
JSON_MAX_DEPTH = int(os.environ.get("JSON_MAX_DEPTH", "32"))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "brands.api.authentication.DeviceKeyAuthentication",
        "rest_framework.authentication.TokenAuthentication",
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
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
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
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Synced into django-celery-beat's tables when beat starts; editable in the admin afterwards.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
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
        "schedule": 60 * 60,
    },
    "loyalty-notify-expiring-points": {
        "task": "loyalty_management.notify_expiring_points",
        "schedule": 6 * 60 * 60,
    },
    "loyalty-review-tiers": {
        "task": "loyalty_management.review_tiers",
        "schedule": 24 * 60 * 60,
    },
    "loyalty-repair-balance-drift": {
        "task": "loyalty_management.repair_balance_drift",
        "schedule": 24 * 60 * 60,
    },
    "rules-daily-sweep": {
        "task": "rules.daily_sweep",
        "schedule": 24 * 60 * 60,
    },
    "promotions-sync-promotions-to-stores": {
        "task": "promotions.sync_promotions_to_stores",
        "schedule": 60,
    },
    "promotions-sweep-pos-logs": {
        "task": "promotions.sweep_pos_logs",
        "schedule": 60 * 60,
    },
    "promotions-reconcile-usage-counters": {
        "task": "promotions.reconcile_usage_counters",
        "schedule": 24 * 60 * 60,
    },
}

# --- POS uploads ------------------------------------------------------------------------------
# Device log lines are kept this many days (swept hourly), and a device may send this many
# lines per minute (a 429 with Retry-After above it).
POS_LOG_RETENTION_DAYS = int(os.environ.get("POS_LOG_RETENTION_DAYS", "30"))
POS_LOG_LINES_PER_MINUTE = int(os.environ.get("POS_LOG_LINES_PER_MINUTE", "600"))

# --- Cache resilience and throttling ------------------------------------------------------

# --- Transactional outbox ---------------------------------------------------------------------

# --- Authentication, lockout and passwords ---------------------------------------------------

# --- Personal data and retention --------------------------------------------------------------

# --- Deployment and security headers ----------------------------------------------------------

# --- Logging and error reporting --------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,
    )

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
