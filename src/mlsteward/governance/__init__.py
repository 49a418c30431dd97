"""Governance: identities, roles, audit, lineage, explanations, reports."""
