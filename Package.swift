// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "audiosep-stream",
    products: [
        .executable(name: "audiosep-stream", targets: ["audiosep-stream"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // One tiny target per C library, found through pkg-config.
        .systemLibrary(name: "CSndfile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSamplerate", pkgConfig: "samplerate", providers: [.apt(["libsamplerate0-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMalloc"),
        // Our own C: kernels compiled for a CPU feature chosen at run time (AVX-512 BF16).
        .target(name: "CKernels"),

        // Chunking and cross-fade: pure Swift, no C.
        .target(name: "Overlap"),
        // What every writer of files needs: which file is which, links resolved, whole writes, JSON strings.
        .target(name: "Files"),
        // The separation protocol: a window in, the separated window out. Nothing heavy.
        .target(name: "Separation"),
        // Model files on disk: memory maps, zip, pickle, PyTorch checkpoints, safetensors.
        .target(name: "Weights", dependencies: ["Files"]),
        // The short-time Fourier transform both engines share.
        .target(name: "Spectrum", dependencies: ["CFFTW"]),
        // Text queries: RoBERTa's tokenizer, CLAP's text encoder, the embedding cache.
        .target(name: "Text", dependencies: ["Weights", "Files", "COpenBLAS"]),
        // The built-in engine: classical, training-free separation.
        .target(name: "DSP", dependencies: ["Separation", "Spectrum", "CKernels", "COpenBLAS"]),
        // AudioSep's network and its kernels.
        .target(name: "AudioSep", dependencies: ["Separation", "Spectrum", "Weights", "Text", "CKernels", "COpenBLAS"]),
        // From an engine choice, a query and the model files to a separator.
        .target(name: "Engines", dependencies: ["Separation", "Weights", "Text", "DSP", "AudioSep"]),
        // I/O, resampling and the threaded pipeline.
        .target(name: "Stream", dependencies: ["Overlap", "Separation", "Files", "CKernels", "CSndfile", "CSamplerate"]),
        // One separation, for every front end: a request in (input, outputs, windows), a report out.
        .target(name: "Run", dependencies: ["Stream", "Separation", "Files", "Overlap"]),
        // The chunk-size tuner: runs configurations in child processes and weighs them.
        .target(name: "Tuning", dependencies: ["Stream", "Separation", "Files"]),
        // The persistent worker: the packaged AudioSep worker's JSON-lines protocol over the pipeline.
        .target(name: "Worker", dependencies: ["Stream", "Overlap", "Separation", "Files", "Weights", "Text", "DSP",
                                                "AudioSep", "Engines", "Run"]),
        // Archive scale: a manifest of jobs through the pipeline, sharded, journaled, resumable.
        .target(name: "Batch", dependencies: ["Stream", "Separation", "Files", "Run"]),
        // Getting the model: the file table, HTTP (FoundationNetworking), resumable verified downloads.
        .target(name: "ModelStore", dependencies: ["Files"]),
        // The thin executable: flags in, one error line out.
        .executableTarget(name: "audiosep-stream", dependencies: [
            "Stream", "Separation", "Files", "Weights", "Text", "DSP", "AudioSep", "Engines", "Tuning", "Worker", "ModelStore", "Batch", "Run",
            "Overlap", "CMalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Helpers the test targets share: a seeded random source, SNR, fixtures, the binary harness.
        .target(name: "TestSupport", dependencies: ["Stream"], path: "Tests/TestSupport"),
        .testTarget(name: "OverlapTests", dependencies: ["Overlap", "TestSupport"]),
        .testTarget(name: "SeparationTests", dependencies: ["Separation"]),
        .testTarget(name: "WeightsTests", dependencies: ["Weights", "Files", "TestSupport"]),
        .testTarget(name: "TextTests", dependencies: ["Text", "Weights", "TestSupport"]),
        .testTarget(name: "DSPTests", dependencies: ["DSP", "Engines", "Separation", "TestSupport"]),
        .testTarget(name: "AudioSepTests", dependencies: ["AudioSep", "Separation", "Spectrum", "Weights", "Text", "COpenBLAS",
                                                          "TestSupport"]),
        .testTarget(name: "EnginesTests", dependencies: ["Engines", "Separation", "Weights", "Text", "TestSupport"]),
        .testTarget(name: "StreamTests", dependencies: ["Stream", "Overlap", "Separation", "Files", "TestSupport"]),
        .testTarget(name: "TuningTests", dependencies: ["Tuning", "TestSupport"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Engines", "Stream", "Separation", "Weights", "Run", "TestSupport"]),
        .testTarget(name: "BatchTests", dependencies: ["Batch", "Separation", "TestSupport"]),
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["audiosep-stream", "Stream", "Weights", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
