"""Settings for the platform, read from the environment.

Every value has a default that runs with no services at all (SQLite file, tasks run eagerly
in-process, the SMS simulator), so `manage.py runserver` works on a fresh machine. Production sets
the variables DESIGN.md lists; `DJANGO_HTTPS=1` switches on everything `check --deploy` asks for.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool = False) -> bool:
    """A yes/no variable. Anything but the accepted spellings stops start-up, naming the
    variable: a typo in DJANGO_HTTPS must never quietly turn HSTS and secure cookies off."""
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is not a yes/no value: use one of "
        f"{', '.join(sorted(_TRUE | _FALSE))} (or leave it unset for {int(default)})."
    )


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if value == "":
        return float(default)
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={value!r} is not a finite number.")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_float_list(name: str, default: str) -> list[float]:
    try:
        return [float(item) for item in env_list(name, default)]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={env_str(name)!r} is not a comma-separated list of numbers."
        ) from None


# The development key is only good for a machine nobody else reaches; `check --deploy` flags it.
_DEV_SECRET_KEY = "django-insecure-dev-only-key-change-me-with-DJANGO_SECRET_KEY"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL] if PUBLIC_BASE_URL.startswith("https://") else []

INSTALLED_APPS = [
    "artera.admin_site.ArteraAdminConfig",  # django.contrib.admin with the product's home
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "django_htmx",
    "csp",
    "axes",
    "artera",
    "practices",
    "channels_app",
    "messaging",
    "inbox",
    "webhooks",
    "insights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A chunked body without Content-Length would read as empty: 411 before anything reads it.
    "artera.middleware.LengthRequiredMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Stamps each request that extends a staff session, so pages can ask when it ends.
    "artera.sessions.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A database that cannot be reached is a 503 with Retry-After, never a 500.
    "artera.middleware.DatabaseUnavailableMiddleware",
    # Axes must come last so it sees the outcome of every authentication attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "artera.urls"
WSGI_APPLICATION = "artera.wsgi.application"
ASGI_APPLICATION = "artera.asgi.application"

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
                "csp.context_processors.nonce",
                "insights.context_processors.insights_link",
                "inbox.context_processors.live",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# CONN_MAX_AGE > 0 matters a great deal for throughput (a fresh connection per request costs
# more than the request); health checks keep a reused connection from failing after a restart.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is the zero-setup default only; it cannot share its connection across threads.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, sessions, brute-force protection -------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Django's own list, plus the fast keyed hash of OAuth client secrets (artera/secrets.py): last,
# so it is recognised but never used for a user's password.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "artera.secrets.ClientSecretHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "login"

# HIPAA: a workstation left signed in must lock itself. The session expires after 15 idle
# minutes; every request (that is not a background poll) pushes the expiry forward.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 15 * 60)
# Open pages warn this long before the session ends, with a "Stay signed in" button; they ask the
# server (artera/sessions.py) rather than trust their own timer, so a click in another tab counts.
SESSION_WARN_SECONDS = env_int("SESSION_WARN_SECONDS", 2 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
# Flash messages live in the (database) session, never in a cookie: the admin shows one-time
# secrets through them.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_SAMESITE = "Lax"

# Locked per username + IP so an attacker cannot lock a colleague out from elsewhere, and only
# for a cool-off period: a permanent lock would be a denial of service on the front desk.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The same client address as everything else (TRUSTED_PROXY_COUNT, below): behind a proxy,
# axes' default (REMOTE_ADDR) is the proxy, and one attacker would lock a user out everywhere.
AXES_CLIENT_IP_CALLABLE = "artera.clientaddr.client_ip"

# --- Security headers -----------------------------------------------------------------------
HTTPS = env_bool("DJANGO_HTTPS", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_HTTPS is on (production) but DJANGO_SECRET_KEY is not set.")
if HTTPS:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Pages load nothing from outside the server: every asset is vendored into static/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Internationalization -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = "US"
PHONENUMBER_DB_FORMAT = "E164"

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves static files from the app server (no separate web server, nothing external).
# Finders let it serve straight from the source folders when `collectstatic` has not been run.
WHITENOISE_USE_FINDERS = True

# --- API ------------------------------------------------------------------------------------
# MAPI / SMAPI views name their own authentication, permission, parser and throttle classes
# (webhooks/api/views.py); the defaults below deny anything that forgets to.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["webhooks.api.parsers.ApiJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [],
    "EXCEPTION_HANDLER": "artera.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# Named explicitly so migrations that point at DOT's swappable models resolve.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    # RFC 9700 (OAuth 2.0 Security BCP): hashed token storage, no implicit or password grants,
    # no tokens in query strings, https-only redirect URIs. Only client credentials are used.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "SCOPES": {
        "messages:send": "Send messages to patients",
        "messages:read": "Read messages and their delivery status",
    },
    # A client gets only the scopes its ApiClient lists (DOT's default: any scope at all);
    # only active ApiClients get tokens; the client-credentials grant is the only grant.
    "SCOPES_BACKEND_CLASS": "webhooks.api.oauth.ApiClientScopes",
    "OAUTH2_VALIDATOR_CLASS": "webhooks.api.oauth.ApiClientOAuth2Validator",
    "OAUTH2_SERVER_CLASS": "oauthlib.oauth2.BackendApplicationServer",
    # Client secrets are long random strings: a fast keyed hash, not PBKDF2 (artera/secrets.py).
    "CLIENT_SECRET_HASHER": "artera_hmac_sha256",
}
# The HMAC key of client secrets; unset: derived from SECRET_KEY (and SECRET_KEY_FALLBACKS).
API_CLIENT_SECRET_HASH_KEY = env_str("API_CLIENT_SECRET_HASH_KEY")
# Each web process remembers a bearer token's client for this many seconds (0: never), so a
# MAPI request costs no query to identify its caller. A token revoked, a client switched off, a
# scope taken away or an address allowlist narrowed elsewhere takes effect within this delay;
# in the process that made the change (e.g. Django admin), at once.
API_TOKEN_CACHE_SECONDS = env_float("API_TOKEN_CACHE_SECONDS", 5)
# Request bodies of the JSON API (a 1600-character text and 2 KB of metadata fit many times).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 64 * 1024)
# Request bodies of `POST /api/v1/messages/batch` (up to 500 messages: a typical reminder is
# about 300 bytes as JSON, so 500 of them fit about 25 times over).
API_BATCH_MAX_BODY_BYTES = env_int("API_BATCH_MAX_BODY_BYTES", 4 * 1024 * 1024)
# Per API client (or SMAPI key): requests per second on average, and the largest burst. 0 turns
# the limit off (e.g. for a load test). Shared through Redis when there is one.
API_RATE_LIMIT_PER_SECOND = env_float("API_RATE_LIMIT_PER_SECOND", 50)
API_RATE_LIMIT_BURST = env_int("API_RATE_LIMIT_BURST", 250)
# Token requests per client address (what one source may cost the token endpoint).
API_TOKEN_RATE_LIMIT_PER_SECOND = env_float("API_TOKEN_RATE_LIMIT_PER_SECOND", 1)
API_TOKEN_RATE_LIMIT_BURST = env_int("API_TOKEN_RATE_LIMIT_BURST", 30)
# Wrong secrets per client_id, from anywhere: past the burst, further wrong secrets are 429
# (right ones still get tokens, so a flood cannot lock the real client out). 0: no limit.
API_TOKEN_CLIENT_FAILURES_PER_MINUTE = env_float("API_TOKEN_CLIENT_FAILURES_PER_MINUTE", 10)
API_TOKEN_CLIENT_FAILURE_BURST = env_int("API_TOKEN_CLIENT_FAILURE_BURST", 10)
API_RATE_LIMIT_REDIS_URL = env_str("API_RATE_LIMIT_REDIS_URL", env_str("REDIS_URL"))
API_RATE_LIMIT_KEY_PREFIX = env_str("API_RATE_LIMIT_KEY_PREFIX", "artera:ratelimit")
# How many reverse proxies in front of the app append to X-Forwarded-For (0: none, use the
# socket's address and ignore the header). Sign-in lockout, the audit log, IP allowlists and
# rate limits all depend on this being right (artera/clientaddr.py); behind a proxy, bind the
# app server to 127.0.0.1 or a private interface so nobody can reach it around the proxy.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Idempotency keys are kept at least this long (the contract promises 24 hours).
API_IDEMPOTENCY_KEY_HOURS = env_int("API_IDEMPOTENCY_KEY_HOURS", 24)
SPECTACULAR_SETTINGS = {
    "TITLE": "Artera messaging API",
    "DESCRIPTION": "Text patients from an EMR (MAPI, OAuth 2.0) or a legacy integration "
    '(SMAPI). Every error is `{"error": {"code", "message", "field"}}`. '
    "Guide: docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "OAUTH2_FLOWS": ["clientCredentials"],
    "OAUTH2_TOKEN_URL": "/oauth/token/",
    "OAUTH2_SCOPES": OAUTH2_PROVIDER["SCOPES"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to validator.swagger.io: the docs page loads nothing from outside the server.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "tryItOutEnabled": False},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webhooks.api.schema.postprocess_schema",
    ],
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": "messaging.models.MessageStatus",
        "ErrorCodeEnum": "messaging.models.ErrorCode",
    },
}

# --- Live push (Django Channels) -------------------------------------------------------------
# The inbox's live events (new texts, statuses, assignment, presence, typing) go through a channel
# layer: Redis when REDIS_URL (or LIVE_REDIS_URL) is set, so every web node's sockets get every
# node's events; without Redis, an in-process layer (the zero-setup default serves pages and
# sockets from one process). Timeouts are short: a slow Redis must not hold a request that
# publishes after commit, so inbox/push.py publishes off the request thread, with a deadline.
LIVE_REDIS_URL = env_str("LIVE_REDIS_URL", env_str("REDIS_URL"))
LIVE_PUSH_ENABLED = env_bool("LIVE_PUSH_ENABLED", default=True)
# Whether pages open the live socket: `auto` when the page itself came through the ASGI server
# (scripts/run, or uvicorn serving everything); `on` when gunicorn serves the pages and uvicorn
# `/ws/` behind the same proxy; `off` for polling only.
LIVE_SOCKET = env_str("LIVE_SOCKET", "auto").strip().lower()
if LIVE_SOCKET not in {"auto", "on", "off"}:
    raise ImproperlyConfigured(f"LIVE_SOCKET={LIVE_SOCKET!r}: use auto, on or off.")
LIVE_SOCKET_PATH = "/ws/inbox/"
if LIVE_REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": LIVE_REDIS_URL,
                        "socket_connect_timeout": env_float("LIVE_REDIS_CONNECT_TIMEOUT", 0.5),
                        # A socket's receive waits in BZPOPMIN for 5 s (channels-redis); redis-py
                        # 8's default read timeout is 5 s too, and the two race into a
                        # TimeoutError that kills the socket. Reads get more than the wait.
                        "socket_timeout": 15,
                    }
                ],
                "prefix": env_str("LIVE_CHANNEL_PREFIX", "artera-live"),
                # An event is only worth something within seconds; a slow socket drops it and
                # catches up by fetching the page piece (the event is only a nudge).
                "expiry": 10,
                "group_expiry": 24 * 3600,
                "capacity": 200,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery ---------------------------------------------------------------------------------
# Unset broker = tasks run eagerly in-process (the zero-setup default).
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    # Tasks run in-process. Should something publish anyway (a test turning eager mode off), it
    # stays in this process's memory instead of reaching whatever listens on AMQP's default port.
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Three queues: texts and their status reports, outbound webhooks (a slow receiver only slows
# that queue), and clean-ups. `celery -A artera worker` with no `-Q` consumes all of them (Celery
# consumes the queues of `task_queues`); `-Q artera-sms` etc. splits them across workers. The
# names come from the environment so a deployment (or a test) can give them its own prefix.
SMS_CELERY_QUEUE = env_str("SMS_CELERY_QUEUE", "artera-sms")
WEBHOOK_CELERY_QUEUE = env_str("WEBHOOK_CELERY_QUEUE", "artera-webhooks")
CELERY_TASK_DEFAULT_QUEUE = env_str("DEFAULT_CELERY_QUEUE", "artera-default")
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name)
    for name in dict.fromkeys((SMS_CELERY_QUEUE, WEBHOOK_CELERY_QUEUE, CELERY_TASK_DEFAULT_QUEUE))
]
CELERY_TASK_ROUTES = {
    "messaging.tasks.*": {"queue": SMS_CELERY_QUEUE},
    "webhooks.tasks.*": {"queue": WEBHOOK_CELERY_QUEUE},
}
# A publish must never hang a web request when Redis is down: fail fast, and let the periodic
# sweeper pick up whatever was stored but not enqueued.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 1,
    "max_retries": 1,
    "visibility_timeout": 60 * 60,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# After a failed publish, this process skips publishing (texts, webhooks) for a while and the
# sweeps catch up (artera.outbox): one slow broker timeout per outage instead of one per request.
# SMS_BROKER_BACKOFF_SECONDS is its former name, still read.
BROKER_BACKOFF_SECONDS = env_float(
    "BROKER_BACKOFF_SECONDS", env_float("SMS_BROKER_BACKOFF_SECONDS", 5)
)
# Celery closes the database connection around every task unless told otherwise.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
# API: idempotency keys older than API_IDEMPOTENCY_KEY_HOURS are purged every hour.
CELERY_IMPORTS = ["webhooks.api.tasks"]
CELERY_BEAT_SCHEDULE["api-idempotency-keys-purge"] = {
    "task": "webhooks.api.tasks.idempotency_keys_purge",
    "schedule": 60 * 60,
    "options": {"queue": CELERY_TASK_DEFAULT_QUEUE, "expires": 30 * 60},
}

# --- Messaging ------------------------------------------------------------------------------
SMS_BACKEND = env_str("SMS_BACKEND", "simulator")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)

# --- Logging --------------------------------------------------------------------------------
# Every handler redacts what a log line could otherwise carry: tokens in paths (/secure/<token>,
# /webhook/call-to-text/<token>, …), query string values and phone numbers (artera/logging.py).
# Django's own loggers write to the same console, and nowhere else: Django's default error
# e-mails (mail_admins) would carry the request's POST data and headers, so they are not set up.
# gunicorn's access and error logs get the same filter through gunicorn.conf.py.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "artera.logging.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
        # runserver's request lines (Django's default handler, plus the filter).
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "axes": {"level": "WARNING"},
    },
}

# --- Call-to-text -----------------------------------------------------------------------------
# A caller texted by a workflow is not texted again by it within this window.
CALL_TO_TEXT_DEDUPE_SECONDS = env_int("CALL_TO_TEXT_DEDUPE_SECONDS", 600)
# Against SMS pumping through a leaked URL: hits per workflow URL, and texts per caller number.
CALL_TO_TEXT_RATE_PER_MINUTE = env_int("CALL_TO_TEXT_RATE_PER_MINUTE", 60)
CALL_TO_TEXT_RATE_BURST = env_int("CALL_TO_TEXT_RATE_BURST", 30)
CALL_TO_TEXT_CALLER_RATE_PER_HOUR = env_int("CALL_TO_TEXT_CALLER_RATE_PER_HOUR", 6)
CALL_TO_TEXT_CALLER_RATE_BURST = env_int("CALL_TO_TEXT_CALLER_RATE_BURST", 3)

# --- Send path (messaging) ------------------------------------------------------------------
# SMS gateways are plugins: SMS_BACKEND names one of these.
SMS_GATEWAYS = {
    "simulator": "messaging.gateways.simulator.SimulatorGateway",
    "twilio": "messaging.gateways.twilio.TwilioGateway",
}
# Outbox: a stored message whose task has not claimed it `SMS_OUTBOX_GRACE_SECONDS` after it was
# due is re-enqueued by the sweeper; a claim older than `SMS_CLAIM_LEASE_SECONDS` belongs to a
# dead worker (the lease must outlast a provider call plus the longest in-task pacing wait).
SMS_OUTBOX_GRACE_SECONDS = env_float("SMS_OUTBOX_GRACE_SECONDS", 60)
SMS_OUTBOX_SWEEP_SECONDS = env_float("SMS_OUTBOX_SWEEP_SECONDS", 30)
SMS_CLAIM_LEASE_SECONDS = env_float("SMS_CLAIM_LEASE_SECONDS", 120)
# Provider errors that may pass (HTTP 5xx, 429, timeouts) are retried with backoff this many times.
SMS_SEND_MAX_ATTEMPTS = env_int("SMS_SEND_MAX_ATTEMPTS", 5)
SMS_SEND_RETRY_BASE_SECONDS = env_float("SMS_SEND_RETRY_BASE_SECONDS", 5)
# Per-line pacing is shared through Redis (REDIS_URL); without Redis, within one process only.
# A worker waits for its slot in-task up to this long, else re-schedules the message.
SMS_PACING_REDIS_URL = env_str("SMS_PACING_REDIS_URL", REDIS_URL)
SMS_PACING_KEY_PREFIX = env_str("SMS_PACING_KEY_PREFIX", "artera:pacing")
SMS_PACING_MAX_INLINE_WAIT = env_float("SMS_PACING_MAX_INLINE_WAIT", 1.0)
# A worker claims up to this many of a line's due texts at once (fewer when the line's pace would
# not let them all out within SMS_PACING_MAX_INLINE_WAIT).
SMS_DISPATCH_BATCH_SIZE = env_int("SMS_DISPATCH_BATCH_SIZE", 200)
# A line's new dispatch task waits this long, so texts stored one request after another share its
# first batch (0: start at once).
SMS_DISPATCH_GATHER_SECONDS = env_float("SMS_DISPATCH_GATHER_SECONDS", 0.05)
# The simulator's pages and JSON API show every text it carried. With DJANGO_HTTPS on they answer
# 404 unless an operator deliberately runs a public demo on the simulator.
SMS_SIMULATOR_PUBLIC_DEMO = env_bool("SMS_SIMULATOR_PUBLIC_DEMO", default=False)
# The simulated carrier: its answer latency, and how long before it reports delivery.
SMS_SIMULATOR_LATENCY = env_float("SMS_SIMULATOR_LATENCY", 0)
SMS_SIMULATOR_REPORT_DELAY = env_float("SMS_SIMULATOR_REPORT_DELAY", 0)
# Twilio: TWILIO_API_BASE_URL points the REST client elsewhere (a proxy, or a local fake in tests).
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL")
TWILIO_HTTP_TIMEOUT = env_float("TWILIO_HTTP_TIMEOUT", 10)
# Short links in texts: /s/<code> on this host (or a dedicated short domain that serves it).
SHORT_LINK_BASE_URL = env_str("SHORT_LINK_BASE_URL", PUBLIC_BASE_URL).rstrip("/")
CELERY_BEAT_SCHEDULE["messaging-outbox-sweep"] = {
    "task": "messaging.tasks.outbox_sweep",
    "schedule": SMS_OUTBOX_SWEEP_SECONDS,
    "options": {"queue": SMS_CELERY_QUEUE, "expires": SMS_OUTBOX_SWEEP_SECONDS},
}
# Send later (`messaging.schedule`): send_at at most this many days ahead (a little in the past
# is "now": clocks differ); scheduled texts released every SMS_SCHEDULED_RELEASE_SECONDS, in
# batches of this many per transaction (each batch: one line task per line).
SEND_AT_MAX_DAYS = env_int("SEND_AT_MAX_DAYS", 35)
SEND_AT_PAST_TOLERANCE_SECONDS = env_float("SEND_AT_PAST_TOLERANCE_SECONDS", 300)
SMS_SCHEDULED_RELEASE_SECONDS = env_float("SMS_SCHEDULED_RELEASE_SECONDS", 5)
SMS_SCHEDULED_RELEASE_BATCH_SIZE = env_int("SMS_SCHEDULED_RELEASE_BATCH_SIZE", 1000)
# Quiet hours never hold a staff reply to a patient who texted within this window.
QUIET_HOURS_REPLY_WINDOW_SECONDS = env_float("QUIET_HOURS_REPLY_WINDOW_SECONDS", 24 * 60 * 60)
CELERY_BEAT_SCHEDULE["messaging-scheduled-release"] = {
    "task": "messaging.tasks.scheduled_release",
    "schedule": SMS_SCHEDULED_RELEASE_SECONDS,
    "options": {"queue": SMS_CELERY_QUEUE, "expires": SMS_SCHEDULED_RELEASE_SECONDS},
}
# The simulated carrier re-sends delivery reports that were lost (a no-op unless it is on).
CELERY_BEAT_SCHEDULE["messaging-simulator-sweep"] = {
    "task": "messaging.tasks.simulator_sweep",
    "schedule": SMS_OUTBOX_SWEEP_SECONDS,
    "options": {"queue": SMS_CELERY_QUEUE, "expires": SMS_OUTBOX_SWEEP_SECONDS},
}
# Twilio's client logs request query strings (phone numbers) at INFO; our gateway logs each
# exchange itself, redacted.
LOGGING["loggers"]["twilio.http_client"] = {"level": "WARNING"}  # type: ignore[index]

# --- Outbound webhooks ----------------------------------------------------------------------
# message.status and patient.response events to API clients (webhooks/delivery.py). Delays, in
# seconds, before each attempt: the first goes at once, the last ~27 hours after the event.
# Each delay gets +/- WEBHOOK_RETRY_JITTER of itself, so failing receivers are not hit in waves.
WEBHOOK_RETRY_SCHEDULE = env_float_list(
    "WEBHOOK_RETRY_SCHEDULE", "0,5,300,1800,7200,18000,36000,36000"
)
WEBHOOK_RETRY_JITTER = env_float("WEBHOOK_RETRY_JITTER", 0.1)
# A 429/503 answer's Retry-After is honoured up to this long.
WEBHOOK_RETRY_AFTER_MAX_SECONDS = env_float("WEBHOOK_RETRY_AFTER_MAX_SECONDS", 36000)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 15)
# An endpoint whose every attempt has failed for this long is disabled.
WEBHOOK_DISABLE_AFTER_FAILING_DAYS = env_float("WEBHOOK_DISABLE_AFTER_FAILING_DAYS", 5)
# How much of a receiver's answer is kept on the attempt row (never logged).
WEBHOOK_RESPONSE_EXCERPT_BYTES = env_int("WEBHOOK_RESPONSE_EXCERPT_BYTES", 1024)
# The schedule lives in the database: every WEBHOOK_SWEEP_SECONDS a beat task enqueues the due
# deliveries. An enqueued delivery whose task was lost is due again after the grace period.
WEBHOOK_SWEEP_SECONDS = env_float("WEBHOOK_SWEEP_SECONDS", 2)
WEBHOOK_ENQUEUE_GRACE_SECONDS = env_float("WEBHOOK_ENQUEUE_GRACE_SECONDS", 60)
# During a secret rotation the previous secret keeps signing this long.
WEBHOOK_SECRET_ROTATION_HOURS = env_int("WEBHOOK_SECRET_ROTATION_HOURS", 24)
CELERY_IMPORTS.append("webhooks.tasks")
CELERY_BEAT_SCHEDULE["webhooks-deliveries-sweep"] = {
    "task": "webhooks.tasks.webhook_deliveries_sweep",
    "schedule": WEBHOOK_SWEEP_SECONDS,
    "options": {"queue": WEBHOOK_CELERY_QUEUE, "expires": WEBHOOK_SWEEP_SECONDS},
}
# urllib3 logs every request line (paths and query strings: integrators' tokens, and phone
# numbers in provider lookups) at DEBUG; webhook deliveries are logged by webhooks.delivery.
LOGGING["loggers"]["urllib3"] = {"level": "WARNING"}  # type: ignore[index]

# --- Secure messaging portal ----------------------------------------------------------------
# A secure message's SMS carries only a notice and a link to the portal (/secure/<token>/), where
# the patient proves who they are (date of birth, sometimes a texted code) and reads and replies.
SECURE_LINK_TTL_DAYS = env_int("SECURE_LINK_TTL_DAYS", 7)
# A link opened this long after it was sent (or superseded by a newer one) also asks for a code.
SECURE_LINK_CODE_AFTER_HOURS = env_int("SECURE_LINK_CODE_AFTER_HOURS", 24)
# This many wrong answers in a row lock the link for SECURE_LINK_LOCKOUT_MINUTES.
SECURE_LINK_MAX_FAILURES = env_int("SECURE_LINK_MAX_FAILURES", 5)
SECURE_LINK_LOCKOUT_MINUTES = env_int("SECURE_LINK_LOCKOUT_MINUTES", 15)
# The texted one-time code: how long it is good for, and how often a new one may be asked for.
SECURE_CODE_TTL_MINUTES = env_int("SECURE_CODE_TTL_MINUTES", 10)
SECURE_CODE_RESEND_SECONDS = env_int("SECURE_CODE_RESEND_SECONDS", 60)
# The patient's portal session (its own key in the session, never a Django login) ends after
# this many idle minutes.
SECURE_PORTAL_IDLE_MINUTES = env_int("SECURE_PORTAL_IDLE_MINUTES", 15)

# --- Insights ---------------------------------------------------------------------------------
# The daily rollups behind the dashboard (insights/rollup.py): a beat task every
# INSIGHTS_ROLLUP_SECONDS rolls up the days that changed. It re-reads messages created up to
# INSIGHTS_ROLLUP_LAG_SECONDS before its last scan (a transaction that committed late), and
# recomputes the call-to-text funnel and webhook counts of the trailing INSIGHTS_TRAILING_DAYS
# (callers reply, webhooks are retried, days later). A caller "replied" when they texted back
# within INSIGHTS_CALL_REPLY_DAYS of our text.
INSIGHTS_ROLLUP_SECONDS = env_float("INSIGHTS_ROLLUP_SECONDS", 60)
INSIGHTS_ROLLUP_LAG_SECONDS = env_float("INSIGHTS_ROLLUP_LAG_SECONDS", 300)
INSIGHTS_CALL_REPLY_DAYS = env_int("INSIGHTS_CALL_REPLY_DAYS", 7)
INSIGHTS_TRAILING_DAYS = env_int("INSIGHTS_TRAILING_DAYS", 9)
CELERY_IMPORTS.append("insights.tasks")
CELERY_BEAT_SCHEDULE["insights-rollup"] = {
    "task": "insights.tasks.insights_rollup",
    "schedule": INSIGHTS_ROLLUP_SECONDS,
    "options": {"queue": CELERY_TASK_DEFAULT_QUEUE, "expires": INSIGHTS_ROLLUP_SECONDS},
}
