"""The monitoring service: rollups of predictions and feedback, drift, alerts, retraining."""
