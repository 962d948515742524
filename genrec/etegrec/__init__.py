"""ETEGRec: item tokenizer and generative recommender trained end to end (Liu et al., SIGIR 2025)."""
