import AudioSep
import Foundation
import XCTest

/// Prints kernel timings at the full model's first-level shape. Opt-in (KERNEL_TIMING=1), never
/// asserted: timings belong in benchmarks, not in pass/fail tests.
final class KernelTimingTests: XCTestCase {
    func testPrintFirstLevelTimings() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["KERNEL_TIMING"] == "1", "set KERNEL_TIMING=1 to print timings")
        let channels = 32, frames = 1024, bins = 1024
        let x = FeatureMap(channels: channels, frames: frames, bins: bins,
                           values: (0..<(channels * frames * bins)).map { Float($0 % 97) / 97 })
        let w = (0..<(channels * channels * 9)).map { Float($0 % 13) / 13 }
        let workspace = Workspace(threads: 2)
        func time(_ label: String, flops: Double, _ body: () -> Void) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            print(String(format: "%@: %.3f s, %.1f GFLOP/s", label, seconds, flops / seconds / 1e9))
        }
        _ = Convolution.conv3x3(x, weights: w, outChannels: channels, workspace: workspace)
        time("conv3x3 32→32 1024×1024", flops: 2 * 9 * 32 * 32 * 1024 * 1024) {
            _ = Convolution.conv3x3(x, weights: w, outChannels: channels, workspace: workspace)
        }
        let activation = Convolution.Activation(scale: [Float](repeating: 1.1, count: 32), offset: [Float](repeating: 0.1, count: 32))
        let transformed = try Winograd.Weights(w, outChannels: channels, inChannels: channels)
        let output = FeatureMap(channels: channels, frames: frames, bins: bins)
        for kernel in KernelBuild.allCases where kernel.isSupported {
            _ = Winograd.conv3x3([x], activation: activation, weights: transformed, kernel: kernel, into: output, workspace: workspace)
            time("winograd \(kernel) 32→32 1024×1024, activated (effective)", flops: 2 * 9 * 32 * 32 * 1024 * 1024) {
                _ = Winograd.conv3x3([x], activation: activation, weights: transformed, kernel: kernel, into: output, workspace: workspace)
            }
        }
        time("affine+leaky 32×1M", flops: 0) {
            _ = Convolution.affineLeakyReLU(x, scale: [Float](repeating: 1.1, count: 32), offset: [Float](repeating: 0.1, count: 32), workspace: workspace)
        }
        time("allocate 32×1M", flops: 0) { _ = FeatureMap(channels: 32, frames: 1024, bins: 1024) }
    }
}
