"""Operations: alert delivery, daily retention of runs, warehouse, landing and Postgres rows."""
