"""Backbone factory: an HF causal LM from a path (GPU runs), or `tiny`, built from config (CPU runs).

`tiny` is a Qwen-architecture model with a byte-level BPE tokenizer trained on the dataset's item
text, so nothing is downloaded. Both kinds save and load with `save_pretrained` / `from_pretrained`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import (AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, PreTrainedModel,
                          PreTrainedTokenizerBase)

from genrec.errors import GenrecError
from genrec.models.settings import BackboneSpec

log = logging.getLogger(__name__)

EOS, PAD = "<|endoftext|>", "<|pad|>"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def train_text_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerBase:
    """Byte-level BPE (GPT-2 / Qwen style) trained on `texts`, wrapped as an HF fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, PAD], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS, pad_token=PAD,
                                   clean_up_tokenization_spaces=False)


def build_tiny_backbone(spec: BackboneSpec, texts: list[str], seed: int) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A freshly initialised Qwen-architecture causal LM and a BPE tokenizer trained on `texts`."""
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    tokenizer = train_text_tokenizer(texts, spec.text_vocab_size)
    config_class, model_class = {"qwen2": (Qwen2Config, Qwen2ForCausalLM),
                                 "qwen3": (Qwen3Config, Qwen3ForCausalLM)}[spec.architecture]
    config = config_class(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads, num_key_value_heads=spec.num_kv_heads,
        # Qwen3Config defaults to 128-wide heads whatever the model's width: 4x a tiny model's attention work
        head_dim=spec.head_dim or spec.hidden_size // spec.num_heads,
        intermediate_size=spec.intermediate_size, max_position_embeddings=spec.max_position_embeddings,
        attention_dropout=spec.attention_dropout, tie_word_embeddings=True,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = model_class(config)
    log.info("tiny %s backbone: %.2fM parameters, text vocabulary %d", spec.architecture,
             model.num_parameters() / 1e6, len(tokenizer))
    return model, tokenizer


def load_backbone(path: str | Path, dtype: str = "float32",
                  revision: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM (or TIGER's encoder-decoder) and its tokenizer saved with `save_pretrained` (or a hub
    id, at `revision`, where the hub is reachable)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), revision=revision)
        config = AutoConfig.from_pretrained(str(path), revision=revision)
        auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        model = auto.from_pretrained(str(path), dtype=DTYPES[dtype], revision=revision)
    except OSError as exc:
        raise GenrecError(f"cannot load a model from {path} ({exc})", path=path,
                          fix="point the backbone's `path` at a save_pretrained directory") from None
    if tokenizer.pad_token is None:
        # decoder-only LMs often ship without a pad token; EOS is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def create_backbone(spec: BackboneSpec, texts: list[str], sid_tokens: list[str],
                    seed: int) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The untrained starting point of SFT for a backbone of the grid (`texts`: item text for a tiny
    backbone's tokenizer; `sid_tokens`: the vocabulary of a t5 one)."""
    if spec.kind == "tiny":
        return build_tiny_backbone(spec, texts, seed)
    if spec.kind == "t5":
        from genrec.models.tiger import build_tiger

        return build_tiger(spec, sid_tokens, seed)
    return load_backbone(spec.path, spec.dtype, spec.revision)
