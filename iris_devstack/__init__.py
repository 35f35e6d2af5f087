"""Local services for the test suite and the benchmarks: the project's development stack.

The suite and the benchmarks need the same real services (a PostgreSQL database, an S3 store, an
MLflow tracking server, the Compose stack) started, awaited and torn down the same way; keeping the
starters here lets the benchmarks use them without depending on the tests. One importable floor
under both `iris_assets_tests` and `benchmarks`: it imports neither, and reaches the project only
through its commands.

- service_env: the variables that point the project at a service; an environment without them
- processes: process groups with a log each, `background_process`, `wait_for_http`
- postgres: a database of one's own on a shared server, or a password-protected cluster
- seaweedfs, mlflow_server: the S3 store and the tracking server that proxies artifacts to it
- materialize: the README's `dagster asset materialize`, run as a user runs it
- compose, dagster_graphql, browser, registry, ports: the Compose stack and what drives it
"""
