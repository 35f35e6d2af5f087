# The project image: every service of docker-compose.yaml that is not PostgreSQL or the S3 store
# (code server, webserver, daemon, data generator, MLflow server) and the Helm chart's user
# deployment. Dependencies come from uv.lock exactly (--frozen), without the dev group. No
# `# syntax=` line: the builder's own Dockerfile frontend serves, so building needs no registry
# beyond the two base images.

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, in a layer of their own that code changes do not invalidate. pgserver, the
# embedded PostgreSQL of a checkout with nothing set (29 MiB), is left out: every service of the
# stack gets IRIS_DATABASE_URL.
COPY pyproject.toml uv.lock .python-version ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --no-install-package pgserver
# What no service imports (docs/performance.md, "Project image"): the test suites that numpy,
# SciPy, pandas, scikit-learn, pyarrow and matplotlib ship in their wheels, the C headers and
# Cython sources only a build of extensions reads, and the webserver's JavaScript source maps,
# which only a browser's developer tools ask for. Dagster's own dagster/_utils/test stays: loading
# a code location imports it.
RUN cd /app/.venv/lib/python3.*/site-packages \
    && find numpy scipy pandas sklearn pyarrow matplotlib -depth -type d -name tests \
        -exec rm -rf {} + \
    && rm -f pyarrow/_pyarrow_cpp_tests.* \
    && find . -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.c' -o -name '*.cc' \
        -o -name '*.cpp' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \) -delete \
    && find dagster_webserver/webapp -name '*.map' -delete
COPY README.md ./
COPY iris_assets ./iris_assets
# --reinstall-package: uv keys its cache of the project's own wheel on pyproject.toml alone, so
# without it a rebuild after a code change installs the wheel built from the old code.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-package pgserver \
        --reinstall-package iris-assets

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 iris
COPY --from=build /app/.venv /app/.venv
# The Compose stack's Dagster instance config and workspace, at a path only Compose's DAGSTER_HOME
# names: the image sets no DAGSTER_HOME and leaves the Helm chart's (/opt/dagster/dagster_home)
# empty, so a Kubernetes pod reads the instance its chart gives it, never the Compose stack's.
# storage/ is where compute logs and the values the assets hand each other live (a volume in
# docker-compose.yaml).
COPY deploy/dagster_home/ /opt/dagster/compose_home/
RUN mkdir -p /opt/dagster/compose_home/storage /opt/dagster/app \
    && chown -R iris:iris /opt/dagster
# The image holds no git checkout: the commit it was built from is passed in, and registered
# model versions record it (and MLflow need not look for git: GIT_PYTHON_REFRESH=quiet spares every
# run three "Bad git executable" warnings). Declared last, so a new commit rebuilds no earlier layer.
ARG IRIS_CODE_VERSION=unknown
ENV PATH=/app/.venv/bin:$PATH \
    IRIS_CODE_VERSION=${IRIS_CODE_VERSION} \
    GIT_PYTHON_REFRESH=quiet \
    PYTHONUNBUFFERED=1
WORKDIR /opt/dagster/app
USER iris
EXPOSE 3000 4000 5000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "iris_assets.definitions"]
