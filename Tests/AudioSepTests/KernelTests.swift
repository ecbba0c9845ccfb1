import AudioSep
import Foundation
import Spectrum
import XCTest

/// Second implementations check the fast ones: a naive DFT against FFTW, direct loops against
/// im2col + sgemm.
final class KernelTests: XCTestCase {
    func testSTFTMatchesANaiveDFTWithReflectPadding() {
        let stft = STFT(fftSize: 64, hopSize: 10)
        let signal = random(203, seed: 1)
        let (real, imag) = stft.forward(signal)
        let frames = stft.frameCount(samples: signal.count)
        XCTAssertEqual(frames, 21)
        XCTAssertEqual(real.count, frames * 33)
        for frame in [0, 1, 10, 20] {
            for k in [0, 1, 5, 32] {
                var re = 0.0, im = 0.0
                for n in 0..<64 {
                    var index = frame * 10 - 32 + n
                    if index < 0 { index = -index }
                    if index >= signal.count { index = 2 * (signal.count - 1) - index }
                    let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(n) / 64)
                    let angle = -2 * Double.pi * Double(k * n) / 64
                    re += Double(signal[index]) * w * cos(angle)
                    im += Double(signal[index]) * w * sin(angle)
                }
                XCTAssertEqual(Double(real[frame * 33 + k]), re, accuracy: 1e-4, "frame \(frame) bin \(k)")
                XCTAssertEqual(Double(imag[frame * 33 + k]), im, accuracy: 1e-4, "frame \(frame) bin \(k)")
            }
        }
    }

    func testInverseSTFTReconstructsTheSignal() {
        for (fft, hop, length) in [(2048, 320, 41_617), (64, 16, 1000), (2048, 320, 1025)] {
            let stft = STFT(fftSize: fft, hopSize: hop)
            let signal = random(length, seed: UInt64(length))
            let (real, imag) = stft.forward(signal)
            let back = stft.inverse(real: real, imag: imag, frames: stft.frameCount(samples: length), length: length)
            XCTAssertEqual(back.count, length)
            XCTAssertLessThan(maxError(back, signal), 1e-5, "fft \(fft) hop \(hop) length \(length)")
        }
    }

    func testConv3x3MatchesDirectConvolution() {
        for (inC, outC, frames, bins) in [(1, 1, 1, 1), (3, 5, 7, 9), (8, 4, 33, 16), (2, 3, 40, 2), (4, 3, 64, 1100), (2, 40, 5, 7)] {
            let x = FeatureMap(channels: inC, frames: frames, bins: bins, values: random(inC * frames * bins, seed: 2))
            let w = random(outC * inC * 9, seed: 3)
            let y = Convolution.conv3x3(x, weights: w, outChannels: outC, workspace: Workspace(threads: 2))
            XCTAssertEqual(y.channels, outC)
            // Relative to the outputs' size: sums of 72 products reach ~5, and the order of the fp32
            // additions (OpenBLAS picks its kernel by CPU) moves the last bits of such sums.
            let reference = naiveConv3x3(x, w, out: outC)
            let scale = max(1, reference.map(abs).max() ?? 0)
            XCTAssertLessThan(maxError(y.values, reference) / scale, 1e-5, "\(inC)→\(outC) \(frames)×\(bins)")
        }
    }

    /// The fused form: activate, concatenate, convolve — against doing each step separately.
    func testConvolutionOfActivatedConcatenationMatchesTheSteps() {
        let workspace = Workspace(threads: 2)
        let a = FeatureMap(channels: 3, frames: 9, bins: 11, values: random(3 * 99, seed: 11))
        let b = FeatureMap(channels: 2, frames: 9, bins: 11, values: random(2 * 99, seed: 12))
        let scale = random(5, seed: 13), offset = random(5, seed: 14)
        let w = random(4 * 5 * 9, seed: 15)
        let fused = Convolution.conv3x3([a, b], activation: .init(scale: scale, offset: offset), weights: w,
                                        outChannels: 4, workspace: workspace)
        let joined = FeatureMap(channels: 5, frames: 9, bins: 11, values: a.values + b.values)
        let activated = Convolution.affineLeakyReLU(joined, scale: scale, offset: offset, workspace: workspace)
        XCTAssertLessThan(maxError(fused.values, naiveConv3x3(activated, w, out: 4)), 1e-5)
        // 1x1 over the concatenation, accumulated onto an existing map.
        let target = FeatureMap(channels: 4, frames: 9, bins: 11, values: random(4 * 99, seed: 16))
        let before = target.values
        let w1 = random(4 * 5, seed: 17), bias = random(4, seed: 18)
        Convolution.conv1x1([a, b], weights: w1, bias: bias, outChannels: 4, accumulatingInto: target, workspace: workspace)
        let separate = Convolution.conv1x1(joined, weights: w1, bias: bias, outChannels: 4, workspace: workspace).values
        XCTAssertLessThan(maxError(target.values, zip(before, separate).map(+)), 1e-5)
    }

    func testConv1x1AndTransposedConvolutionMatchTheirDefinitions() {
        let x = FeatureMap(channels: 3, frames: 4, bins: 5, values: random(60, seed: 4))
        let w = random(2 * 3, seed: 5), bias: [Float] = [0.5, -1]
        let y = Convolution.conv1x1(x, weights: w, bias: bias, outChannels: 2, workspace: Workspace(threads: 2))
        let yValues = y.values, xValues = x.values
        for o in 0..<2 {
            for p in 0..<20 {
                let expected = bias[o] + (0..<3).reduce(Float(0)) { $0 + w[o * 3 + $1] * xValues[$1 * 20 + p] }
                XCTAssertEqual(yValues[o * 20 + p], expected, accuracy: 1e-5)
            }
        }
        // ConvTranspose2d, kernel = stride = (2, 3), weights [in][out][kt][kf], written at channel offset 1 of 4.
        let wt = random(3 * 2 * 6, seed: 6)
        let destination = FeatureMap(channels: 4, frames: 8, bins: 15)
        Convolution.convTransposeStrided(x, weights: wt, outChannels: 2, kernelFrames: 2, kernelBins: 3,
                                         into: destination, channelOffset: 1, workspace: Workspace(threads: 2))
        let written = destination.values
        for o in 0..<2 {
            for t in 0..<8 {
                for f in 0..<15 {
                    var expected: Float = 0
                    for i in 0..<3 { expected += wt[((i * 2 + o) * 2 + t % 2) * 3 + f % 3] * xValues[(i * 4 + t / 2) * 5 + f / 3] }
                    XCTAssertEqual(written[((1 + o) * 8 + t) * 15 + f], expected, accuracy: 1e-5)
                }
            }
        }
        XCTAssertTrue(written[0..<120].allSatisfy { $0 == 0 } && written[360...].allSatisfy { $0 == 0 },
                      "other channels untouched")
        // With the activation fused: the same as activating first (in bands of frames, on both threads).
        let scale = signed(3, seed: 7), offset = signed(3, seed: 8)
        let fused = FeatureMap(channels: 2, frames: 8, bins: 15), separate = FeatureMap(channels: 2, frames: 8, bins: 15)
        Convolution.convTransposeStrided(x, activation: .init(scale: scale, offset: offset), weights: wt, outChannels: 2,
                                         kernelFrames: 2, kernelBins: 3, into: fused, channelOffset: 0, workspace: Workspace(threads: 2))
        Convolution.convTransposeStrided(Convolution.affineLeakyReLU(x, scale: scale, offset: offset, workspace: Workspace(threads: 1)),
                                         weights: wt, outChannels: 2, kernelFrames: 2, kernelBins: 3, into: separate,
                                         channelOffset: 0, workspace: Workspace(threads: 1))
        XCTAssertLessThan(maxError(fused.values, separate.values), 1e-6)
        XCTAssertGreaterThan(fused.values.map(abs).max() ?? 0, 0.1)
    }

    func testPoolingAndFoldedActivation() {
        let x = FeatureMap(channels: 1, frames: 3, bins: 4, values: (0..<12).map(Float.init))
        let pooled = Convolution.averagePool(x, frames: 2, bins: 2, workspace: Workspace(threads: 2))
        XCTAssertEqual(pooled.frames, 1)
        XCTAssertEqual(pooled.values, [2.5, 4.5], "the odd last frame is dropped")
        let map = FeatureMap(channels: 2, frames: 1, bins: 2, values: [1, -1, 1, -1])
        let workspace = Workspace(threads: 2)
        let activated = Convolution.affineLeakyReLU(map, scale: [2, 1], offset: [0, 3], workspace: workspace)
        XCTAssertEqual(activated.values, [2, -0.02, 4, 2])
        Convolution.add(map, to: activated, workspace: workspace)
        XCTAssertEqual(activated.values, [3, -1.02, 5, 1])
    }
}
