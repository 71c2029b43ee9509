# One image for every role: `dbp serve --role issuer|verifier|resolver`, `dbp migrate`,
# `dbp anchor worker|listen` (docker-compose.yml). No secrets in here: settings come from the
# environment and from files (DBP_<NAME>_FILE, e.g. Docker secrets under /run/secrets).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/dbp
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vocab ./vocab
COPY proofs ./proofs
COPY resolver ./resolver
COPY issuer ./issuer
COPY verifier ./verifier
COPY anchor ./anchor
COPY wallet ./wallet
COPY service ./service
RUN /opt/dbp/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/dbp/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DBP_DATA_DIR=/var/lib/dbp \
    DBP_LOG_FORMAT=json
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/dbp --create-home dbp
COPY --from=build /opt/dbp /opt/dbp
USER dbp
WORKDIR /var/lib/dbp
VOLUME ["/var/lib/dbp"]
EXPOSE 8000
# Liveness only (no I/O); readiness (database and chain) is GET /readyz for the load balancer.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["dbp"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
