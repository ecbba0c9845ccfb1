"""Runs the PyTorch reference separation once over a whole 32 kHz mono input (golden output and timing for the Swift engine), or writes a full-size random-weight checkpoint.

Separate (prints {"seconds", "peak_rss_bytes", ...} as JSON on stdout):
    python3 tools/reference/run_reference.py --checkpoint CKPT_OR_FOLDER \
        --embedding query.f32 --input mix.f32 --output sep.f32 [--widths full|tiny] [--threads 2]
Make a full-size random checkpoint (deterministic, ~160 MB):
    python3 tools/reference/run_reference.py --make-full-checkpoint /tmp/audiosep-random.ckpt
.f32 files are raw little-endian float32: the embedding holds 512 values, audio is mono at 32 kHz.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audiosep_reference import (  # noqa: E402
    CONDITION_SIZE,
    FULL_WIDTHS,
    N_FFT,
    SAMPLE_RATE_HZ,
    WIDTHS_BY_NAME,
    AudioSepSeparator,
    load_ss_model_state,
)
from lightning_checkpoint import (  # noqa: E402
    calibration_mixture,
    lightning_state_dict,
    load_state,
    opaque_extras,
    random_embedding,
    randomize_,
    save_lightning_checkpoint,
    ss_model_prefix,
)

FULL_CHECKPOINT_SEED = 4_000_000


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def read_f32(path: str) -> np.ndarray:
    return np.fromfile(path, dtype="<f4")


def make_full_checkpoint(path: str, seed: int) -> dict:
    """A Lightning-style checkpoint of a full-size model with random weights, laid out
    like upstream's: every `ss_model.` key including torchlibrosa's DFT matrices,
    a few `query_encoder.` tensors, and the opaque Lightning extras."""
    torch.set_num_threads(1)  # calibration sums in a fixed order: identical bytes every time
    model = AudioSepSeparator(FULL_WIDTHS)
    randomize_(model, seed, calibration_mixture(1.0, seed + 1), random_embedding(seed + 2))
    model.eval()
    state = lightning_state_dict(model, with_query_encoder=True, seed=seed + 3)
    save_lightning_checkpoint(path, state, opaque_extras(seed + 4))
    return {"checkpoint": path, "bytes": os.path.getsize(path), "seed": seed,
            "ss_model_tensors": sum(k.startswith("ss_model.") for k in state)}


def separate(args) -> dict:
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    state = load_state(args.checkpoint)
    model = AudioSepSeparator(WIDTHS_BY_NAME[args.widths]).eval()
    load_ss_model_state(model, state, ss_model_prefix(state))
    del state

    embedding = read_f32(args.embedding)
    if embedding.size != CONDITION_SIZE:
        raise SystemExit(f"{args.embedding}: {embedding.size} floats, expected {CONDITION_SIZE}")
    waveform = read_f32(args.input)
    if waveform.size <= N_FFT // 2:
        # torchlibrosa's reflect padding of 1024 samples needs a longer input.
        raise SystemExit(f"{args.input}: {waveform.size} samples, need more than {N_FFT // 2}")
    condition = torch.from_numpy(embedding.copy())[None, :]
    mixture = torch.from_numpy(waveform.copy())[None, None, :]
    loaded = time.perf_counter()

    with torch.inference_mode():
        output = model(mixture, condition)
    finished = time.perf_counter()
    output[0, 0].numpy().astype("<f4").tofile(args.output)

    audio_seconds = waveform.size / SAMPLE_RATE_HZ
    return {
        "seconds": round(finished - loaded, 4),
        "load_seconds": round(loaded - started, 4),
        "samples": int(waveform.size),
        "audio_seconds": round(audio_seconds, 4),
        "realtime_factor": round(audio_seconds / (finished - loaded), 3),
        "threads": args.threads,
        "widths": args.widths,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="Lightning .ckpt, .safetensors, or a folder holding one")
    parser.add_argument("--embedding", help="512 float32 (LE) query embedding")
    parser.add_argument("--input", help="mono 32 kHz float32 (LE) samples")
    parser.add_argument("--output", help="where to write the separated float32 (LE) samples")
    parser.add_argument("--widths", choices=sorted(WIDTHS_BY_NAME), default="full")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--make-full-checkpoint", metavar="PATH",
                        help="write a full-size random-weight Lightning checkpoint and exit")
    parser.add_argument("--seed", type=int, default=FULL_CHECKPOINT_SEED,
                        help="seed for --make-full-checkpoint")
    args = parser.parse_args()

    if args.make_full_checkpoint:
        result = make_full_checkpoint(args.make_full_checkpoint, args.seed)
    else:
        missing = [f"--{name}" for name in ("checkpoint", "embedding", "input", "output")
                   if getattr(args, name) is None]
        if missing:
            parser.error("missing " + ", ".join(missing))
        result = separate(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
