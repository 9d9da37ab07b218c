"""B8's workers: one process per CRM, each in its own virtual environment and database."""
