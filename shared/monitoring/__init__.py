"""What the monitoring writes and the dashboard reads: rollup counters, drift, small records.

The monitoring service (``services.monitoring``) owns the writing; the dashboard reads the same
items through ``shared.monitoring.reader``, so neither service imports the other.
"""
