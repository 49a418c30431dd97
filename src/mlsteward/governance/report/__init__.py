"""The model report a model-risk reviewer reads (HTML, PDF, JSON).

:mod:`.build` assembles it, :mod:`.records` gathers the records it cites,
:mod:`.data` computes its figures, :mod:`.svg` draws its charts and
:mod:`.pdf` prints it with Debian's chromium.
"""
