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
        // Separators: the protocol and its engines.
        .target(name: "Engine", dependencies: ["CFFTW", "COpenBLAS", "CKernels"]),
        // I/O, resampling and the threaded pipeline.
        .target(name: "Stream", dependencies: ["Overlap", "Engine", "CSndfile", "CSamplerate"]),
        // The chunk-size tuner: runs configurations in child processes and weighs them.
        .target(name: "Tuning", dependencies: ["Stream"]),
        // The persistent worker: the packaged AudioSep worker's JSON-lines protocol over the pipeline.
        .target(name: "Worker", dependencies: ["Stream", "Engine", "Overlap"]),
        // Getting the model: the file table, HTTP (FoundationNetworking), resumable verified downloads.
        .target(name: "ModelStore"),
        // The thin executable: flags in, one error line out.
        .executableTarget(name: "audiosep-stream", dependencies: [
            "Stream", "Engine", "Tuning", "Worker", "ModelStore", "CMalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "OverlapTests", dependencies: ["Overlap"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine"]),
        .testTarget(name: "StreamTests", dependencies: ["Stream", "Engine"]),
        .testTarget(name: "TuningTests", dependencies: ["Tuning"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Stream", "Engine"]),
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore"]),
        .testTarget(name: "EndToEndTests", dependencies: ["audiosep-stream", "Stream"]),
    ],
    swiftLanguageModes: [.v5]
)
