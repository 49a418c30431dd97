"""Jobs: a queue in the database, workers that claim and run jobs."""
