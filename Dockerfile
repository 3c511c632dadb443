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
    RRT_MATRIX__STORE_DIR=/data/matrix
USER rrt
WORKDIR /data
VOLUME ["/data"]
CMD ["rrt", "run"]
