# syntax=docker/dockerfile:1
# Build: docker build -t bmmsync .
# Run:   docker run --rm -v "$PWD/deploy:/data" -e GITHUB_TOKEN bmmsync run
#        (/data holds bmmsync.yaml, the model file and, with SQLite, the database)
# tests/packaging builds the wheel from exactly what the COPY lines below take.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY bmmsync ./bmmsync
COPY connectors ./connectors
COPY migrations ./migrations
COPY config ./config
# Dependencies from the hashed lock, then bmmsync itself without resolving anything more.
RUN python -m pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r constraints.txt \
    && python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 bmmsync \
    && mkdir /data && chown bmmsync:bmmsync /data
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels bmmsync \
    && rm -rf /wheels
USER bmmsync
WORKDIR /data
VOLUME ["/data"]
ENV BMMSYNC_CONFIG=/data/bmmsync.yaml \
    PYTHONUNBUFFERED=1
# `bmmsync run` serves /livez on web.listen (default 127.0.0.1:8080), inside the container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/livez', timeout=4)"]
ENTRYPOINT ["bmmsync"]
CMD ["run"]
