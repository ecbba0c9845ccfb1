import COpenBLAS
import Foundation

/// The convolution kernels of the ResUNet, on OpenBLAS's sgemm, tiled over the workspace's
/// threads. Weights are PyTorch's layouts: Conv2d `[out][in][kt][kf]`, ConvTranspose2d
/// `[in][out][kt][kf]`.
public enum Convolution {
    /// Largest im2col tile per thread, in floats (8 MB): big enough for sgemm to run at speed,
    /// small enough that the buffers never grow with the chunk length.
    static let tileFloats = 2 << 20

    /// A BatchNorm folded with a FiLM β and followed by leaky ReLU: y = leaky(scale[c]·x + offset[c]).
    public struct Activation {
        public let scale: [Float]
        public let offset: [Float]
        public let slope: Float
        /// Upstream's slope (LeakyReLU's `negative_slope`).
        public static let leakySlope: Float = 0.01

        public init(scale: [Float], offset: [Float], slope: Float = leakySlope) {
            precondition(slope >= 0 && slope <= 1, "leaky ReLU slope \(slope) outside [0, 1]")
            self.scale = scale
            self.offset = offset
            self.slope = slope
        }
    }

    /// 3×3 convolution, stride 1, zero padding 1, no bias, of the channel concatenation of
    /// `inputs`, optionally activated first: im2col in row tiles + sgemm, each tile on one thread.
    /// The activation is applied while the tile is gathered, so neither the activated map nor the
    /// concatenation is ever stored (padding stays zero, as PyTorch pads the activated map).
    /// `weights` is `[out][in][3][3]`.
    /// With `bf16` (the same weights as `[out][in·9]`, rounded), the products run in bf16.
    public static func conv3x3(_ inputs: [FeatureMap], activation: Activation? = nil, weights: [Float],
                               bf16: BFloat16Weights? = nil, outChannels: Int,
                               into destination: FeatureMap? = nil, workspace: Workspace) -> FeatureMap {
        let frames = inputs[0].frames, bins = inputs[0].bins, plane = frames * bins
        precondition(inputs.allSatisfy { $0.frames == frames && $0.bins == bins })
        let planes = FeatureMap.planes(of: inputs)
        let inChannels = planes.count
        precondition(weights.count == outChannels * inChannels * 9)
        if let activation { precondition(activation.scale.count == inChannels && activation.offset.count == inChannels) }
        let output = destination ?? FeatureMap(uninitializedChannels: outChannels, frames: frames, bins: bins, workspace: workspace)
        precondition(output.channels == outChannels && output.frames == frames && output.bins == bins)
        let depth = inChannels * 9
        let fitting = max(1, tileFloats / max(1, depth * bins))
        let rowsPerTile = max(1, min(fitting, (frames + workspace.threads - 1) / workspace.threads))
        let tiles = (frames + rowsPerTile - 1) / rowsPerTile
        let yBase = output.storage.pointer
        weights.withUnsafeBufferPointer { w in
            let wBase = w.baseAddress!
            workspace.parallel(tiles) { worker, tile in
                let first = tile * rowsPerTile
                let rows = min(rowsPerTile, frames - first)
                let width = rows * bins
                let cols = workspace.buffer(worker, floats: depth * rowsPerTile * bins)
                let stage = activation == nil ? nil : workspace.buffer(worker, floats: (rowsPerTile + 2) * bins, slot: 1)
                im2col3x3(planes, activation: activation, stage: stage, frames: frames, bins: bins,
                          firstFrame: first, rows: rows, into: cols)
                if let bf16 {
                    BFloat16GEMM.gemm(weights: bf16, b: cols, ldb: width, columns: width, c: yBase + first * bins, ldc: plane,
                                      accumulate: false, scratch: workspace.bfloat16Scratch(worker))
                    return
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                            Int32(outChannels), Int32(width), Int32(depth),
                            1, wBase, Int32(depth), cols, Int32(width),
                            0, yBase + first * bins, Int32(plane))
            }
        }
        return output
    }

    /// 3×3 convolution of one map (see the general form).
    public static func conv3x3(_ input: FeatureMap, weights: [Float], outChannels: Int, workspace: Workspace) -> FeatureMap {
        conv3x3([input], weights: weights, outChannels: outChannels, workspace: workspace)
    }

    /// Rows `(channel, dt, df)` of the im2col matrix for output frames `firstFrame ..< firstFrame + rows`.
    /// With an activation, each channel's source rows (plus the halo) are activated into `stage` first.
    @inline(__always)
    static func im2col3x3(_ planes: [UnsafePointer<Float>], activation: Activation?, stage: UnsafeMutablePointer<Float>?,
                          frames: Int, bins: Int, firstFrame: Int, rows: Int, into cols: UnsafeMutablePointer<Float>) {
        let width = rows * bins
        let low = max(0, firstFrame - 1), high = min(frames, firstFrame + rows + 1)
        for (channel, plane) in planes.enumerated() {
            var source: UnsafePointer<Float> = plane   // source(frame) = source + frame * bins
            if let activation, let stage {
                let a = activation.scale[channel], b = activation.offset[channel], slope = activation.slope
                for frame in low..<high {
                    let from = plane + frame * bins, to = stage + (frame - low) * bins
                    for bin in 0..<bins {
                        let v = a * from[bin] + b
                        to[bin] = max(v, v * slope)   // leaky ReLU for 0 ≤ slope ≤ 1, without a branch
                    }
                }
                source = UnsafePointer(stage - low * bins)
            }
            for dt in 0..<3 {
                for df in 0..<3 {
                    let row = cols + ((channel * 3 + dt) * 3 + df) * width
                    for local in 0..<rows {
                        let target = row + local * bins
                        let sourceFrame = firstFrame + local + dt - 1
                        guard sourceFrame >= 0, sourceFrame < frames else {
                            target.update(repeating: 0, count: bins)
                            continue
                        }
                        let from = source + sourceFrame * bins
                        // Column f reads source bin f + df − 1, zero outside.
                        switch df {
                        case 0:
                            target[0] = 0
                            (target + 1).update(from: from, count: bins - 1)
                        case 1:
                            target.update(from: from, count: bins)
                        default:
                            target.update(from: from + 1, count: bins - 1)
                            target[bins - 1] = 0
                        }
                    }
                }
            }
        }
    }

    /// 1×1 convolution with optional bias: one sgemm, its columns split over the threads.
    /// `weights` is `[out][in]`.
    public static func conv1x1(_ input: FeatureMap, weights: [Float], bias: [Float]?, outChannels: Int,
                               into destination: FeatureMap? = nil, workspace: Workspace) -> FeatureMap {
        let plane = input.planeSize
        precondition(weights.count == outChannels * input.channels)
        let output = destination ?? FeatureMap(uninitializedChannels: outChannels, frames: input.frames, bins: input.bins, workspace: workspace)
        precondition(output.channels == outChannels && output.planeSize == plane)
        if input.channels == 1 {
            // One input channel (pre_conv): y[c] = w[c]·x + b[c] in one pass over the output, a
            // block of x (16 KB, in L1) at a time for every channel. sgemm with a depth of 1 wrote
            // the map three times (the bias, then read and written again) at 4 GB/s.
            let block = 4096
            let xBase = UnsafePointer(input.storage.pointer), yBase = output.storage.pointer
            workspace.parallel((plane + block - 1) / block) { _, index in
                let start = index * block
                oneChannel(xBase + start, count: min(block, plane - start), weights: weights, bias: bias,
                           into: yBase + start, plane: plane)
            }
            return output
        }
        output.withUnsafeMutableBufferPointer { y in
            let yBase = y.baseAddress!
            if let bias {
                workspace.parallel(outChannels) { _, channel in
                    (yBase + channel * plane).update(repeating: bias[channel], count: plane)
                }
            }
            input.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { w in
                    let wBase = w.baseAddress!, xBase = x.baseAddress!
                    workspace.parallelRanges(plane, minimum: 2048) { range in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(range.count), Int32(input.channels),
                                    1, wBase, Int32(input.channels), xBase + range.lowerBound, Int32(plane),
                                    bias == nil ? 0 : 1, yBase + range.lowerBound, Int32(plane))
                    }
                }
            }
        }
        return output
    }

    /// A 1×1 convolution of one input channel over `count` values from `x`: plane c of `into`
    /// (`plane` floats apart) gets weights[c]·x + bias[c]. pre_conv, whole or band by band.
    @inline(__always)
    static func oneChannel(_ x: UnsafePointer<Float>, count: Int, weights: [Float], bias: [Float]?,
                           into planes: UnsafeMutablePointer<Float>, plane: Int) {
        for channel in weights.indices {
            let scale = weights[channel], shift = bias?[channel] ?? 0, row = planes + channel * plane
            for pixel in 0..<count { row[pixel] = scale * x[pixel] + shift }
        }
    }

    /// Columns of one tile of the accumulating 1×1 convolution: the output tile stays in cache
    /// while the bias and every input's product are added to it.
    static let shortcutTileColumns = 4096

    /// `output += W · cat(inputs) + bias`: a 1×1 convolution of the channel concatenation of
    /// `inputs` added straight onto an existing map (the residual shortcut), with no map of its
    /// own. Column tiles are spread over the threads; in each, the bias and then one sgemm per
    /// input (over its block of W's columns) are added while the tile is in cache.
    /// `weights` is `[out][in]`.
    public static func conv1x1(_ inputs: [FeatureMap], weights: [Float], bias: [Float], outChannels: Int,
                               accumulatingInto output: FeatureMap, workspace: Workspace) {
        let plane = output.planeSize
        let inChannels = inputs.reduce(0) { $0 + $1.channels }
        precondition(weights.count == outChannels * inChannels && output.channels == outChannels)
        precondition(inputs.allSatisfy { $0.planeSize == plane })
        let yBase = output.storage.pointer
        let sources = inputs.map { (pointer: UnsafePointer($0.storage.pointer), channels: $0.channels) }
        let tiles = (plane + shortcutTileColumns - 1) / shortcutTileColumns
        weights.withUnsafeBufferPointer { w in
            let wBase = w.baseAddress!
            workspace.parallel(tiles) { _, tile in
                let start = tile * shortcutTileColumns, width = min(shortcutTileColumns, plane - start)
                for channel in 0..<outChannels {
                    let row = yBase + channel * plane + start, b = bias[channel]
                    for index in 0..<width { row[index] += b }
                }
                var offset = 0
                for source in sources {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(width), Int32(source.channels),
                                1, wBase + offset, Int32(inChannels), source.pointer + start, Int32(plane),
                                1, yBase + start, Int32(plane))
                    offset += source.channels
                }
            }
        }
    }

    /// Pixels of one band of the transposed convolution: its activated input and its products
    /// (out·kt·kf rows) stay in cache between the sgemm and the scatter.
    static let bandPixels = 8192

    /// Transposed convolution whose kernel equals its stride (no overlap, no bias) of the input
    /// activated first when `activation` is given: each input pixel becomes one kt×kf output
    /// patch. `weights` is `[in][out][kt][kf]`. The result is written into `destination` from
    /// channel `channelOffset` on. Done in bands of input frames, each on one thread: the band is
    /// activated into a buffer, multiplied (Y[(out, i, j)][pixel] = Σ_in W[in][(out, i, j)]·X[in][pixel],
    /// one sgemm with Wᵀ) and scattered, so neither the activated map nor the products are stored.
    public static func convTransposeStrided(_ input: FeatureMap, activation: Activation? = nil, weights: [Float], outChannels: Int,
                                            kernelFrames kt: Int, kernelBins kf: Int,
                                            into destination: FeatureMap, channelOffset: Int, workspace: Workspace) {
        let plane = input.planeSize, inChannels = input.channels
        let patch = kt * kf, rows = outChannels * patch
        precondition(weights.count == inChannels * outChannels * patch)
        precondition(destination.frames == input.frames * kt && destination.bins == input.bins * kf)
        precondition(channelOffset + outChannels <= destination.channels)
        if let activation { precondition(activation.scale.count == inChannels && activation.offset.count == inChannels) }
        let frames = input.frames, bins = input.bins, outBins = destination.bins, outPlane = destination.planeSize
        let framesPerBand = max(1, min(bandPixels / max(1, bins), (frames + workspace.threads - 1) / workspace.threads))
        let bands = (frames + framesPerBand - 1) / framesPerBand
        let xBase = UnsafePointer(input.storage.pointer), outBase = destination.storage.pointer
        weights.withUnsafeBufferPointer { w in
            let wBase = w.baseAddress!
            workspace.parallel(bands) { worker, band in
                let first = band * framesPerBand, count = min(framesPerBand, frames - first), width = count * bins
                let x = workspace.buffer(worker, floats: inChannels * framesPerBand * bins)
                let products = workspace.buffer(worker, floats: rows * framesPerBand * bins, slot: 1)
                for channel in 0..<inChannels {
                    let source = xBase + channel * plane + first * bins, target = x + channel * width
                    if let activation {
                        let a = activation.scale[channel], b = activation.offset[channel], slope = activation.slope
                        for index in 0..<width {
                            let v = a * source[index] + b
                            target[index] = max(v, v * slope)
                        }
                    } else {
                        target.update(from: source, count: width)
                    }
                }
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(width), Int32(inChannels),
                            1, wBase, Int32(rows), x, Int32(width), 0, products, Int32(width))
                for channel in 0..<outChannels {
                    let target = outBase + (channelOffset + channel) * outPlane
                    for i in 0..<kt {
                        let sources = products + (channel * kt + i) * kf * width   // kf rows, one per j
                        for local in 0..<count {
                            let row = target + ((first + local) * kt + i) * outBins
                            let from = sources + local * bins
                            if kf == 2 {
                                let second = from + width
                                for bin in 0..<bins {
                                    row[2 &* bin] = from[bin]
                                    row[2 &* bin &+ 1] = second[bin]
                                }
                            } else {
                                for j in 0..<kf {
                                    let column = from + j * width
                                    for bin in 0..<bins { row[bin &* kf &+ j] = column[bin] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// leakyReLU(scale[c]·x + offset[c]) into a new map: a BatchNorm folded with a FiLM β.
    public static func affineLeakyReLU(_ input: FeatureMap, scale: [Float], offset: [Float], slope: Float = 0.01,
                                       into destination: FeatureMap? = nil, workspace: Workspace) -> FeatureMap {
        let plane = input.planeSize
        let output = destination ?? FeatureMap(uninitializedChannels: input.channels, frames: input.frames, bins: input.bins, workspace: workspace)
        precondition(output.count == input.count)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let xBase = x.baseAddress!, yBase = y.baseAddress!
                workspace.parallel(input.channels) { _, channel in
                    let a = scale[channel], b = offset[channel]
                    let source = xBase + channel * plane, target = yBase + channel * plane
                    for index in 0..<plane {
                        let v = a * source[index] + b
                        target[index] = max(v, v * slope)
                    }
                }
            }
        }
        return output
    }

    /// `map += other`, elementwise (the residual connection).
    public static func add(_ other: FeatureMap, to map: FeatureMap, workspace: Workspace) {
        precondition(other.count == map.count)
        other.withUnsafeBufferPointer { source in
            map.withUnsafeMutableBufferPointer { target in
                let s = source.baseAddress!, t = target.baseAddress!
                workspace.parallelRanges(target.count) { range in
                    for index in range { t[index] += s[index] }
                }
            }
        }
    }

    /// Average pooling with kernel = stride (kt, kf); trailing rows/columns that do not fill a
    /// kernel are dropped, as PyTorch's avg_pool2d does.
    public static func averagePool(_ input: FeatureMap, frames kt: Int, bins kf: Int, into destination: FeatureMap? = nil,
                                   workspace: Workspace) -> FeatureMap {
        let frames = input.frames / kt, bins = input.bins / kf
        let output = destination ?? FeatureMap(uninitializedChannels: input.channels, frames: frames, bins: bins, workspace: workspace)
        precondition(output.channels == input.channels && output.frames == frames && output.bins == bins)
        let scale = 1 / Float(kt * kf)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let xBase = x.baseAddress!, yBase = y.baseAddress!
                workspace.parallel(input.channels) { _, channel in
                    let source = xBase + channel * input.planeSize
                    let target = yBase + channel * frames * bins
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
