"""Models: the backbone factory (an HF causal LM or a tiny one built from config) and the SID vocabulary."""
