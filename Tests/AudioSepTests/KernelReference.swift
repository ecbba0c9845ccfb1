import AudioSep
import Foundation
import TestSupport
import XCTest

/// Deterministic data and second implementations shared by the kernel tests.
extension XCTestCase {
    func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 2_000_000
        }
    }

    /// Uniform in [−1, 1): zero-mean, so sums cancel as activations' do (and Winograd's transforms).
    func signed(_ count: Int, seed: UInt64) -> [Float] { random(count, seed: seed).map { 2 * $0 - 1 } }

    func maxError(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    /// Direct 3×3 convolution with zero padding, as PyTorch defines it.
    func naiveConv3x3(_ map: FeatureMap, _ w: [Float], out: Int) -> [Float] {
        let x = (channels: map.channels, frames: map.frames, bins: map.bins, planeSize: map.planeSize, values: map.values)
        var y = [Float](repeating: 0, count: out * x.planeSize)
        for o in 0..<out {
            for t in 0..<x.frames {
                for f in 0..<x.bins {
                    var sum: Float = 0
                    for i in 0..<x.channels {
                        for dt in 0..<3 {
                            for df in 0..<3 {
                                let tt = t + dt - 1, ff = f + df - 1
                                guard tt >= 0, tt < x.frames, ff >= 0, ff < x.bins else { continue }
                                sum += w[((o * x.channels + i) * 3 + dt) * 3 + df] * x.values[(i * x.frames + tt) * x.bins + ff]
                            }
                        }
                    }
                    y[(o * x.frames + t) * x.bins + f] = sum
                }
            }
        }
        return y
    }
}
