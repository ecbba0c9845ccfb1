import COpenBLAS
import Foundation

/// The convolution kernels of the ResUNet, on OpenBLAS's sgemm. Weights are PyTorch's layouts:
/// Conv2d `[out][in][kt][kf]`, ConvTranspose2d `[in][out][kt][kf]`.
public enum Convolution {
    /// Sets the threads OpenBLAS uses for every product (openblas_set_num_threads).
    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }

    /// Largest im2col tile, in floats (8 MB): big enough for sgemm to run at full speed,
    /// small enough that the buffer never grows with the chunk length.
    static let tileFloats = 2 << 20

    /// 3×3 convolution, stride 1, zero padding 1, no bias (im2col in row tiles + sgemm).
    /// `weights` is `[out][in][3][3]`.
    public static func conv3x3(_ input: FeatureMap, weights: [Float], outChannels: Int,
                               scratch: inout [Float]) -> FeatureMap {
        let inChannels = input.channels, frames = input.frames, bins = input.bins
        precondition(weights.count == outChannels * inChannels * 9)
        var output = FeatureMap(channels: outChannels, frames: frames, bins: bins)
        let depth = inChannels * 9
        let rowsPerTile = max(1, min(frames, tileFloats / max(1, depth * bins)))
        if scratch.count < depth * rowsPerTile * bins { scratch = [Float](repeating: 0, count: depth * rowsPerTile * bins) }
        input.values.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                scratch.withUnsafeMutableBufferPointer { cols in
                    output.values.withUnsafeMutableBufferPointer { y in
                        var first = 0
                        while first < frames {
                            let rows = min(rowsPerTile, frames - first)
                            let width = rows * bins
                            for channel in 0..<inChannels {
                                let plane = x.baseAddress! + channel * frames * bins
                                for dt in 0..<3 {
                                    for df in 0..<3 {
                                        let row = cols.baseAddress! + ((channel * 3 + dt) * 3 + df) * width
                                        for local in 0..<rows {
                                            let target = row + local * bins
                                            let sourceFrame = first + local + dt - 1
                                            guard sourceFrame >= 0, sourceFrame < frames else {
                                                target.update(repeating: 0, count: bins)
                                                continue
                                            }
                                            let source = plane + sourceFrame * bins
                                            // Column f reads source bin f + df − 1, zero outside.
                                            switch df {
                                            case 0:
                                                target[0] = 0
                                                (target + 1).update(from: source, count: bins - 1)
                                            case 1:
                                                target.update(from: source, count: bins)
                                            default:
                                                target.update(from: source + 1, count: bins - 1)
                                                target[bins - 1] = 0
                                            }
                                        }
                                    }
                                }
                            }
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                        Int32(outChannels), Int32(width), Int32(depth),
                                        1, w.baseAddress, Int32(depth), cols.baseAddress, Int32(width),
                                        0, y.baseAddress! + first * bins, Int32(frames * bins))
                            first += rows
                        }
                    }
                }
            }
        }
        return output
    }

    /// 1×1 convolution with optional bias: one sgemm. `weights` is `[out][in]`.
    public static func conv1x1(_ input: FeatureMap, weights: [Float], bias: [Float]?, outChannels: Int) -> FeatureMap {
        let plane = input.planeSize
        precondition(weights.count == outChannels * input.channels)
        var output = FeatureMap(channels: outChannels, frames: input.frames, bins: input.bins)
        if let bias {
            for channel in 0..<outChannels {
                output.values.withUnsafeMutableBufferPointer { ($0.baseAddress! + channel * plane).update(repeating: bias[channel], count: plane) }
            }
        }
        input.values.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                output.values.withUnsafeMutableBufferPointer { y in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(plane),
                                Int32(input.channels), 1, w.baseAddress, Int32(input.channels),
                                x.baseAddress, Int32(plane), bias == nil ? 0 : 1, y.baseAddress, Int32(plane))
                }
            }
        }
        return output
    }

    /// Transposed convolution whose kernel equals its stride (no overlap, no bias): each input
    /// pixel becomes one kt×kf output patch. `weights` is `[in][out][kt][kf]`. The result is
    /// written into `destination` starting at channel `channelOffset` (so it can land straight
    /// in a concatenation buffer).
    public static func convTransposeStrided(_ input: FeatureMap, weights: [Float], outChannels: Int,
                                            kernelFrames kt: Int, kernelBins kf: Int,
                                            into destination: inout FeatureMap, channelOffset: Int,
                                            scratch: inout [Float]) {
        let plane = input.planeSize
        let patch = kt * kf
        precondition(weights.count == input.channels * outChannels * patch)
        precondition(destination.frames == input.frames * kt && destination.bins == input.bins * kf)
        precondition(channelOffset + outChannels <= destination.channels)
        // Y[(out, i, j)][pixel] = Σ_in W[in][(out, i, j)] · X[in][pixel]: one sgemm with Wᵀ.
        let rows = outChannels * patch
        if scratch.count < rows * plane { scratch = [Float](repeating: 0, count: rows * plane) }
        input.values.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                scratch.withUnsafeMutableBufferPointer { y in
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(plane), Int32(input.channels),
                                1, w.baseAddress, Int32(rows), x.baseAddress, Int32(plane), 0, y.baseAddress, Int32(plane))
                }
            }
        }
        let frames = input.frames, bins = input.bins, outBins = destination.bins, outPlane = destination.planeSize
        scratch.withUnsafeBufferPointer { y in
            destination.values.withUnsafeMutableBufferPointer { out in
                for channel in 0..<outChannels {
                    let target = out.baseAddress! + (channelOffset + channel) * outPlane
                    for i in 0..<kt {
                        for j in 0..<kf {
                            let source = y.baseAddress! + ((channel * kt + i) * kf + j) * plane
                            for frame in 0..<frames {
                                let row = target + (frame * kt + i) * outBins + j
                                let from = source + frame * bins
                                for bin in 0..<bins { row[bin * kf] = from[bin] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// y = leakyReLU(scale[c]·x + offset[c]) in place: a BatchNorm folded with a FiLM β.
    public static func affineLeakyReLU(_ map: inout FeatureMap, scale: [Float], offset: [Float], slope: Float = 0.01) {
        let plane = map.planeSize
        map.values.withUnsafeMutableBufferPointer { values in
            for channel in 0..<map.channels {
                let a = scale[channel], b = offset[channel]
                let base = values.baseAddress! + channel * plane
                for index in 0..<plane {
                    let v = a * base[index] + b
                    base[index] = v >= 0 ? v : v * slope
                }
            }
        }
    }

    /// Average pooling with kernel = stride (kt, kf); trailing rows/columns that do not fill a
    /// kernel are dropped, as PyTorch's avg_pool2d does.
    public static func averagePool(_ input: FeatureMap, frames kt: Int, bins kf: Int) -> FeatureMap {
        let frames = input.frames / kt, bins = input.bins / kf
        var output = FeatureMap(channels: input.channels, frames: frames, bins: bins)
        let scale = 1 / Float(kt * kf)
        input.values.withUnsafeBufferPointer { x in
            output.values.withUnsafeMutableBufferPointer { y in
                for channel in 0..<input.channels {
                    let source = x.baseAddress! + channel * input.planeSize
                    let target = y.baseAddress! + channel * frames * bins
                    for frame in 0..<frames {
                        for bin in 0..<bins {
                            var sum: Float = 0
                            for i in 0..<kt {
                                let row = source + (frame * kt + i) * input.bins + bin * kf
                                for j in 0..<kf { sum += row[j] }
                            }
                            target[frame * bins + bin] = sum * scale
                        }
                    }
                }
            }
        }
        return output
    }
}
