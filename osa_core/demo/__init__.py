"""Demo night: generated R0, auxiliary inputs and toy models to run the real lstchain chain."""
