"""Local services for the test suite and the benchmarks: the project's development stack.

One importable floor under both `iris_assets_tests` and `benchmarks`; it knows nothing of either.
"""
