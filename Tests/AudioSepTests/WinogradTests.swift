import AudioSep
import Foundation
import XCTest

/// Winograd F(4×4, 3×3) against the direct definition and against im2col, edges included.
final class WinogradTests: XCTestCase {
    func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
        let scale = expected.map(abs).max() ?? 1
        return maxError(actual, expected) / max(scale, 1e-30)
    }

    /// Every kernel this CPU runs: the fused builds and the three phases.
    let kernels = KernelBuild.allCases.filter(\.isSupported)

    func testMatchesDirectConvolutionIncludingPartialTiles() throws {
        let workspace = Workspace(threads: 2)
        // Frames and bins that are and are not multiples of 4, single rows and columns, one tile, many;
        // for the fused kernel's blocks of 32 tiles: rows of exactly 32 and 64 tiles (bins 128, 256),
        // rows of 33 tiles (blocks cross rows), rows of 1–5 tiles (a block spans up to 32 rows), and
        // output channels that do not fill its groups of 8.
        let shapes = [(1, 1, 1, 1), (3, 5, 7, 9), (8, 4, 33, 16), (2, 3, 40, 2), (4, 3, 64, 1100), (2, 40, 5, 7),
                      (16, 8, 4, 4), (5, 6, 13, 6), (3, 9, 9, 128), (6, 17, 8, 256), (4, 12, 11, 130), (7, 3, 70, 20),
                      (1, 8, 150, 3)]
        for kernel in kernels {
            for (inC, outC, frames, bins) in shapes {
                let x = FeatureMap(channels: inC, frames: frames, bins: bins, values: signed(inC * frames * bins, seed: 2))
                let w = signed(outC * inC * 9, seed: 3)
                let y = Winograd.conv3x3([x], weights: try Winograd.Weights(w, outChannels: outC, inChannels: inC), kernel: kernel,
                                         workspace: workspace)
                XCTAssertEqual([y.channels, y.frames, y.bins], [outC, frames, bins])
                XCTAssertLessThan(relativeError(y.values, naiveConv3x3(x, w, out: outC)), 1e-5,
                                  "\(kernel) \(inC)→\(outC) \(frames)×\(bins)")
            }
        }
    }

    /// The fused kernels with weights kept only in their packed form; their streaming stores
    /// change nothing; one thread or two, the same bits; AVX2 and AVX-512 agree exactly (the
    /// same arithmetic in the same order, FMA in both).
    func testFusedKernelsAgreeAcrossThreadsStoresAndBuilds() throws {
        let (inC, outC, frames, bins) = (24, 16, 37, 300)
        let x = FeatureMap(channels: inC, frames: frames, bins: bins, values: signed(inC * frames * bins, seed: 31))
        let w = signed(outC * inC * 9, seed: 32)
        let activation = Convolution.Activation(scale: signed(inC, seed: 33), offset: signed(inC, seed: 34), slope: 0.2)
        let packed = try Winograd.Weights(w, outChannels: outC, inChannels: inC, forms: .packed)
        let exact = Convolution.conv3x3([x], activation: activation, weights: w, outChannels: outC, workspace: Workspace(threads: 1))
        var outputs: [KernelBuild: [Float]] = [:]
        for kernel in kernels where kernel != .blas {
            let one = Winograd.conv3x3([x], activation: activation, weights: packed, kernel: kernel, workspace: Workspace(threads: 1))
            let two = Winograd.conv3x3([x], activation: activation, weights: packed, kernel: kernel, streamingBytes: 0,
                                       workspace: Workspace(threads: 2))
            XCTAssertEqual(one.values, two.values, "\(kernel): threads or streaming stores changed the result")
            XCTAssertLessThan(relativeError(one.values, exact.values), 2e-5, "\(kernel)")
            outputs[kernel] = one.values
        }
        // Where the CPU has both (this project's machine does), they must agree to the bit.
        if let avx2 = outputs[.avx2], let avx512 = outputs[.avx512] { XCTAssertEqual(avx2, avx512) }
    }

    /// A ResNet block's residual, added by the fused kernels as they write: the input itself, or
    /// its 1×1 shortcut (of a two-map concatenation), and the 2 × 2 pool of the result, equal to
    /// the separate passes; partial tiles,
    /// blocks across rows, channel groups of 8 left part-empty, bins that end mid-vector.
    func testFusedResidualsEqualTheSeparatePasses() throws {
        let workspace = Workspace(threads: 2)
        for kernel in kernels where kernel != .blas {
            for (channels, outC, frames, bins) in [((3, 2), 5, 9, 11), ((8, 8), 12, 13, 130), ((16, 16), 16, 8, 256),
                                                   ((4, 4), 4, 70, 20), ((16, 16), 24, 35, 72), ((1, 1), 1, 1, 1),
                                                   ((2, 1), 3, 2, 3)] {
                let a = FeatureMap(channels: channels.0, frames: frames, bins: bins, values: signed(channels.0 * frames * bins, seed: 41))
                let b = FeatureMap(channels: channels.1, frames: frames, bins: bins, values: signed(channels.1 * frames * bins, seed: 42))
                let h = FeatureMap(channels: outC, frames: frames, bins: bins, values: signed(outC * frames * bins, seed: 43))
                let activation = Convolution.Activation(scale: signed(outC, seed: 44), offset: signed(outC, seed: 45))
                let w = signed(outC * outC * 9, seed: 46)
                let weights = try Winograd.Weights(w, outChannels: outC, inChannels: outC, forms: .packed)
                let inC = channels.0 + channels.1
                let shortcutWeights = signed(outC * inC, seed: 47), bias = signed(outC, seed: 48)
                let shortcut = try Winograd.Shortcut(weights: shortcutWeights, bias: bias, outChannels: outC, inChannels: inC)
                let pooled = FeatureMap(channels: outC, frames: frames / 2, bins: bins / 2)
                let fused = Winograd.conv3x3([h], activation: activation, weights: weights, kernel: kernel,
                                             residual: .shortcut([a, b], shortcut), pooled: pooled, workspace: workspace)
                let separate = Convolution.conv3x3([h], activation: activation, weights: w, outChannels: outC, workspace: workspace)
                Convolution.conv1x1([a, b], weights: shortcutWeights, bias: bias, outChannels: outC, accumulatingInto: separate,
                                    workspace: workspace)
                let shape = "\(kernel) \(inC)→\(outC) \(frames)×\(bins)"
                XCTAssertLessThan(relativeError(fused.values, separate.values), 2e-5, "shortcut, " + shape)
                // The pool written alongside equals AvgPool2d(2) of the result (odd last rows and bins dropped).
                if frames >= 2 && bins >= 2 {
                    let expectedPool = Convolution.averagePool(separate, frames: 2, bins: 2, workspace: workspace)
                    XCTAssertLessThan(relativeError(pooled.values, expectedPool.values), 2e-5, "pool, " + shape)
                }

                let x = FeatureMap(channels: outC, frames: frames, bins: bins, values: signed(outC * frames * bins, seed: 49))
                let withInput = Winograd.conv3x3([h], activation: activation, weights: weights, kernel: kernel,
                                                 residual: .identity([x]), workspace: workspace)
                let plain = Convolution.conv3x3([h], activation: activation, weights: w, outChannels: outC, workspace: workspace)
                Convolution.add(x, to: plain, workspace: workspace)
                XCTAssertLessThan(relativeError(withInput.values, plain.values), 2e-5, "identity, " + shape)
                // The identity with the pool, as encoder_block1 runs, through streaming stores.
                let streamedPool = FeatureMap(channels: outC, frames: frames / 2, bins: bins / 2)
                let streamed = Winograd.conv3x3([h], activation: activation, weights: weights, kernel: kernel,
                                                residual: .identity([x]), pooled: streamedPool, streamingBytes: 0, workspace: workspace)
                XCTAssertEqual(streamed.values, withInput.values, "streaming stores changed the output, " + shape)
                if frames >= 2 && bins >= 2 {
                    let expectedPool = Convolution.averagePool(plain, frames: 2, bins: 2, workspace: workspace)
                    XCTAssertLessThan(relativeError(streamedPool.values, expectedPool.values), 2e-5, "identity pool, " + shape)
                }
            }
        }
    }

    /// Activated concatenation, several work units per row (narrow scratch) and per thread.
    func testActivatedConcatenationMatchesIm2col() throws {
        let workspace = Workspace(threads: 2)
        for kernel in kernels {
        for (channels, outC, frames, bins) in [((3, 2), 4, 9, 11), ((32, 32), 32, 64, 1024), ((96, 96), 64, 16, 512)] {
            let a = FeatureMap(channels: channels.0, frames: frames, bins: bins,
                               values: signed(channels.0 * frames * bins, seed: 21))
            let b = FeatureMap(channels: channels.1, frames: frames, bins: bins,
                               values: signed(channels.1 * frames * bins, seed: 22))
            let inC = channels.0 + channels.1
            let activation = Convolution.Activation(scale: signed(inC, seed: 23), offset: signed(inC, seed: 24))
            let w = signed(outC * inC * 9, seed: 25)
            let fast = Winograd.conv3x3([a, b], activation: activation, weights: try Winograd.Weights(w, outChannels: outC, inChannels: inC),
                                        kernel: kernel, workspace: workspace)
            let exact = Convolution.conv3x3([a, b], activation: activation, weights: w, outChannels: outC, workspace: workspace)
            XCTAssertLessThan(relativeError(fast.values, exact.values), 2e-5, "\(kernel) \(inC)→\(outC) \(frames)×\(bins)")
        }
        }
    }
}
