"""Dashboard and report templates and static assets, served from the package.

Nothing here loads from the network: users run mlsteward offline, and a
model report must open the same way years later. Templates live in
``templates/`` (Jinja2, autoescaped); charts are inline SVG drawn in Python.
"""
