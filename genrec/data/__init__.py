"""Data stage: raw loaders, cleaning, time window, k-core, split protocols, canonical tables."""
