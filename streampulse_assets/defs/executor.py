"""Steps of a run execute serially in one process: cheaper per minute run, one DuckDB writer."""

import dagster as dg


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
