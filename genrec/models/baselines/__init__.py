"""Traditional baselines on the same splits and metrics as the generative models."""
