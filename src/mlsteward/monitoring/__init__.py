"""Monitoring: drift statistics, outcomes, performance."""
