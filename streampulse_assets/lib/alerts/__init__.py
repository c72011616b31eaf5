"""Alerts: notification sinks, the alert gate, message rendering and idempotent delivery."""
