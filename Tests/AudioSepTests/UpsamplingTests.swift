import AudioSep
import Foundation
import XCTest

/// The fused upsampling kernel (every build this CPU runs) against the OpenBLAS bands, which
/// KernelTests checks against the definition.
final class UpsamplingTests: XCTestCase {
    func testFusedBuildsEqualTheBands() throws {
        let builds = KernelBuild.allCases.filter { $0.isSupported && $0 != .blas }   // portable always
        // Bins that fill 32-pixel blocks and that do not; kernels (2, 2) as in AudioSep, (1, 2),
        // (2, 1) and (3, 3); output rows (out·kt·kf) that do not fill the microkernel's groups of 8.
        for (inC, outC, frames, bins, kt, kf) in [(3, 2, 4, 5, 2, 3), (8, 5, 3, 64, 2, 2), (16, 8, 2, 40, 1, 2),
                                                  (4, 3, 5, 33, 2, 1), (6, 7, 2, 17, 3, 3), (1, 1, 1, 1, 2, 2)] {
            let x = FeatureMap(channels: inC, frames: frames, bins: bins, values: signed(inC * frames * bins, seed: 61))
            let w = signed(inC * outC * kt * kf, seed: 62)
            let activation = Convolution.Activation(scale: signed(inC, seed: 63), offset: signed(inC, seed: 64), slope: 0.1)
            let shape = "\(inC)→\(outC) \(frames)×\(bins) kernel \(kt)×\(kf)"
            let expected = FeatureMap(channels: outC + 2, frames: frames * kt, bins: bins * kf)
            try UpsampleLayer(weights: w, inChannels: inC, outChannels: outC, kernelFrames: kt, kernelBins: kf, kernels: .blas)(
                x, activation: activation, into: expected, channelOffset: 1, workspace: Workspace(threads: 2))
            XCTAssertGreaterThan(expected.values.map(abs).max() ?? 0, 0, shape)
            var outputs: [KernelBuild: [Float]] = [:]
            for build in builds {
                let layer = try UpsampleLayer(weights: w, inChannels: inC, outChannels: outC, kernelFrames: kt, kernelBins: kf,
                                          kernels: build)
                for (threads, streaming) in [(1, Int.max), (2, 0)] {
                    let actual = FeatureMap(channels: outC + 2, frames: frames * kt, bins: bins * kf)
                    layer(x, activation: activation, into: actual, channelOffset: 1, streamingBytes: streaming,
                          workspace: Workspace(threads: threads))
                    XCTAssertLessThan(maxError(actual.values, expected.values), 1e-5, "\(build), \(threads) threads, \(shape)")
                    let plane = actual.planeSize
                    XCTAssertTrue(actual.values[0..<plane].allSatisfy { $0 == 0 }
                                  && actual.values[((outC + 1) * plane)...].allSatisfy { $0 == 0 }, "other channels untouched")
                    if let earlier = outputs[build] { XCTAssertEqual(actual.values, earlier, "threads or streaming changed \(build)") }
                    outputs[build] = actual.values
                }
            }
            if let avx2 = outputs[.avx2], let avx512 = outputs[.avx512] { XCTAssertEqual(avx2, avx512, shape) }
        }
    }
}
