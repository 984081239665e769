"""Alerts, business-day deadlines and catch-up (thin Dagster glue over `routines.alerts`).

- `deadline_checks(defs)`: an asset check `deadline` on every asset declaring the metadata `routines/deadline`
  (applied once, in `routines/definitions.py`).
- `deadline_sensor`: evaluates the deadlines, reports the checks' results on the assets (runless check
  evaluations) and alerts misses and "regularizado".
- `catch_up_sensor`: requests the missing days of the assets tagged `routines/catch_up_lookback`.
- `alert_events_sensor`: asset checks of severity ERROR that failed, schedule/sensor ticks that errored.
- failed runs: `notify_failed_runs` (routines/defs/notifications) alerts after the final retry.
"""
