"""Baselines and spike detection (V3, with V1 as control). Pure Python + DuckDB, no Dagster."""
