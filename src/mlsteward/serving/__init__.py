"""Serving: scoring, routing and the prediction log."""
