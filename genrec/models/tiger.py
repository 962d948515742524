"""TIGER (Rajput et al., 2023): a T5 encoder-decoder over Semantic IDs, built from config.

The encoder reads the history's SID tokens, the decoder writes the next item's SID. The vocabulary is
the SID tokens of the index and three specials, held by a word-level HF tokenizer, so the model trains
with the same `Trainer` and decodes with the same constrained beam search as the LLM backbones.
"""

from __future__ import annotations

import logging

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"


def sid_tokenizer(sid_tokens: list[str]) -> PreTrainedTokenizerBase:
    """A word-level tokenizer whose words are the SID tokens (`<a_12>`); text is a run of SIDs."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([PAD, EOS, UNK, *sorted(set(sid_tokens))])}
    word_level = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    word_level.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("<[^<>]*>"), behavior="isolated")])
    return PreTrainedTokenizerFast(tokenizer_object=word_level, pad_token=PAD, eos_token=EOS, unk_token=UNK,
                                   clean_up_tokenization_spaces=False)


def build_tiger(spec, sid_tokens: list[str], seed: int) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A freshly initialised T5 (`spec`: a `t5` BackboneSpec) and its SID tokenizer."""
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = sid_tokenizer(sid_tokens)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=spec.hidden_size, d_kv=spec.head_dim or spec.hidden_size // spec.num_heads,
        d_ff=spec.intermediate_size, num_layers=spec.num_layers, num_decoder_layers=spec.num_layers,
        num_heads=spec.num_heads, dropout_rate=spec.attention_dropout, feed_forward_proj="relu",
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    log.info("TIGER T5: %.2fM parameters, %d SID tokens", model.num_parameters() / 1e6, len(tokenizer) - 3)
    return model, tokenizer
