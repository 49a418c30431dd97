"""Drift: statistics against a reference profile, counted per chunk.

:mod:`.compute` is the entry point (:func:`~.compute.compute_drift`,
:func:`~.compute.drift_report`) and re-exports the public names of
:mod:`.options` (methods, tests, thresholds and the checks of a call's
options) and :mod:`.results` (the result types and the judging of rows into
statuses and a verdict); :mod:`.engines` counts a window per chunk
locally or on Dask, :mod:`.rows` turns counts into result rows and the
status rule, :mod:`.stats` holds the statistics and :mod:`.sketch` the
quantile sketch. Nothing here touches the database.

:mod:`.charts` keeps each column's counts for drawing, and :mod:`.html`
draws a report as one self-contained page (``DriftResult.to_html``).
"""
