#!/usr/bin/env python3
"""Writes the weight-file fixtures that Tests/WeightsTests/WeightsTests.swift reads.

Run from the package root:  python3 tools/reference/make_weights_fixtures.py
(needs torch, safetensors and numpy). Output: Tests/Fixtures/weights/*, including
expected.json with every tensor's shape, dtype and values (as float32, row-major).

  --benchmark PATH   instead writes one large synthetic Lightning checkpoint (thousands of
                     small tensors plus Adam state, AudioSep-like key names) for timing the
                     Swift pickle reader; not a fixture.
"""
import argparse
import collections
import datetime
import fractions
import json
import os
import pathlib
import struct
import sys
import zipfile
import zlib

import numpy as np
import safetensors.torch
import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "weights"
DTYPE_NAMES = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16", torch.float64: "f64",
               torch.int64: "i64", torch.int32: "i32", torch.int16: "i16", torch.int8: "i8",
               torch.uint8: "u8", torch.bool: "bool"}


def expected_entry(tensor):
    tensor = tensor.detach()
    return {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
            "values": tensor.to(torch.float32).flatten().tolist()}


def small_model():
    """A module whose state_dict carries _metadata (pickled with BUILD) and a BN buffer."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def lightning_state_dict():
    torch.manual_seed(1)
    model = small_model()
    state = model.state_dict()  # an OrderedDict with _metadata
    base = torch.randn(4, 6)
    state["ss_model.base"] = base
    state["ss_model.transposed"] = base.t()            # strides (1, 6), same storage
    state["ss_model.sliced"] = base[1:3, 2:5]          # storage offset 8, same storage
    state["ss_model.strided"] = base[::2, 1::2]        # strides (12, 2), offset 1
    state["ss_model.expanded"] = torch.randn(3, 1).expand(3, 4)  # a zero stride
    state["query_encoder.half"] = torch.tensor([1.0, -2.5, 6.0e-8, 65504.0, -0.0, 0.1, 3.0e-5], dtype=torch.float16)
    state["query_encoder.bfloat"] = torch.randn(2, 3).to(torch.bfloat16)
    state["query_encoder.double"] = torch.tensor([0.1, 1.0 / 3.0, 1e-40, -123456789.123, 2.0 ** -149], dtype=torch.float64)
    state["query_encoder.long"] = torch.tensor([[0, -5, 123456], [7, 8, -9]], dtype=torch.int64)
    state["query_encoder.int"] = torch.tensor([1, -2, 3], dtype=torch.int32)
    state["query_encoder.byte"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    state["query_encoder.mask"] = torch.tensor([True, False, True])
    state["query_encoder.scalar"] = torch.tensor(3.5)
    state["query_encoder.empty"] = torch.zeros(0, 3)
    state["query_encoder.parameter"] = torch.nn.Parameter(torch.randn(2, 2))  # _rebuild_parameter
    state["query_encoder.half_t"] = torch.randn(3, 2).to(torch.float16).t()   # non-contiguous f16
    return model, state


def lightning_checkpoint():
    model, state = lightning_state_dict()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    optimizer_state = optimizer.state_dict()
    optimizer_state["complex_extra"] = torch.ones(2, dtype=torch.complex64)  # unknown dtype, outside the state dict
    return state, {
        "epoch": 3,
        "global_step": 100,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": state,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
        "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_score": torch.tensor(0.5),
                                                            "dirpath": "/tmp/checkpoints", "best_k_models": {}}},
        "optimizer_states": [optimizer_state],
        "lr_schedulers": [{"last_epoch": 1, "_last_lr": [0.001], "base_lrs": [0.001]}],
        "hyper_parameters": {
            "lr": 1e-3, "names": ["a", "b"], "nothing": None, "flag": True, "off": False,
            "big": 2 ** 70, "negative": -2 ** 40, "tuple": (1, 2.5, "x"),
            "namespace": argparse.Namespace(sample_rate=32000, model_type="ResUNet30"),
            "numpy_scalar": np.float64(1.5), "numpy_array": np.arange(3, dtype=np.float32),
            "bytes": b"\x00\x01\x02", "set": {1, 2}, "frozenset": frozenset({3}),
            "date": datetime.datetime(2023, 8, 9, 12, 0, 0), "path": pathlib.PurePosixPath("/x/y"),
            "fraction": fractions.Fraction(1, 3), "nested": {"deep": [[1, [2, {"k": None}]]]},
        },
    }


def rewrite_zip(source, target, transform=lambda name, data: data, compression=zipfile.ZIP_STORED):
    """Copies a zip entry by entry; transform(name, data) may change or drop (None) an entry."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", compression) as zout:
        for info in zin.infolist():
            data = transform(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)


def write_zip64(source, target, overrun=None):
    """Copies a zip into one that uses zip64 everywhere: saturated 32-bit fields, zip64 extra
    fields in every central and local header, zip64 end records, and data aligned to 64 bytes
    through a padding extra field, as PyTorch does. The central directory claims that the entry
    named `overrun` runs past the end of the file."""
    with zipfile.ZipFile(source) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    out, central = bytearray(), bytearray()
    patch = None
    for name, data in entries:
        name_bytes = name.encode()
        offset = len(out)
        crc = zlib.crc32(data)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        padding = (-(offset + 30 + len(name_bytes) + len(extra) + 4)) % 64
        extra += struct.pack("<HH", 0x4246, padding) + b"Z" * padding
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(name_bytes), len(extra)) + name_bytes + extra + data
        central_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        if name == overrun:
            patch = len(central) + 46 + len(name_bytes) + 4
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(name_bytes), len(central_extra), 0, 0, 0, 0, 0xFFFFFFFF) + name_bytes + central_extra
    directory_offset = len(out)
    if patch is not None:  # claim a size that fits the file but not after the entry's start
        central[patch:patch + 16] = struct.pack("<QQ", directory_offset + len(central) + 98 - 1, directory_offset + len(central) + 98 - 1)
    out += central
    record_offset = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central),
                       directory_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, record_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    target.write_bytes(bytes(out))
    if overrun:
        return
    with zipfile.ZipFile(target) as check:  # Python must read it too
        assert check.testzip() is None and [i.filename for i in check.infolist()] == [n for n, _ in entries]


def make_fixtures():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    expected = {}

    state, checkpoint = lightning_checkpoint()
    torch.save(checkpoint, OUT / "lightning.ckpt")
    expected["lightning.ckpt"] = {name: expected_entry(t) for name, t in state.items()}
    # The same with pickle protocol 5 (FRAME, MEMOIZE, SHORT_BINUNICODE, EMPTY_SET, ADDITEMS, …).
    torch.save(checkpoint, OUT / "lightning_protocol5.ckpt", pickle_protocol=5)
    expected["lightning_protocol5.ckpt"] = expected["lightning.ckpt"]

    # CLAP style: {"epoch", "optimizer", "state_dict"} with DataParallel's module. prefix.
    torch.manual_seed(2)
    clap_state = collections.OrderedDict(
        [("module.text_projection.0.weight", torch.randn(4, 3)), ("module.text_projection.0.bias", torch.randn(4)),
         ("module.logit_scale_a", torch.tensor(2.5))])
    torch.save({"epoch": 15, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1, 2]}]},
                "state_dict": clap_state}, OUT / "module_prefixed.pt")
    expected["module_prefixed.pt"] = {name[len("module."):]: expected_entry(t) for name, t in clap_state.items()}

    # A bare state dict at the top level, and one nested as {"model": {"state_dict": …}}.
    bare = small_model().state_dict()
    torch.save(bare, OUT / "bare_state_dict.pt")
    expected["bare_state_dict.pt"] = {name: expected_entry(t) for name, t in bare.items()}
    torch.save({"model": {"state_dict": bare}, "step": 7}, OUT / "nested_model.pt")
    expected["nested_model.pt"] = expected["bare_state_dict.pt"]

    # The CLAP checkpoint rewritten with zip64 records and extra fields everywhere.
    write_zip64(OUT / "module_prefixed.pt", OUT / "zip64.pt")
    expected["zip64.pt"] = expected["module_prefixed.pt"]
    write_zip64(OUT / "module_prefixed.pt", OUT / "storage_outside.pt", overrun="module_prefixed/data/2")

    # Broken or unsupported files; each must give a typed error.
    rewrite_zip(OUT / "bare_state_dict.pt", OUT / "truncated_pickle.pt",
                lambda name, data: data[: len(data) // 2] if name.endswith("data.pkl") else data)
    rewrite_zip(OUT / "bare_state_dict.pt", OUT / "compressed.pt", compression=zipfile.ZIP_DEFLATED)
    rewrite_zip(OUT / "bare_state_dict.pt", OUT / "big_endian.pt",
                lambda name, data: b"big" if name.endswith("/byteorder") else data)
    rewrite_zip(OUT / "bare_state_dict.pt", OUT / "short_storage.pt",
                lambda name, data: data[:4] if name.endswith("/data/0") else data)
    rewrite_zip(OUT / "bare_state_dict.pt", OUT / "no_data_pickle.pt",
                lambda name, data: None if name.endswith("data.pkl") else data)
    torch.save({"state_dict": {"spectrum": torch.ones(2, dtype=torch.complex64)}}, OUT / "complex.pt")

    # A safetensors file written by the reference implementation.
    torch.manual_seed(3)
    st = {"weight": torch.randn(3, 4), "half": torch.randn(5).to(torch.float16),
          "bfloat": torch.randn(2, 2).to(torch.bfloat16), "steps": torch.tensor([1, 2, 3], dtype=torch.int64),
          "flags": torch.tensor([True, False]), "double": torch.tensor([0.25, 1e-3], dtype=torch.float64)}
    safetensors.torch.save_file(st, str(OUT / "python.safetensors"), metadata={"format": "pt", "source": "fixture"})
    expected["python.safetensors"] = {name: expected_entry(t) for name, t in st.items()}

    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")


def make_benchmark(path, tensor_count=4000):
    """A pickle larger than audiosep_base_4M_steps.ckpt's: `tensor_count` state-dict tensors with
    AudioSep-like keys plus Adam's step/exp_avg/exp_avg_sq for each, every one with its own
    (tiny) storage, so the archive has 4 × tensor_count entries but stays a few MB."""
    state = collections.OrderedDict()
    for index in range(tensor_count):
        state[f"ss_model.base.encoder_block{index // 12}.conv_block{index % 12}.conv->weight"] = torch.zeros(2, 2)
    optimizer = {"state": {i: {"step": torch.tensor(4e6), "exp_avg": torch.zeros(2, 2), "exp_avg_sq": torch.zeros(2, 2)}
                           for i in range(tensor_count)},
                 "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "params": list(range(tensor_count))}]}
    torch.save({"epoch": 10, "global_step": 4_000_000, "state_dict": state, "optimizer_states": [optimizer],
                "hyper_parameters": {"namespace": argparse.Namespace(a=1)}}, path)
    print(f"wrote {path}: {tensor_count} state-dict tensors, {4 * tensor_count} storages, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", metavar="PATH")
    options = parser.parse_args()
    if options.benchmark:
        make_benchmark(options.benchmark)
    else:
        make_fixtures()
    sys.exit(0)
