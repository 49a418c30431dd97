"""Retraining: trainers, champion versus challenger, promotion."""
