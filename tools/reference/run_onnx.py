"""Times onnxruntime (CPU) running the exported AudioSep U-Net (export_onnx.py) over a whole 32 kHz mono input: the U-Net alone, no STFT, mask or iSTFT.

    python3 tools/reference/run_onnx.py --model unet.onnx --input mix.f32 [--threads 2] \
        [--embedding query.f32] [--window-frames 1024]
stdout, one JSON line: {"seconds", "load_seconds", "samples", "audio_seconds", "frames",
    "windows", "window_frames", "realtime_factor", "threads", "peak_rss_bytes", ...}

The STFT magnitude (torchlibrosa's: periodic Hann, 2048-point, hop 320, centred with
reflect padding, power floored at 1e-10) is computed in numpy before any timing. `seconds`
is the sum of the session.run calls only; `load_seconds` is building the session (reading
the file and ORT's graph optimisations). Up to --window-frames frames (1024 = 10.23 s) run
as one pass; a longer input runs as consecutive windows of that many frames, without
overlap and with no work at the seams -- less work than any real chunked engine does,
so it favours onnxruntime. Session: CPU execution provider, intra-op threads = --threads,
inter-op threads = 1, sequential execution, graph optimisation level ALL. No warm-up run
(neither the PyTorch reference nor our engine gets one). torch is not imported here, so
peak RSS is onnxruntime's, the model's and this script's numpy buffers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time

import numpy as np

SAMPLE_RATE_HZ = 32000
N_FFT = 2048
HOP_SAMPLES = 320
FREQ_BINS = N_FFT // 2 + 1


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def magnitude_spectrogram(waveform: np.ndarray, block_frames: int = 256) -> np.ndarray:
    """waveform [L] -> float32 [T, 1025], T = L // 320 + 1, as the reference computes it:
    sqrt(max(re^2 + im^2, 1e-10)) of the periodic-Hann STFT of the reflect-padded signal.
    In float64, a block of frames at a time (keeps the temporary buffers small)."""
    if waveform.size <= N_FFT // 2:
        raise SystemExit(f"{waveform.size} samples: need more than {N_FFT // 2} (reflect padding)")
    padded = np.pad(waveform.astype(np.float64), N_FFT // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    frames = waveform.size // HOP_SAMPLES + 1
    framed = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_SAMPLES][:frames]
    mag = np.empty((frames, FREQ_BINS), dtype=np.float32)
    for start in range(0, frames, block_frames):
        spectrum = np.fft.rfft(framed[start:start + block_frames] * window, axis=-1)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        mag[start:start + block_frames] = np.sqrt(np.maximum(power, 1e-10))
    return mag


def session_options(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the .onnx file export_onnx.py wrote")
    parser.add_argument("--input", required=True, help="mono 32 kHz float32 (LE) samples")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--window-frames", type=int, default=1024,
                        help="longest single pass; longer inputs run as consecutive windows of this many frames")
    parser.add_argument("--embedding", help="if given, must be the embedding the model's betas were baked from")
    args = parser.parse_args()

    import onnxruntime as ort

    started = time.perf_counter()
    session = ort.InferenceSession(args.model, session_options(args.threads), providers=["CPUExecutionProvider"])
    loaded = time.perf_counter()
    metadata = session.get_modelmeta().custom_metadata_map
    if args.embedding:
        with open(args.embedding, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if metadata.get("embedding_sha256") != digest:
            raise SystemExit(f"{args.model} was exported for another embedding than {args.embedding}; "
                             "re-run export_onnx.py with it")

    waveform = np.fromfile(args.input, dtype="<f4")
    mag = magnitude_spectrogram(waveform)  # untimed
    frames = mag.shape[0]

    seconds = 0.0
    windows = 0
    for start in range(0, frames, args.window_frames):
        window = np.ascontiguousarray(mag[None, None, start:start + args.window_frames])
        before = time.perf_counter()
        logits = session.run(["mask_logits"], {"mag": window})[0]
        seconds += time.perf_counter() - before
        windows += 1
        assert logits.shape == (1, 3, window.shape[2], FREQ_BINS), logits.shape
        if not np.isfinite(logits).all():
            raise SystemExit("onnxruntime produced non-finite logits")

    audio_seconds = waveform.size / SAMPLE_RATE_HZ
    print(json.dumps({
        "seconds": round(seconds, 4),
        "load_seconds": round(loaded - started, 4),
        "samples": int(waveform.size),
        "audio_seconds": round(audio_seconds, 4),
        "frames": int(frames),
        "windows": windows,
        "window_frames": args.window_frames,
        "realtime_factor": round(audio_seconds / seconds, 3),
        "threads": args.threads,
        "peak_rss_bytes": peak_rss_bytes(),
        "onnxruntime": ort.__version__,
        "what": "U-Net only (mask logits from magnitude)",
    }))


if __name__ == "__main__":
    main()
