"""The dashboard: pages served by ``mlsteward server`` under ``/ui``.

Pages are rendered on the server with Jinja2 and read the services as the
signed-in person (``session.py``); charts are drawn by Chart.js served from
the package. Nothing is loaded from anywhere else.
"""

from mlsteward.web.app import create_web_app, mount

__all__ = ["create_web_app", "mount"]
