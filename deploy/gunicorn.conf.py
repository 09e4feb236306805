"""gunicorn settings for 网点CRM: `gunicorn -c deploy/gunicorn.conf.py 'crm:create_app()'`.

Every value can be changed through the environment (systemd `Environment=`, the Procfile's shell), so the file
itself stays as shipped. See README "Deployment".
"""

import multiprocessing
import os

# Listen on loopback only: nginx (or the bank's load balancer) terminates TLS in front.
bind = os.environ.get("CRM_BIND", "127.0.0.1:8000")
# Sync workers: a request holds a worker for its whole duration (search, page render, a small PDF). Two per core
# plus one is gunicorn's rule of thumb; the 1,000,000-customer load test (bench/) used 2 per machine.
workers = int(os.environ.get("CRM_WEB_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
worker_class = "sync"
# A small ledger or certificate PDF is rendered in the request (up to 30 customers, a few seconds); anything
# larger is a background job, so no request should come near this.
timeout = int(os.environ.get("CRM_WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then: WeasyPrint renders leave memory behind.
max_requests = int(os.environ.get("CRM_WEB_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# Each worker builds its own app: no database or Redis connection is opened before the fork.
preload_app = False
# Only nginx on this host may set X-Forwarded-* (the app itself trusts CRM_TRUSTED_PROXIES hops).
forwarded_allow_ips = os.environ.get("CRM_FORWARDED_ALLOW_IPS", "127.0.0.1")

accesslog = os.environ.get("CRM_ACCESS_LOG", "-")
errorlog = os.environ.get("CRM_ERROR_LOG", "-")
loglevel = os.environ.get("CRM_LOG_LEVEL", "info")
# The access log has the path (%(U)s) but never the query string: searches carry names, ID numbers and phone
# numbers (/customers?q=…), which must not end up in logs (SECURITY.md "What is logged"). No referer either (it
# holds the previous page's query string) and no user agent (not needed, and fingerprinting).
access_log_format = '%(h)s - - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# Request-size limits in front of Flask's MAX_CONTENT_LENGTH.
limit_request_line = 8190
limit_request_fields = 100
