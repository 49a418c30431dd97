"""The remote client: the SDK's surface over the REST API of a server.

``mlsteward.Client("http://host:8000", token=...)`` (or ``MLSTEWARD_URL``)
gives it; see :mod:`mlsteward.remote.client`.
"""
