# The tracker's image: Python slim, a non-root user, data in a volume, a health check on /health.
#   make docker-build                      # docker build -t tracker .
#   make docker-run                        # one node, embedded ClickHouse, data in a volume
# Compose setups: docker/compose.embedded.yml, docker/compose.server.yml, docker/compose.cluster.yml
# (docs/upgrading.md).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 tracker \
    && useradd --system --uid 10001 --gid tracker --home-dir /data --shell /usr/sbin/nologin tracker \
    && mkdir -p /data \
    && chown tracker:tracker /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/tracker-*.whl \
    && rm -rf /wheels
ENV TRACKER_DATA_DIR=/data \
    TRACKER_HOST=0.0.0.0 \
    TRACKER_PORT=8080 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /health answers 503 while the store does not answer; no curl in the slim image, so Python asks.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/health' % os.environ.get('TRACKER_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tracker"]
CMD ["serve"]
