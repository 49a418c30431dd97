"""Reason codes: why a model scored an applicant as it did.

The explainer (:mod:`.explainer`) is pure and fitted from a reference
sample; :mod:`.service` builds and caches one per model version for serving
and batch scoring. Serving sits above this package; registry below it.
"""
