"""Alerts, business-day deadlines and self-healing catch-up (pure logic, no Dagster).

- `deadlines`: `Deadline` (declared on an asset as metadata `routines/deadline`) and its evaluation against a
  calendar, a moment and the materializations: passed / warn / failed per expected partition.
- `catchup`: which missing partitions of a lookback of N business days may be requested now.
- `messages`: `Alert` and its pt-BR rendering (routine, partition, reason, link to the run).
- `routing`: alert routes (owners / groups -> channels), quiet window and de-duplication.
- `channels`: e-mail (system SMTP or the owning company's), Slack and Microsoft Teams webhooks.
- `service`: dispatching an alert (routes, de-dup state in `sent_alerts`, notification rows).
"""
