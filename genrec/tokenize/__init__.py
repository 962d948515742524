"""SID stage: Semantic-ID indexes (builders arrive with the tokenizer stage; the index format lives here)."""
