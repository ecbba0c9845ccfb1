import CKernels
import COpenBLAS
import Foundation

/// Levels 0 to 2 in row bands: fusion across layers, not only within each. At 10 s windows a
/// level-0 map is 128 MB, four times the last-level cache (level 1's 64, level 2's 32); run
/// layer after layer, each map is written to memory whole and read back by the next layer, and
/// a ResNet block reads its input a second time for the residual. Here each thread takes a
/// contiguous run of tile rows (four frames each) and walks it `bandTileRows` at a time. For
/// each band of conv2's output:
///
/// - the block's inputs that are made at this level are made for the frames the band needs
///   (encoder 1: pre_conv from bn0's one channel; a decoder: the upsampling of the map one
///   level down, whose frames the next band shares are moved to the front, not made again);
/// - conv1 fills the band's hidden rows (one tile row beyond at each side; the two tile rows it
///   shares with the next band are moved, not recomputed);
/// - conv2 turns them into the block's output and, with the input rows conv1 just read,
///   its residual: straight into the whole output (an encoder's skip and its pool, a decoder's
///   output), or, for decoder 6, into a band that after_conv turns into the mask logits at once.
///
/// Only maps that outlive their block are whole: the skips, the pools, decoders 4 and 5's
/// outputs and the logits. Where two threads' runs meet, two tile rows are computed by both.
/// Results equal the layer-by-layer ones exactly: every value is computed from the same values
/// by the same code.
enum RowBands {
    /// Conv2 tile rows a band covers: with its neighbours, a band of a 32-channel map is 3 MB,
    /// and a thread's bands and the input rows under them stay inside the 32 MB last-level cache
    /// with both threads at work.
    static let bandTileRows = 4

    /// One input of the banded block: a whole map, or one made band by band.
    enum Source {
        case map(FeatureMap)
        /// A 1×1 convolution of one channel (pre_conv): `weights[c]·x + bias[c]`.
        case pointwise(FeatureMap, weights: [Float], bias: [Float])
        /// The decoder's upsampling of a map one level down, activated first.
        case upsample(UpsampleLayer, input: FeatureMap, activation: Convolution.Activation)

        var channels: Int {
            switch self {
            case .map(let map): map.channels
            case .pointwise(_, let weights, _): weights.count
            case .upsample(let layer, _, _): layer.outChannels
            }
        }
    }

    /// Where the block's output goes: a whole map (and its 2 × 2 pool), or through a 1×1
    /// convolution with bias (after_conv) into a whole map of its own.
    enum Sink {
        case map(FeatureMap, pooled: FeatureMap?)
        case pointwise(weights: [Float], bias: [Float], into: FeatureMap)
    }

    /// Frames the band of a made input holds at most: conv2's tile rows plus one tile row and
    /// one frame beyond them at each side, plus one for the upsampling's pairs of frames.
    static var heldFrames: Int { 4 * bandTileRows + 12 }
    /// Frames the hidden band holds: conv2's tile rows and one beyond at each side.
    static var hiddenFrames: Int { 4 * bandTileRows + 8 }
    /// Frames the output's band holds (only for a pointwise sink): conv2's tile rows.
    static var outputFrames: Int { 4 * bandTileRows }
}

extension ResidualBlock {
    /// Whether `forwardInBands` runs this block: both convolutions on a fused Winograd kernel.
    var runsInBands: Bool { fusesResidual && conv1.addsResidual }

    /// The block on the channel concatenation of `sources`, as `forward` computes it, in row
    /// bands (see `RowBands`). `frames` × `bins` is the level's size.
    func forwardInBands(_ sources: [RowBands.Source], frames: Int, bins: Int, offsets: ([Float], [Float]), sink: RowBands.Sink,
                        streamingBytes: Int = Winograd.streamingBytes, workspace: Workspace) {
        precondition(runsInBands)
        guard let build = conv1.kernel.fused, let first = conv1.winograd?.packed, let second = conv2.winograd?.packed else {
            preconditionFailure("row bands need both convolutions on a fused kernel")
        }
        precondition(sources.reduce(0) { $0 + $1.channels } == inChannels)
        for source in sources {
            switch source {
            case .map(let map): precondition(map.frames == frames && map.bins == bins)
            case .pointwise(let map, let weights, let bias):
                precondition(map.channels == 1 && map.frames == frames && map.bins == bins && weights.count == bias.count)
            case .upsample(let layer, let input, _):
                precondition(layer.build != nil && layer.kernelFrames == 2 && input.frames * 2 == frames
                             && input.bins * layer.kernelBins == bins)
            }
        }
        var streaming: Int32 = 0
        switch sink {
        case .map(let output, let pooled):
            precondition(output.channels == outChannels && output.frames == frames && output.bins == bins)
            if let pooled { precondition(pooled.channels == outChannels && pooled.frames == frames / 2 && pooled.bins == bins / 2) }
            streaming = outChannels * frames * bins * MemoryLayout<Float>.stride >= streamingBytes ? 1 : 0
        case .pointwise(let weights, let bias, let output):
            precondition(weights.count == output.channels * outChannels && bias.count == output.channels)
            precondition(output.frames == frames && output.bins == bins)
        }
        let tileColumns = (bins + 3) / 4, tileRows = (frames + 3) / 4
        let blockTiles = ck_winograd_block_tiles()
        let step = RowBands.bandTileRows, held = RowBands.heldFrames, bandPlane = held * bins
        let hiddenPlane = RowBands.hiddenFrames * bins, outputPlane = RowBands.outputFrames * bins
        let madeChannels = sources.reduce(0) { if case .map = $1 { $0 } else { $0 + $1.channels } }
        let residualChannels = packedShortcut == nil ? 0 : inChannels
        let upsampleScratch = sources.reduce(0) { if case .upsample(let layer, _, _) = $1 { max($0, ck_upsample_scratch_floats(layer.inChannels)) } else { $0 } }
        let scratchFloats = max(ck_winograd_scratch_floats(inChannels, 0), ck_winograd_scratch_floats(outChannels, residualChannels),
                                upsampleScratch)
        let bias = packedShortcut?.bias ?? []
        let workers = min(workspace.threads, tileRows)
        // The first input channel of each source.
        let firstChannel = sources.indices.map { index in sources[..<index].reduce(0) { $0 + $1.channels } }

        bn1.scale.withUnsafeBufferPointer { scale1 in
            offsets.0.withUnsafeBufferPointer { offset1 in
                bn2.scale.withUnsafeBufferPointer { scale2 in
                    offsets.1.withUnsafeBufferPointer { offset2 in
                        bias.withUnsafeBufferPointer { bias in
                            workspace.parallel(workers) { worker, part in
                                let outputFloats: Int
                                if case .pointwise = sink { outputFloats = outChannels * outputPlane } else { outputFloats = 0 }
                                let bands = workspace.buffer(worker, floats: outChannels * hiddenPlane + madeChannels * bandPlane + outputFloats,
                                                             slot: 3)
                                let hidden = bands, made = bands + outChannels * hiddenPlane, out = made + madeChannels * bandPlane
                                let scratch = workspace.buffer(worker, floats: scratchFloats)
                                // The block's input planes as conv1 and the residual read them, and the frame each one's row 0 holds.
                                var inputPlanes: [UnsafePointer<Float>?] = []
                                var madeAt: [Int?] = []   // per source: its first plane in `made`, or nil for a whole map
                                var next = 0
                                for source in sources {
                                    if case .map(let map) = source {
                                        inputPlanes += FeatureMap.planes(of: [map]).map { $0 }
                                        madeAt.append(nil)
                                    } else {
                                        inputPlanes += (0..<source.channels).map { UnsafePointer(made + (next + $0) * bandPlane) }
                                        madeAt.append(next)
                                        next += source.channels
                                    }
                                }
                                var inputOrigins = [Int](repeating: 0, count: inChannels)
                                let hiddenPlanes: [UnsafePointer<Float>?] = (0..<outChannels).map { UnsafePointer(hidden + $0 * hiddenPlane) }
                                var hiddenOrigins = [Int](repeating: 0, count: outChannels)
                                inputPlanes.withUnsafeBufferPointer { inputPointers in
                                inputOrigins.withUnsafeMutableBufferPointer { inputOrigins in
                                hiddenPlanes.withUnsafeBufferPointer { hiddenPointers in
                                hiddenOrigins.withUnsafeMutableBufferPointer { hiddenOrigins in
                                    var conv1Layer = ck_winograd_layer(
                                        planes: inputPointers.baseAddress, scale: scale1.baseAddress, offset: offset1.baseAddress,
                                        slope: Convolution.Activation.leakySlope, in_channels: inChannels, out_channels: outChannels,
                                        frames: frames, bins: bins, weights: first.pointer, output: hidden, streaming: 0,
                                        residual_planes: nil, residual_channels: 0, residual_weights: nil, residual_bias: nil,
                                        pooled: nil, plane_origins: UnsafePointer(inputOrigins.baseAddress), residual_origins: nil,
                                        output_origin: 0, output_frames: RowBands.hiddenFrames)
                                    var conv2Layer = ck_winograd_layer(
                                        planes: hiddenPointers.baseAddress, scale: scale2.baseAddress, offset: offset2.baseAddress,
                                        slope: Convolution.Activation.leakySlope, in_channels: outChannels, out_channels: outChannels,
                                        frames: frames, bins: bins, weights: second.pointer, output: out, streaming: 0,
                                        residual_planes: inputPointers.baseAddress, residual_channels: inChannels,
                                        residual_weights: packedShortcut.map { UnsafePointer($0.packed.pointer) },
                                        residual_bias: packedShortcut == nil ? nil : bias.baseAddress, pooled: nil,
                                        plane_origins: UnsafePointer(hiddenOrigins.baseAddress),
                                        residual_origins: UnsafePointer(inputOrigins.baseAddress), output_origin: 0,
                                        output_frames: RowBands.outputFrames)
                                    if case .map(let output, let pooled) = sink {
                                        conv2Layer.output = output.storage.pointer
                                        conv2Layer.output_frames = 0
                                        conv2Layer.pooled = pooled?.storage.pointer
                                        conv2Layer.streaming = streaming
                                    }
                                    func run(_ layer: ck_winograd_layer, tileRows range: Range<Int>) {
                                        let end = range.upperBound * tileColumns
                                        withUnsafePointer(to: layer) { layer in
                                            for tile in stride(from: range.lowerBound * tileColumns, to: end, by: blockTiles) {
                                                ck_winograd_run(build, layer, tile, min(blockTiles, end - tile), scratch)
                                            }
                                        }
                                    }
                                    let rows = (tileRows * part / workers) ..< (tileRows * (part + 1) / workers)
                                    var heldHidden = 0 ..< 0   // hidden tile rows in the band, from its row 0
                                    var heldMade = 0 ..< 0     // frames the made inputs' band holds (the upsampling's)
                                    for start in stride(from: rows.lowerBound, to: rows.upperBound, by: step) {
                                        let end = min(start + step, rows.upperBound)
                                        let needed = max(start - 1, 0) ..< min(end + 1, tileRows)
                                        let computeFrom = Self.keep(rows: needed, of: &heldHidden, frames: 4, planes: hidden,
                                                                    count: outChannels, plane: hiddenPlane, bins: bins)
                                        // Input frames: conv1's (one beyond its rows each side) and the residual's.
                                        let low = computeFrom < needed.upperBound ? min(4 * computeFrom - 1, 4 * start) : 4 * start
                                        let frameRange = max(0, low) ..< min(frames, 4 * needed.upperBound + 1)
                                        for (index, source) in sources.enumerated() {
                                            guard let at = madeAt[index] else { continue }
                                            let planes = made + at * bandPlane
                                            switch source {
                                            case .map: break
                                            case .pointwise(let map, let weights, let bias):
                                                Self.pointwise(map, weights: weights, bias: bias, frames: frameRange, into: planes,
                                                               plane: bandPlane)
                                                for c in 0..<source.channels { inputOrigins[firstChannel[index] + c] = frameRange.lowerBound }
                                            case .upsample(let layer, let input, let activation):
                                                // Whole input frames: pairs of output frames.
                                                let pairs = frameRange.lowerBound / 2 ..< (frameRange.upperBound + 1) / 2
                                                let from = Self.keep(rows: pairs, of: &heldMade, frames: 2, planes: planes,
                                                                     count: source.channels, plane: bandPlane, bins: bins)
                                                layer.runBand(input, activation: activation, inputFrames: from ..< pairs.upperBound,
                                                              into: planes, origin: 2 * pairs.lowerBound, heldFrames: held,
                                                              build: layer.build!, scratch: scratch)
                                                for c in 0..<source.channels { inputOrigins[firstChannel[index] + c] = 2 * pairs.lowerBound }
                                            }
                                        }
                                        conv1Layer.output_origin = 4 * needed.lowerBound
                                        run(conv1Layer, tileRows: computeFrom ..< needed.upperBound)
                                        for c in 0..<outChannels { hiddenOrigins[c] = 4 * needed.lowerBound }
                                        if case .pointwise(let weights, let bias, let logits) = sink {
                                            conv2Layer.output_origin = 4 * start
                                            run(conv2Layer, tileRows: start ..< end)
                                            let band = 4 * start ..< min(frames, 4 * end)
                                            Self.pointwise(out, channels: outChannels, plane: outputPlane, frames: band, bins: bins,
                                                           weights: weights, bias: bias, into: logits)
                                        } else {
                                            run(conv2Layer, tileRows: start ..< end)
                                        }
                                    }
                                }
                                }
                                }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Moves the rows of `held` that `rows` still needs to the front of each of `count` planes
    /// (`plane` floats apart; a row is `frames` frames of `bins`), sets `held` to `rows`, and
    /// returns the first row that is not there yet.
    static func keep(rows: Range<Int>, of held: inout Range<Int>, frames: Int, planes: UnsafeMutablePointer<Float>, count: Int,
                     plane: Int, bins: Int) -> Int {
        defer { held = rows }
        guard held.contains(rows.lowerBound) else { return rows.lowerBound }
        let shift = (rows.lowerBound - held.lowerBound) * frames * bins
        let kept = (min(held.upperBound, rows.upperBound) - rows.lowerBound) * frames * bins
        if shift > 0 {
            for index in 0..<count {
                let start = planes + index * plane
                memmove(start, start + shift, kept * MemoryLayout<Float>.stride)
            }
        }
        return min(held.upperBound, rows.upperBound)
    }

    /// pre_conv for `frames` of a one-channel map: plane c of `into` (from its row 0) gets
    /// weights[c]·x + bias[c], as `Convolution.conv1x1` computes it.
    static func pointwise(_ map: FeatureMap, weights: [Float], bias: [Float], frames: Range<Int>, into planes: UnsafeMutablePointer<Float>,
                          plane: Int) {
        Convolution.oneChannel(UnsafePointer(map.storage.pointer) + frames.lowerBound * map.bins, count: frames.count * map.bins,
                               weights: weights, bias: bias, into: planes, plane: plane)
    }

    /// after_conv for `frames` of a band (`channels` planes, `plane` floats apart, from the band's
    /// first frame) into the same frames of `output`: the bias, then one sgemm added onto it, as
    /// `Convolution.conv1x1` computes it.
    static func pointwise(_ band: UnsafeMutablePointer<Float>, channels: Int, plane: Int, frames: Range<Int>, bins: Int,
                          weights: [Float], bias: [Float], into output: FeatureMap) {
        let target = output.storage.pointer + frames.lowerBound * bins, width = frames.count * bins
        for channel in 0..<output.channels {
            (target + channel * output.planeSize).update(repeating: bias[channel], count: width)
        }
        weights.withUnsafeBufferPointer { w in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(output.channels), Int32(width), Int32(channels),
                        1, w.baseAddress!, Int32(channels), band, Int32(plane), 1, target, Int32(output.planeSize))
        }
    }
}

extension UpsampleLayer {
    /// The upsampling of input frames `inputFrames` into a band: output frame f of channel c at
    /// band + c·heldFrames·(bins·kf) + (f − origin)·(bins·kf). One thread, blocks in order.
    func runBand(_ input: FeatureMap, activation: Convolution.Activation, inputFrames: Range<Int>, into band: UnsafeMutablePointer<Float>,
                 origin: Int, heldFrames: Int, build: ck_build, scratch: UnsafeMutablePointer<Float>) {
        guard !inputFrames.isEmpty, let packed else { return }
        let blockPixels = ck_upsample_block_pixels(), chunks = (input.bins + blockPixels - 1) / blockPixels
        activation.scale.withUnsafeBufferPointer { scale in
            activation.offset.withUnsafeBufferPointer { offset in
                let layer = ck_upsample_layer(
                    input: input.storage.pointer, scale: scale.baseAddress, offset: offset.baseAddress, slope: activation.slope,
                    in_channels: inChannels, out_channels: outChannels, frames: input.frames, bins: input.bins,
                    kernel_frames: kernelFrames, kernel_bins: kernelBins, weights: packed.pointer, output: band, streaming: 0,
                    output_origin: origin, output_frames: heldFrames)
                withUnsafePointer(to: layer) { layer in
                    ck_upsample_run(build, layer, inputFrames.lowerBound * chunks, inputFrames.count * chunks, scratch)
                }
            }
        }
    }
}
