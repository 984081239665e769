"""routines: the daily and monthly routines of finance and operations teams, as one Dagster code location."""

TIMEZONE = "America/Sao_Paulo"
