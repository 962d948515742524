"""S-DPO (Chen et al., NeurIPS 2024): softmax direct preference optimisation from a title SFT model."""
