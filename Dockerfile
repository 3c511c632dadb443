# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/rrt
COPY requirements.lock ./
RUN /opt/rrt/bin/pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY config ./config
RUN /opt/rrt/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home rrt
COPY --from=build /opt/rrt /opt/rrt
ENV PATH=/opt/rrt/bin:$PATH \
    RRT_DATABASE_URL=sqlite:////data/rrt.db \
    RRT_REPORTS_DIR=/data/reports \
    RRT_MATRIX__STORE_DIR=/data/matrix \
    RRT_LOG_FORMAT=json \
    RRT_METRICS_PORT=9102
USER rrt
WORKDIR /data
VOLUME ["/data"]
# 3000: Slack's HTTP mode (RRT_SLACK__HTTP_PORT); 9102: /healthz and /metrics.
EXPOSE 3000 9102
# /healthz answers 503 (urlopen raises) when the database cannot be written.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/healthz' % os.environ['RRT_METRICS_PORT'], timeout=8)"
CMD ["rrt", "run"]
