"""genrec: a reproducibility pipeline for generative recommendation."""

__version__ = "0.1.0"
