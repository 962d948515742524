"""Title decoding throughput at beam 20 on the sample's test users, with a trained title model (D3's stage).

Compares (users/s, higher is better), on the same users, prompts and beam width:
- ours, constrained: `genrec.evaluate.beam_search` over the trie of every item's title response (D3's decoding:
  summed log-probabilities, no length normalisation; it stops once every beam's title is complete);
- HF `generate`, unconstrained: beam search over the whole vocabulary until EOS (at most the longest title's
  tokens), what BIGRec decodes before grounding; its beams need not be titles, so the line also counts how many
  of its 20 beams per user name a real item;
- with `--scorer` (a trained SASRec), ours with D3's text-free assistant mixed in at every step (`--guidance-scale`),
  SASRec's scoring of the histories included.

Run (after a D3 run, e.g. `snakemake results/metrics/sample/titles/tiny_text/d3.json --configfile
config/experiments/cpu-full.yaml`):
    .venv/bin/python benchmarks/bench_title_decoding.py [--model results/models/sample/titles/tiny_text/d3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from transformers import LogitsProcessorList

from genrec.data.prepared import prompt_category
from genrec.evaluate.beam_search import Assistant, beam_search, encode_prompts, explicit_generation, generation_config
from genrec.evaluate.constrained import PAD
from genrec.evaluate.predict import row_batches, title_trie
from genrec.io import read_table
from genrec.models.backbone import load_backbone
from genrec.models.baselines.scorer import history_scores, load_scorer
from genrec.models.checkpoint import trained_with
from genrec.prompts import RECOMMENDATION_TASK, ItemText, recommendation_prompt, stage_templates

from bench_decoding import timed      # benchmarks/ is the script's directory, so its first sys.path entry

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="results/models/sample/titles/tiny_text/d3")
    parser.add_argument("--data", default="results/data/sample")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--beams", type=int, default=20)
    # HF's beam search keeps a copy of the prompt's cache per beam: 8 users of ~1,100-token prompts peak at 1.8 GB
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scorer", help="a SASRec model directory: also time D3's assistant")
    parser.add_argument("--guidance-scale", type=float, default=0.8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    trained, index_path = trained_with(ROOT / args.model)
    if index_path is not None:
        parser.error(f"{args.model} names items by SID: benchmarks/bench_decoding.py measures SID decoding")
    data = ROOT / args.data
    items, test = read_table(data / "items.parquet"), read_table(data / "test.parquet")
    model, tokenizer = load_backbone(ROOT / args.model)
    model.eval()
    templates = stage_templates(trained.templates, "evaluate")
    task = RECOMMENDATION_TASK["title"]
    text = ItemText.build(items, None, prompt_category(data))
    trie = title_trie(tokenizer, text.titles, templates[task])
    histories = [list(h)[-trained.prompt_history:] for h in test["history"][:args.users]]
    prompts = [recommendation_prompt(templates, text, h, task=task) for h in histories]
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    order = row_batches(lengths, args.batch_size)
    batches = [[prompts[i] for i in rows] for rows in order]
    seen = [list(h) for h in test["history"][:args.users]]

    def constrained(batch):
        with torch.inference_mode():
            return beam_search(model, tokenizer, batch, trie, args.beams, length_penalty=0.0)

    def unconstrained(batch):
        encoded = encode_prompts(tokenizer, batch, model.device)
        config = generation_config(tokenizer, args.beams, trie.levels, length_penalty=1.0, min_levels=1)
        with torch.inference_mode(), explicit_generation(model, config):
            out = model.generate(**encoded, generation_config=config, logits_processor=LogitsProcessorList())
        return tokenizer.batch_decode(out.sequences[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)

    ours, beams = timed(constrained, batches)
    free, texts = timed(unconstrained, batches)
    if args.scorer:
        scores = history_scores(load_scorer(ROOT / args.scorer, "the assistant's benchmark"))

        def assisted(rows):
            helper = Assistant(torch.softmax(scores([seen[i] for i in rows]), dim=-1), args.guidance_scale)
            with torch.inference_mode():
                return beam_search(model, tokenizer, [prompts[i] for i in rows], trie, args.beams,
                                   length_penalty=0.0, assistant=helper)

        helped, _ = timed(assisted, order)
    responses = {templates[task].title_response(t).strip() for t in text.titles}
    real = np.mean([t.strip() in responses for batch in texts for t in batch])
    valid = np.mean([(b.leaves >= 0).mean() for b in beams])
    depth = int((trie.item_paths != PAD).sum(1).float().mean())
    print(f"{len(prompts)} users, beam {args.beams}, {args.threads} thread(s), titles of {depth} tokens on average "
          f"(longest {trie.levels})")
    print(f"ours, title trie (D3):        {ours:8.1f} users/s   beams that are titles: {valid:.1%}")
    print(f"HF generate, unconstrained:   {free:8.1f} users/s   beams that are titles: {real:.1%}")
    print(f"ratio ours / unconstrained:   {ours / free:8.2f}x")
    if args.scorer:
        print(f"ours + D3's assistant (g {args.guidance_scale}): {helped:6.1f} users/s   ratio to ours alone: "
              f"{helped / ours:.2f}x")


if __name__ == "__main__":
    main()
