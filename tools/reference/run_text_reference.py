"""Computes reference CLAP text embeddings for token-id sequences, with timing (what the Swift side's full-size comparison calls), or writes full-size random-weight CLAP checkpoints.

Embed (prints one JSON object: embeddings, lengths, seconds, load_seconds, sources, ...):
    python3 tools/reference/run_text_reference.py --checkpoint CLAP.pt \
        [--audiosep-checkpoint AUDIOSEP.ckpt] [--roberta-dir DIR | --config full|tiny] \
        (--ids '[0, 713, 2]' | --ids-file ids.json) [--padded] [--threads 2] [--repeat 2] [--output emb.f32]
Make a full-size random CLAP checkpoint (deterministic, 500 MB) and roberta-base/config.json:
    python3 tools/reference/run_text_reference.py --make-full /tmp/clap-full [--full-stack]
--ids takes one sequence ([0, 713, 2]) or a list of them; ids.json files hold a list of them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clap_text_checkpoints import (  # noqa: E402
    audiosep_state_dict,
    clap_state_dict,
    random_text_model,
    roberta_state_dict,
    save_audiosep_checkpoint,
    save_clap_checkpoint,
    write_roberta_dir,
)
from clap_text_reference import CONFIGS_BY_NAME, FULL_CONFIG, embed, load_stack  # noqa: E402

FULL_SEED = 5_000_000


def make_full(folder: str, seed: int, full_stack: bool) -> dict:
    """folder/clap.pt (every text tensor, `module.`-prefixed, like the real CLAP
    checkpoint) and folder/roberta-base/config.json (roberta-base's architecture).
    With full_stack, also roberta-base/pytorch_model.bin and audiosep.ckpt with
    values of their own (the AudioSep file overrides layer 11 and the projection's
    first Linear), for a full-size test of the override order."""
    torch.set_num_threads(1)
    os.makedirs(folder, exist_ok=True)
    written = {}
    clap = random_text_model(FULL_CONFIG, seed)
    path = os.path.join(folder, "clap.pt")
    save_clap_checkpoint(path, clap_state_dict(clap, seed + 1), seed + 2)
    written["clap"] = path
    del clap
    roberta_dir = os.path.join(folder, "roberta-base")
    state = None
    if full_stack:
        state = roberta_state_dict(random_text_model(FULL_CONFIG, seed + 3), seed + 4)
    write_roberta_dir(roberta_dir, FULL_CONFIG, state)
    written["roberta_dir"] = roberta_dir
    del state
    if full_stack:
        override = random_text_model(FULL_CONFIG, seed + 5)
        last = f"text_branch.encoder.layer.{FULL_CONFIG.num_hidden_layers - 1}."
        keys = [k for k in override.state_dict()
                if k.startswith(last) or k in ("text_projection.0.weight", "text_projection.0.bias")]
        path = os.path.join(folder, "audiosep.ckpt")
        save_audiosep_checkpoint(path, audiosep_state_dict(override, keys, seed + 6), seed + 7)
        written["audiosep"] = path
    sizes = {}
    for root, _, names in os.walk(folder):
        for name in names:
            sizes[os.path.relpath(os.path.join(root, name), folder)] = os.path.getsize(os.path.join(root, name))
    return {"written": written, "bytes": dict(sorted(sizes.items())), "seed": seed}


def parse_ids(text: str) -> list:
    value = json.loads(text)
    if isinstance(value, list) and value and all(isinstance(t, int) for t in value):
        return [value]
    if isinstance(value, list) and all(isinstance(s, list) and all(isinstance(t, int) for t in s)
                                       for s in value):
        return value
    raise SystemExit("ids must be a JSON list of ints or a list of such lists")


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    if args.ids is not None:
        sequences = parse_ids(args.ids)
    else:
        with open(args.ids_file) as f:
            sequences = parse_ids(f.read())
    started = time.perf_counter()
    config = None if args.roberta_dir else CONFIGS_BY_NAME[args.config]
    stack = load_stack(args.checkpoint, args.audiosep_checkpoint, args.roberta_dir, config)
    loaded = time.perf_counter()
    # The first pass pays for page faults and allocator warm-up (about 4x the later
    # passes at full size); --repeat 2 gives a warm figure as well.
    pass_seconds = []
    for _ in range(args.repeat):
        begun = time.perf_counter()
        embeddings = embed(stack.model, sequences, padded=args.padded)
        pass_seconds.append(round(time.perf_counter() - begun, 4))
    if args.output:
        embeddings.numpy().astype("<f4").tofile(args.output)
    sources = {}
    for layer in stack.source.values():
        sources[layer] = sources.get(layer, 0) + 1
    return {
        "embeddings": [[float(v) for v in row] for row in embeddings],
        "lengths": [len(s) for s in sequences],
        "padded": args.padded,
        "seconds": pass_seconds[-1],
        "pass_seconds": pass_seconds,
        "load_seconds": round(loaded - started, 4),
        "threads": args.threads,
        "config": stack.model.config.hf_config(),
        "sources": sources,  # how many text tensors each layer supplied in the end
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="CLAP checkpoint (music_speech_audioset_epoch_15_esc_89.98.pt or ours)")
    parser.add_argument("--audiosep-checkpoint", help="AudioSep Lightning checkpoint: its query_encoder.model.* "
                                                      "text tensors override the CLAP ones")
    parser.add_argument("--roberta-dir", help="roberta-base folder: config.json gives the architecture; "
                                              "pytorch_model.bin, if present, is the lowest layer")
    parser.add_argument("--config", choices=sorted(CONFIGS_BY_NAME), default="full",
                        help="architecture when there is no --roberta-dir")
    parser.add_argument("--ids", help="JSON: one token-id sequence or a list of them")
    parser.add_argument("--ids-file", help="JSON file: a list of token-id sequences (e.g. ids.json)")
    parser.add_argument("--padded", action="store_true",
                        help="upstream's way: pad the batch to 512 tokens with an attention mask")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="passes over the sequences; "
                        "seconds is the last one's, pass_seconds lists all")
    parser.add_argument("--output", help="also write the embeddings as raw little-endian float32")
    parser.add_argument("--make-full", metavar="FOLDER",
                        help="write FOLDER/clap.pt and FOLDER/roberta-base/config.json (full size) and exit")
    parser.add_argument("--full-stack", action="store_true",
                        help="with --make-full: also roberta-base/pytorch_model.bin and audiosep.ckpt")
    parser.add_argument("--seed", type=int, default=FULL_SEED, help="seed for --make-full")
    args = parser.parse_args()

    if args.make_full:
        result = make_full(args.make_full, args.seed, args.full_stack)
    else:
        if not args.checkpoint and not args.audiosep_checkpoint:
            parser.error("need --checkpoint (and/or --audiosep-checkpoint)")
        if (args.ids is None) == (args.ids_file is None):
            parser.error("need exactly one of --ids, --ids-file")
        result = run(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
