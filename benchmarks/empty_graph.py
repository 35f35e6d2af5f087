"""Dagster's own cost: the shape of `*registered_model` (five asset steps, three check steps), no
work in it.

`benchmarks/end_to_end.py` materializes it with the same command as the graph, so the difference
between the two is what the graph's work costs, and this is the floor no work can go under.
"""

import dagster as dg


@dg.asset
def iris_df() -> int:
    return 0


@dg.multi_asset(outs={"train_df": dg.AssetOut(), "valid_df": dg.AssetOut()})
def iris_split(iris_df: int) -> tuple[int, int]:
    return iris_df, iris_df


@dg.asset
def fitted_pipeline(train_df: int) -> int:
    return train_df


@dg.asset
def metrics(fitted_pipeline: int, train_df: int, valid_df: int) -> int:
    return fitted_pipeline


@dg.asset
def registered_model(
    iris_df: int, train_df: int, valid_df: int, fitted_pipeline: int, metrics: int
) -> int:
    return metrics


@dg.asset_check(asset=iris_df, blocking=True)
def iris_df_is_trainable(iris_df: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset_check(asset=metrics, blocking=True)
def valid_acc_floor(metrics: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset_check(asset=registered_model, blocking=True)
def new_version_predicts(registered_model: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


defs = dg.Definitions(
    assets=[iris_df, iris_split, fitted_pipeline, metrics, registered_model],
    asset_checks=[iris_df_is_trainable, valid_acc_floor, new_version_predicts],
    executor=dg.in_process_executor,
)
