# syntax=docker/dockerfile:1
# One image for every service: the entrypoint is the `toxic` CLI, so
#   docker run IMAGE serve api        (or logger, monitoring, training, frontend, dashboard)
#   docker run IMAGE infra ensure
# compose.yaml builds the default target for the services and `mlflow` for the MLflow server.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------------------------------------
# build: the locked dependencies and the project, installed into /app/.venv.
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, from the lock alone, so this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY contracts ./contracts
COPY shared ./shared
COPY services ./services
# --no-editable: the project goes into the venv as a wheel, so the runtime needs no source tree.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
# runtime: the venv on the same slim base, run by an unprivileged user that cannot change it.
FROM ${PYTHON_IMAGE} AS runtime
ARG GIT_COMMIT=unknown
RUN groupadd --system --gid 10001 toxic \
    && useradd --system --uid 10001 --gid toxic --create-home --home-dir /home/toxic toxic
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TOXIC_GIT_COMMIT=${GIT_COMMIT}
USER toxic:toxic
# The API's outbox, kagglehub's cache and Streamlit's state live under the user's home.
WORKDIR /home/toxic
ENTRYPOINT ["toxic"]
CMD ["--help"]

# ---------------------------------------------------------------------------------------------
# mlflow: the same venv (MLflow and boto3 come from the lock) plus the PostgreSQL driver the
# tracking server's backend store needs. Only this server talks to PostgreSQL, so the driver is
# pinned here rather than added to every service's lock.
FROM runtime AS mlflow
USER root
RUN --mount=from=uv,source=/uv,target=/usr/local/bin/uv \
    uv pip install --python /app/.venv/bin/python --no-cache psycopg2-binary==2.9.10
USER toxic:toxic
ENTRYPOINT ["mlflow"]
CMD ["server", "--help"]

# ---------------------------------------------------------------------------------------------
# The default target (`docker build .`) is the services' image.
FROM runtime AS service
