import Engine
import Foundation
import XCTest

/// Winograd F(4×4, 3×3) against the direct definition and against im2col, edges included.
final class WinogradTests: XCTestCase {
    func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
        let scale = expected.map(abs).max() ?? 1
        return maxError(actual, expected) / max(scale, 1e-30)
    }

    func testMatchesDirectConvolutionIncludingPartialTiles() {
        let workspace = Workspace(threads: 2)
        // Frames and bins that are and are not multiples of 4, single rows and columns, one tile, many.
        for (inC, outC, frames, bins) in [(1, 1, 1, 1), (3, 5, 7, 9), (8, 4, 33, 16), (2, 3, 40, 2), (4, 3, 64, 1100),
                                          (2, 40, 5, 7), (16, 8, 4, 4), (5, 6, 13, 6)] {
            let x = FeatureMap(channels: inC, frames: frames, bins: bins, values: signed(inC * frames * bins, seed: 2))
            let w = signed(outC * inC * 9, seed: 3)
            let y = Winograd.conv3x3([x], weights: Winograd.Weights(w, outChannels: outC, inChannels: inC), workspace: workspace)
            XCTAssertEqual([y.channels, y.frames, y.bins], [outC, frames, bins])
            XCTAssertLessThan(relativeError(y.values, naiveConv3x3(x, w, out: outC)), 1e-5,
                              "\(inC)→\(outC) \(frames)×\(bins)")
        }
    }

    /// Activated concatenation, several work units per row (narrow scratch) and per thread.
    func testActivatedConcatenationMatchesIm2col() {
        let workspace = Workspace(threads: 2)
        for (channels, outC, frames, bins) in [((3, 2), 4, 9, 11), ((32, 32), 32, 64, 1024), ((96, 96), 64, 16, 512)] {
            let a = FeatureMap(channels: channels.0, frames: frames, bins: bins,
                               values: signed(channels.0 * frames * bins, seed: 21))
            let b = FeatureMap(channels: channels.1, frames: frames, bins: bins,
                               values: signed(channels.1 * frames * bins, seed: 22))
            let inC = channels.0 + channels.1
            let activation = Convolution.Activation(scale: signed(inC, seed: 23), offset: signed(inC, seed: 24))
            let w = signed(outC * inC * 9, seed: 25)
            let fast = Winograd.conv3x3([a, b], activation: activation, weights: Winograd.Weights(w, outChannels: outC, inChannels: inC),
                                        workspace: workspace)
            let exact = Convolution.conv3x3([a, b], activation: activation, weights: w, outChannels: outC, workspace: workspace)
            XCTAssertLessThan(relativeError(fast.values, exact.values), 2e-5, "\(inC)→\(outC) \(frames)×\(bins)")
        }
    }
}
