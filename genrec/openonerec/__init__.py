"""OpenOneRec (Kuaishou-OneRec/OpenOneRec @ 1f4a99e): itemic tokens, its pre-training segments and chat data, and
its chat template. The stages that train on them build on genrec's SFT and RL (docs/fidelity.md, OpenOneRec)."""
