import AudioSep
import Foundation
import Spectrum
import Text
import Weights
import TestSupport
import XCTest

/// Opt-in (tools/bench-precision): layer-by-layer SNR of each convolution algorithm and precision
/// against im2col fp32, on a full-size checkpoint — where bf16's rounding enters and how it grows.
final class PrecisionReport: XCTestCase {
    func testLayerByLayerSNR() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let checkpoint = environment["AUDIOSEP_PRECISION_CHECKPOINT"], let embeddingPath = environment["AUDIOSEP_PRECISION_EMBEDDING"],
              let inputPath = environment["AUDIOSEP_PRECISION_INPUT"] else {
            throw XCTSkip("opt-in: tools/bench-precision sets AUDIOSEP_PRECISION_CHECKPOINT, _EMBEDDING and _INPUT")
        }
        let weights = try MappedWeights(files: ModelFiles(checkpoint: checkpoint))
        let embedding = try QueryEmbedding.load(path: embeddingPath)
        let samples = try Data(contentsOf: URL(fileURLWithPath: inputPath)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        func run(_ options: ComputeOptions) throws -> (maps: [String: [Float]], order: [String]) {
            let network = try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: options)
            var maps: [String: [Float]] = [:], order: [String] = []
            let output = network.separate(samples, conditioning: network.condition(on: embedding), stft: STFT(),
                                          workspace: Workspace(threads: 2)) { name, map in
                maps[name] = map.values
                order.append(name)
            }
            maps["output"] = output
            return (maps, order + ["output"])
        }
        let reference = try run(ComputeOptions(convolution: .im2col, precision: .fp32))
        // Winograd fp32 on the fused kernels this CPU runs (KernelBuild.best) and on OpenBLAS, then bf16.
        let variants = [("winograd fp32", ComputeOptions(convolution: .winograd, precision: .fp32)),
                        ("winograd blas", ComputeOptions(convolution: .winograd, precision: .fp32, kernels: .blas)),
                        ("im2col bf16", ComputeOptions(convolution: .im2col, precision: .bf16)),
                        ("winograd bf16", ComputeOptions(convolution: .winograd, precision: .bf16))]
        let results = try variants.map { try run($0.1).maps }
        var table = "SNR (dB) against im2col fp32, \(samples.count) samples (winograd fp32: --kernels \(KernelBuild.best))\n"
            + "layer".padding(toLength: 28, withPad: " ", startingAt: 0)
            + variants.map { $0.0.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined() + "\n"
        // Where a fused kernel adds conv2's residual (and pool) itself, its conv2 is traced under
        // another name, after the residual: those rows show "-" for it.
        for name in reference.order where !name.hasSuffix("/skip") {
            table += name.padding(toLength: 28, withPad: " ", startingAt: 0)
                + results.map { maps in maps[name].map { String(format: "%-16.1f", snr(reference.maps[name]!, $0)) } ?? "-".padding(toLength: 16, withPad: " ", startingAt: 0) }
                .joined() + "\n"
        }
        print(table)
        // Whatever else it shows, Winograd in fp32 must stay within 60 dB of the reference.
        XCTAssertGreaterThanOrEqual(snr(reference.maps["output"]!, results[0]["output"]!), 60)
        XCTAssertGreaterThanOrEqual(snr(reference.maps["output"]!, results[1]["output"]!), 60)
    }
}
