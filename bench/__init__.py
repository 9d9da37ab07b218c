"""`make bench`: Procedo's workloads, each against a baseline measured in the same run."""
