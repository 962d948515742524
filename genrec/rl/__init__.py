"""Recommendation-oriented RL: GRPO (TRL) with constrained rollouts and the rule / ranking / semantic / cf rewards."""
