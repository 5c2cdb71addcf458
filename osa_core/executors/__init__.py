"""Executors: where jobs run. Local (embedded, this machine) and SLURM share one interface."""
