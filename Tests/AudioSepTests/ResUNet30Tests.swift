@testable import AudioSep
import Foundation
import Spectrum
import Text
import Weights
import TestSupport
import XCTest

/// The Swift network against our PyTorch reference (tools/reference/), on the tiny fixture
/// model: every layer, then the waveform. Tolerances are about ten times the float32-vs-float64
/// differences measured by the fixture script (Tests/Fixtures/audiosep-tiny/README.md).
final class ResUNet30Tests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/audiosep-tiny")

    static func path(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }


    /// The profiler's operation counts: one stage per traced layer, convolutions by their formula.
    func testOperationCountsCoverEveryTracedLayer() throws {
        let weights = try MappedWeights(files: ModelFiles(checkpoint: Self.path("tiny.ckpt")))
        let layered = try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: ComputeOptions(rowBands: false))
        // 25 frames are padded to 32; 1024 bins; encoder 1 is 2 → 2 channels: 2·9·2·2 per pixel + the activation.
        let conv1 = Double(2 * 9 * 2 * 2 * 32 * 1024 + 3 * 2 * 32 * 1024)
        XCTAssertEqual(layered.operations(frames: 25).first { $0.stage == "encoder_block1/conv1" }?.operations, conv1)
        for bands in [false, true] {
            try checkOperationCounts(try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: ComputeOptions(rowBands: bands)))
        }
    }

    func checkOperationCounts(_ network: ResUNet30) throws {
        let counts = Dictionary(network.operations(frames: 25).map { ($0.stage, $0.operations) }, uniquingKeysWith: +)
        var traced: [String] = []
        _ = network.separate(try Self.floats("input.f32"), conditioning: network.condition(on: try QueryEmbedding.load(path: Self.path("embedding.f32"))),
                             stft: STFT(), workspace: Workspace(threads: 1)) { name, _ in traced.append(name) }
        // Spectra, skips and whole blocks (traced once their last layer is done) take no time of their own.
        let spectral: Set = ["stft_real", "stft_imag", "mag", "sep_real", "sep_imag", "conv_block7a"]
        let layers = traced.filter { name in
            !spectral.contains(name) && !name.hasSuffix("/skip") && (name.contains("/") || !name.hasPrefix("decoder_block"))
        }
        for name in layers {
            // A pool the fused kernel does inside conv2 is counted (and timed) in conv2's stage.
            if name.hasSuffix("/pool"), let block = name.split(separator: "/").first,
               counts.keys.contains(where: { $0.hasPrefix(block + "/") && $0.hasSuffix("+pool") }) {
                XCTAssertNil(counts[name], name)
                continue
            }
            XCTAssertNotNil(counts[name], "no operation count for traced stage \(name)")
        }
        // conv2 adds the shortcut itself where a fused Winograd kernel runs it (at level 0, in row
        // bands with the upsampling, conv1 and after_conv: one stage).
        XCTAssertEqual([layers.contains("decoder_block6/conv2"), layers.contains("decoder_block6/conv2+shortcut"),
                        layers.contains("decoder_block6/upsample+conv1+conv2+shortcut+after_conv")].filter { $0 }.count, 1, "\(layers)")
        XCTAssertTrue(layers.contains("encoder_block6/pool"))
        XCTAssertEqual(layers.contains("decoder_block6/shortcut"), layers.contains("decoder_block6/conv2"))
    }

    /// bf16 through the network on any CPU (the AVX-512 BF16 kernel where present, else the
    /// portable one): close to fp32, not equal to it; Winograd in fp32 equal to im2col.
    func testPrecisionsAndAlgorithmsAgainstIm2colFP32() throws {
        let weights = try MappedWeights(files: ModelFiles(checkpoint: Self.path("tiny.ckpt")))
        let embedding = try QueryEmbedding.load(path: Self.path("embedding.f32"))
        let input = try Self.floats("input.f32")
        func separate(_ convolution: ComputeOptions.Convolution, _ precision: ComputeOptions.Precision,
                      kernel: KernelBuild = .best) throws -> [Float] {
            let network = try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix,
                                        options: ComputeOptions(convolution: convolution, precision: precision, kernels: kernel))
            return network.separate(input, conditioning: network.condition(on: embedding), stft: STFT(), workspace: Workspace(threads: 2))
        }
        let exact = try separate(.im2col, .fp32)
        for kernel in KernelBuild.allCases where kernel.isSupported {
            XCTAssertGreaterThan(snr(exact, try separate(.winograd, .fp32, kernel: kernel)), 90, "\(kernel)")
        }
        for (convolution, least) in [(ComputeOptions.Convolution.im2col, 20.0), (.winograd, 15.0)] {
            let quality = snr(exact, try separate(convolution, .bf16))
            XCTAssertGreaterThan(quality, least, "\(convolution) bf16")
            XCTAssertLessThan(quality, 90, "\(convolution) bf16 must round")
        }
    }

    /// Levels 0 to 2 in row bands compute every tile from the same values by the same code as
    /// layer after layer: the output is identical, on every fused build, with any number of threads
    /// (runs that split the tile rows unevenly, where two threads compute the same two rows),
    /// and for windows of several lengths.
    func testRowBandsEqualLayerByLayerExactly() throws {
        let weights = try MappedWeights(files: ModelFiles(checkpoint: Self.path("tiny.ckpt")))
        let embedding = try QueryEmbedding.load(path: Self.path("embedding.f32"))
        let input = try Self.floats("input.f32")
        for kernel in KernelBuild.allCases where kernel.isSupported && kernel != .blas {
            func network(bands: Bool) throws -> ResUNet30 {
                try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: ComputeOptions(kernels: kernel, rowBands: bands))
            }
            let banded = try network(bands: true), layered = try network(bands: false)
            XCTAssertEqual((0..<6).filter { banded.encoderInBands($0) }, Array(0..<ResUNet30.bandedLevels), "\(kernel)")
            XCTAssertEqual((0..<6).filter { banded.decoderInBands($0) }, Array((6 - ResUNet30.bandedLevels)..<6), "\(kernel)")
            XCTAssertFalse(layered.encoderInBands(0) || layered.decoderInBands(5))
            // Without the hidden map's slot, the window needs less memory.
            XCTAssertLessThan(banded.windowFloats(frames: 1001), layered.windowFloats(frames: 1001))
            for threads in [1, 2, 3] {
                for length in [input.count, 3 * input.count + 777] {
                    let samples = (0..<length).map { input[$0 % input.count] * (1 + Float($0 / input.count)) }
                    let a = banded.separate(samples, conditioning: banded.condition(on: embedding), stft: STFT(),
                                            workspace: Workspace(threads: threads))
                    let b = layered.separate(samples, conditioning: layered.condition(on: embedding), stft: STFT(),
                                             workspace: Workspace(threads: threads))
                    XCTAssertEqual(a, b, "\(kernel), \(threads) threads, \(length) samples")
                }
            }
        }
    }

    func testCheckpointAndSafetensorsLoadTheSameNetwork() throws {
        for files in [ModelFiles(checkpoint: Self.path("tiny.ckpt")), ModelFiles(safetensors: Self.path("tiny.safetensors"))] {
            let network = try ResUNet30(files: files)
            XCTAssertEqual(network.encoderWidths, [2, 3, 4, 6, 8, 8])
            XCTAssertEqual(network.centreWidth, 8)
        }
    }

    /// Layer by layer (`rowBands` off: in bands, level 0's maps are never whole; the banded
    /// network's output equals this one's exactly, `testRowBandsEqualLayerByLayerExactly`).
    func testEveryLayerMatchesTheReference() throws {
        let network = try ResUNet30(MappedWeights(files: ModelFiles(checkpoint: Self.path("tiny.ckpt"))),
                                    prefix: CheckpointLayout.networkPrefix, options: ComputeOptions(rowBands: false))
        let reference = try SafeTensorsFile(path: Self.path("intermediates.safetensors"))
        let conditioning = network.condition(on: try QueryEmbedding.load(path: Self.path("embedding.f32")))
        var seen: [String: FeatureMap] = [:]
        let output = network.separate(try Self.floats("input.f32"), conditioning: conditioning, stft: STFT(),
                                      workspace: Workspace(threads: 2)) { seen[$0] = $1.copy() }

        // Spectra [frames × 1025].
        for (name, tolerance) in [("stft_real", Float(2e-4)), ("stft_imag", 2e-4), ("mag", 2e-4), ("sep_real", 2e-3), ("sep_imag", 2e-3)] {
            let expected = try reference.tensor(name).floats()
            let actual = try XCTUnwrap(seen[name], name).values
            XCTAssertEqual(actual.count, expected.count, name)
            XCTAssertLessThanOrEqual(maxError(actual, expected), tolerance, name)
        }
        // bn0: the reference keeps [25, 1025] before padding; ours is the padded [1, 32, 1024] network input.
        let bn0 = try reference.tensor("bn0_out").floats()
        let ours = try XCTUnwrap(seen["bn0_out"]).values
        var bn0Error: Float = 0
        for frame in 0..<32 {
            for bin in 0..<1024 {
                let expected = frame < 25 ? bn0[frame * 1025 + bin] : 0
                bn0Error = max(bn0Error, abs(ours[frame * 1024 + bin] - expected))
            }
        }
        XCTAssertLessThanOrEqual(bn0Error, 2e-4, "bn0_out (padded frames must be exactly zero)")

        // Network maps [C, T, F], same layout on both sides.
        var names = ["pre_conv", "conv_block7a", "after_conv"]
        for block in 1...6 { names += ["encoder_block\(block)/skip", "encoder_block\(block)/pool", "decoder_block\(block)"] }
        for name in names {
            let view = try reference.tensor(name)
            let map = try XCTUnwrap(seen[name], name)
            XCTAssertEqual([map.channels, map.frames, map.bins], view.shape, name)
            XCTAssertLessThanOrEqual(maxError(map.values, try view.floats()), 3e-4, name)
        }

        let expected = try Self.floats("output.f32")
        XCTAssertEqual(output.count, expected.count)
        XCTAssertLessThanOrEqual(maxError(output, expected), 3e-6)
        XCTAssertGreaterThanOrEqual(snr(expected, output), 60)
    }

    func testInverseSTFTMatchesTorchlibrosa() throws {
        let reference = try SafeTensorsFile(path: Self.path("intermediates.safetensors"))
        let stft = STFT()
        let real = try reference.tensor("stft_real").floats(), imag = try reference.tensor("stft_imag").floats()
        let back = stft.inverse(real: real, imag: imag, frames: 25, length: 7919)
        XCTAssertLessThanOrEqual(maxError(back, try reference.tensor("istft_roundtrip").floats()), 1e-5)
    }

    /// The engine in the pipeline's terms: any window length, including ones shorter than the STFT needs.
    func testSeparatorHandlesAnyWindowLength() throws {
        let network = try ResUNet30(files: ModelFiles(safetensors: Self.path("tiny.safetensors")))
        let engine = AudioSepEngine(network: network, embedding: try QueryEmbedding.load(path: Self.path("embedding.f32")))
        XCTAssertEqual(engine.sampleRate, 32_000)
        let input = try Self.floats("input.f32")
        XCTAssertGreaterThanOrEqual(snr(try Self.floats("output.f32"), try engine.separate(input)), 60)
        for length in [0, 1, 100, 1024, 1025, 1026, 3000] {
            let output = try engine.separate(Array(input[0..<length]))
            XCTAssertEqual(output.count, length)
            XCTAssertTrue(output.allSatisfy(\.isFinite), "length \(length)")
        }
        XCTAssertEqual(engine.preferredChunkFrames(near: 320_000), (31 * 32 - 1) * 320, "10 s snaps to 992 STFT frames")
        XCTAssertEqual(engine.preferredChunkFrames(near: 1000), 31 * 320, "never below one block of 32 frames")
        // Overlaps put every window's start on the 32-frame pooling grid: the hop is whole blocks.
        let chunk = (31 * 32 - 1) * 320
        for requested in [1, 16_000, 32_000, 100_000, chunk / 2] {
            let overlap = try XCTUnwrap(engine.preferredOverlapFrames(near: requested, chunkFrames: chunk))
            XCTAssertEqual((chunk - overlap) % (32 * 320), 0, "hop of whole blocks for \(requested)")
            XCTAssertGreaterThan(overlap, 0)
            XCTAssertLessThanOrEqual(overlap, chunk / 2)
            XCTAssertLessThanOrEqual(abs(overlap - requested), 32 * 320, "nearest block to \(requested)")
        }
        XCTAssertEqual(engine.preferredOverlapFrames(near: 32_000, chunkFrames: chunk), 95 * 320, "1 s becomes 0.95 s")
        XCTAssertNil(engine.preferredOverlapFrames(near: 0, chunkFrames: chunk), "no overlap is kept as asked")
        XCTAssertNil(engine.preferredOverlapFrames(near: 5000, chunkFrames: 31 * 320), "one block: no hop fits")
    }

    func testMissingAndMisshapenTensorsAreNamed() throws {
        let checkpoint = try TorchCheckpoint(path: Self.path("tiny.ckpt"))
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (key, view) in checkpoint.tensors where key.hasPrefix("ss_model.") && view.dtype == .f32 {
            tensors[key] = (view.shape, try view.floats())
        }
        XCTAssertNoThrow(try ResUNet30(InMemoryWeights(tensors: tensors, origin: "tiny.ckpt")))
        var missing = tensors
        missing["ss_model.film.decoder_block3->conv_block2->beta1.bias"] = nil
        XCTAssertThrowsError(try ResUNet30(InMemoryWeights(tensors: missing, origin: "tiny.ckpt"))) {
            XCTAssertEqual($0 as? ModelError, .missingTensor(file: "tiny.ckpt", key: "ss_model.film.decoder_block3->conv_block2->beta1.bias"))
        }
        var misshapen = tensors
        misshapen["ss_model.base.encoder_block2.conv_block1.conv2.weight"] = ([3, 3, 3, 1], [Float](repeating: 0, count: 27))
        XCTAssertThrowsError(try ResUNet30(InMemoryWeights(tensors: misshapen, origin: "tiny.ckpt"))) {
            XCTAssertEqual($0 as? ModelError, .wrongShape(file: "tiny.ckpt", key: "ss_model.base.encoder_block2.conv_block1.conv2.weight",
                                                          got: [3, 3, 3, 1], expected: [3, 3, 3, 3]))
            XCTAssertTrue("\($0)".contains("3×3×3×1"), "\($0)")
        }
    }

    func testEmbeddingFilesRawAndNumPy() throws {
        let values = (0..<512).map { Float($0) / 512 }
        let raw = values.withUnsafeBytes { Array($0) }
        XCTAssertEqual(try QueryEmbedding.parse(raw, origin: "e.f32"), values)
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (512,), }"
        var padded = header
        while (10 + padded.utf8.count + 1) % 64 != 0 { padded += " " }
        padded += "\n"
        let npy = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded.utf8.count & 0xff), UInt8(padded.utf8.count >> 8)]
            + Array(padded.utf8) + raw
        XCTAssertEqual(try QueryEmbedding.parse(npy, origin: "e.npy"), values)
        XCTAssertThrowsError(try QueryEmbedding.parse(Array(raw[0..<100]), origin: "short.f32")) {
            XCTAssertTrue("\($0)".contains("100 bytes"), "\($0)")
        }
        let doubles = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded.utf8.count), 0]
            + Array(padded.replacingOccurrences(of: "<f4", with: "<f8").utf8) + raw + raw
        XCTAssertThrowsError(try QueryEmbedding.parse(doubles, origin: "e.npy"))
    }
}

final class ModelConverterTests: XCTestCase {
    func testConvertedModelsSeparateLikeTheCheckpoint() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("convert-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let embedding = try QueryEmbedding.load(path: ResUNet30Tests.path("embedding.f32"))
        let input = try ResUNet30Tests.floats("input.f32")
        let expected = try ResUNet30Tests.floats("output.f32")
        let original = AudioSepEngine(network: try ResUNet30(files: ModelFiles(checkpoint: ResUNet30Tests.path("tiny.ckpt"))),
                                      embedding: embedding, threads: 2)
        let reference = try original.separate(input)
        for precision in ModelConverter.Precision.allCases {
            let path = directory.appendingPathComponent("tiny-\(precision).safetensors").path
            let summary = try ModelConverter.convert(ModelFiles(checkpoint: ResUNet30Tests.path("tiny.ckpt")), to: path, precision: precision)
            let converted = try SafeTensorsFile(path: path)
            XCTAssertEqual(converted.metadata["precision"], precision.rawValue)
            XCTAssertFalse(converted.names.contains { $0.contains("num_batches_tracked") || $0.hasPrefix("ss_model.base.stft.") })
            XCTAssertFalse(converted.names.contains { $0.hasPrefix("query_encoder.model.text_branch.embeddings.position_ids") })
            XCTAssertEqual(summary.tensors, converted.names.count)
            let engine = AudioSepEngine(network: try ResUNet30(files: ModelFiles(safetensors: path)), embedding: embedding, threads: 2)
            let output = try engine.separate(input)
            switch precision {
            case .f32:
                XCTAssertEqual(output, reference, "f32 conversion is lossless")
            case .bf16:
                var signal = 0.0, noise = 0.0
                for (r, e) in zip(expected, output) { signal += Double(r * r); noise += Double((r - e) * (r - e)) }
                XCTAssertGreaterThan(10 * log10(signal / noise), 20, "bf16 weights stay close to the reference")
            }
        }
    }
}
