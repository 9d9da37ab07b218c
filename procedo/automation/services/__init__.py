"""The engine's writes: runs (rows), steps (executing them), sweeps (time), entry points."""
