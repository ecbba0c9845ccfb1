"""Times the PyTorch reference separation network on a WAV file as the worker runs it: cold (a fresh process) and warm (again, same process).

    python3 tools/reference/bench_reference.py --checkpoint FILE --embedding query.f32 --input in.wav \
        [--threads 2] [--passes 2] [--chunk-seconds 9.91 --overlap-seconds 1] [--spawned-at EPOCH]

The `tools/bench-worker --torch` rows. One process = one cold start: import torch and the
reference, build `AudioSepSeparator` (full widths; torchlibrosa builds its DFT matrices), load
the `ss_model.` tensors of --checkpoint, then --passes separations of the whole file.
--checkpoint: a converted .safetensors such as tools/make-random-model's (read tensor by tensor,
so the text encoder's tensors are never read; what converted files leave out is filled in: the
BatchNorms' `num_batches_tracked` counters, unused in eval mode, with 0, and torchlibrosa's hann²
`istft.ola_window` as ISTFT builds it) or a Lightning .ckpt.

The input (16-bit PCM WAV, any rate and channel count) is read with `wave` and resampled to
32 kHz with soxr (HQ, what librosa.load(sr=32000) uses) once, before the first pass and outside
every timing. Each channel is its own batch-of-1 forward pass, as the worker separates channels.
Without --chunk-seconds a pass is one forward pass over each whole channel (the worker's
`use_chunk` false); with it, windows of that length every chunk − overlap seconds from 0, one
more only while it reaches past the previous window's end (the worker's Chunker rule; the last
may be short), joined with a linear cross-fade over the overlap (the worker's `use_chunk` true;
the fade's shape costs nothing measurable). The CLAP text encoder is not run: the query is
--embedding.

stdout, one JSON line: {["startup_seconds" (--spawned-at to imports done),] "import_seconds"
(from the script's first line), "load_seconds" (build + load), "read_seconds" (WAV + resample),
"passes": [seconds…] (forward passes and cross-fades only), "peak_rss_bytes" (the process's,
torch's import and the DFT matrices included), "rss_after_load_bytes", "windows" (per channel),
"channels", "samples_32k", "threads", "torch", "weights"}.
"""

import time

STARTED, STARTED_WALL = time.perf_counter(), time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import wave  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audiosep_reference import (  # noqa: E402
    CONDITION_SIZE,
    FULL_WIDTHS,
    SAMPLE_RATE_HZ,
    AudioSepSeparator,
    load_ss_model_state,
)

IMPORTED = time.perf_counter()


def rss_bytes(peak: bool) -> int:
    if peak:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load_network(path: str):
    """(model, description): the ss_model tensors of a .safetensors or .ckpt in the full-width reference."""
    model = AudioSepSeparator(FULL_WIDTHS).eval()
    if path.endswith(".safetensors"):
        from safetensors import safe_open
        with safe_open(path, "pt") as handle:
            state = {k: handle.get_tensor(k) for k in handle.keys() if k.startswith("ss_model.")}
            metadata = handle.metadata() or {}
        what = f"ss_model.* of {os.path.basename(path)}" + (f" ({metadata['format']})" if "format" in metadata else "")
    else:
        from lightning_checkpoint import load_state
        state = {k: v for k, v in load_state(path).items() if k.startswith("ss_model.")}
        what = f"ss_model.* of {os.path.basename(path)}"
    # Constants a converted file leaves out: the BatchNorm counters (unused in eval mode) and
    # torchlibrosa's hann² overlap-add window (rebuilt by ISTFT, as its DFT matrices are).
    filled = []
    for key, tensor in model.state_dict().items():
        if "ss_model." + key not in state and (key.endswith("num_batches_tracked") or key == "base.istft.ola_window"):
            state["ss_model." + key] = torch.zeros((), dtype=torch.long) if key.endswith("num_batches_tracked") else tensor
            filled.append(key)
    load_ss_model_state(model, state, "ss_model.")
    if filled:
        counters = sum(k.endswith("num_batches_tracked") for k in filled)
        what += f"; {counters} num_batches_tracked set to 0" + (", istft.ola_window built" if counters < len(filled) else "")
    return model, what


def read_wav_32k(path: str) -> np.ndarray:
    """[channels, samples] float32 at 32 kHz from a 16-bit PCM WAV."""
    with wave.open(path, "rb") as handle:
        if handle.getsampwidth() != 2:
            raise SystemExit(f"{path}: {8 * handle.getsampwidth()}-bit, only 16-bit PCM is read")
        rate, channels = handle.getframerate(), handle.getnchannels()
        frames = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    audio = frames.reshape(-1, channels).T.astype(np.float32) / 32768.0
    if rate != SAMPLE_RATE_HZ:
        import soxr
        audio = np.stack([soxr.resample(c, rate, SAMPLE_RATE_HZ, quality="HQ") for c in audio]).astype(np.float32)
    return np.ascontiguousarray(audio)


def window_starts(samples: int, chunk: int, overlap: int):
    """The worker's Chunker: window k at k·hop; one after the first only while it reaches past the previous one's end."""
    hop = chunk - overlap
    starts = [0]
    while starts[-1] + chunk < samples:
        starts.append(starts[-1] + hop)
    return starts


def separate(model, channel: torch.Tensor, condition: torch.Tensor, chunk, overlap) -> torch.Tensor:
    samples = channel.shape[0]
    if chunk is None or samples <= chunk:
        return model(channel[None, None, :], condition)[0, 0]
    out = torch.zeros(samples)
    fade_in = torch.linspace(0.0, 1.0, overlap + 2)[1:-1]
    for index, start in enumerate(window_starts(samples, chunk, overlap)):
        piece = model(channel[None, None, start:start + chunk], condition)[0, 0]
        if index > 0:
            head = min(overlap, piece.shape[0])
            piece[:head] *= fade_in[:head]
            out[start:start + head] *= 1.0 - fade_in[:head]
        out[start:start + piece.shape[0]] += piece
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="converted .safetensors or Lightning .ckpt")
    parser.add_argument("--embedding", required=True, help="512 float32 (LE) query embedding")
    parser.add_argument("--input", required=True, help="16-bit PCM WAV")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--passes", type=int, default=2, help="separations in this process (the first is cold)")
    parser.add_argument("--chunk-seconds", type=float, help="window length at 32 kHz (default: one pass per channel)")
    parser.add_argument("--overlap-seconds", type=float, default=1.0)
    parser.add_argument("--spawned-at", type=float,
                        help="the parent's time.time() when it started this process: adds startup_seconds")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    loading = time.perf_counter()
    model, what = load_network(args.checkpoint)
    loaded = time.perf_counter()
    rss_after_load = rss_bytes(peak=False)

    embedding = np.fromfile(args.embedding, dtype="<f4")
    if embedding.size != CONDITION_SIZE:
        raise SystemExit(f"{args.embedding}: {embedding.size} floats, expected {CONDITION_SIZE}")
    condition = torch.from_numpy(embedding.copy())[None, :]
    reading = time.perf_counter()
    audio = torch.from_numpy(read_wav_32k(args.input))
    read = time.perf_counter() - reading

    chunk = overlap = None
    if args.chunk_seconds:
        chunk = round(args.chunk_seconds * SAMPLE_RATE_HZ)
        overlap = round(args.overlap_seconds * SAMPLE_RATE_HZ)
        if not 0 <= overlap < chunk:
            raise SystemExit("--overlap-seconds must be at least 0 and below --chunk-seconds")
    windows = 1 if chunk is None or audio.shape[1] <= chunk else len(window_starts(audio.shape[1], chunk, overlap))

    passes = []
    with torch.inference_mode():
        for _ in range(args.passes):
            started = time.perf_counter()
            outputs = [separate(model, channel, condition, chunk, overlap) for channel in audio]
            passes.append(round(time.perf_counter() - started, 4))
            if not all(bool(torch.isfinite(o).all()) for o in outputs):
                raise SystemExit("non-finite output")

    startup = {}
    if args.spawned_at:
        startup["startup_seconds"] = round(STARTED_WALL - args.spawned_at + IMPORTED - STARTED, 4)
    print(json.dumps({
        **startup,
        "import_seconds": round(IMPORTED - STARTED, 4),
        "load_seconds": round(loaded - loading, 4),
        "read_seconds": round(read, 4),
        "passes": passes,
        "peak_rss_bytes": rss_bytes(peak=True),
        "rss_after_load_bytes": rss_after_load,
        "windows": windows,
        "channels": int(audio.shape[0]),
        "samples_32k": int(audio.shape[1]),
        "threads": args.threads,
        "torch": torch.__version__,
        "weights": what,
    }))


if __name__ == "__main__":
    main()
