"""Registry: runs, registered models, numbered versions, aliases, lineage."""
