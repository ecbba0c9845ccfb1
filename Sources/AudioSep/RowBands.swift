import CKernels
import Foundation

/// A ResNet block of the full-resolution level with its hidden map in row bands: conv1 and conv2
/// fused across the two layers, not only within each. At 10 s windows a level-0 map is 128 MB,
/// four times the last-level cache; run layer after layer, conv1 writes its whole output to
/// memory and conv2 reads it back, and reads the block's input a second time for the residual.
/// Here each thread takes a contiguous run of tile rows and walks it `bandTileRows` at a time:
/// conv1 fills a band of the hidden map (the rows conv2 needs, one tile row beyond at each
/// side), conv2 at once turns it into the block's output (and its pool), while the band and the
/// input rows both read are still in the cache. The two tile rows a band shares with the next
/// are moved to its front, not computed again; only where two threads' runs meet are two tile
/// rows computed twice. Results equal the layer-by-layer ones exactly: every tile is computed
/// from the same values by the same code.
extension ResidualBlock {
    /// Conv2 tile rows (four frames each) a band covers: with its two neighbours, a band of a
    /// 32-channel map is 1.5 MB, and a thread's band, the rows of input under it and the output it
    /// writes stay well inside the 32 MB last-level cache with both threads at work.
    static let bandTileRows = 4

    /// Whether `forwardInBands` runs this block: both convolutions on a fused Winograd kernel.
    var runsInBands: Bool { fusesResidual && conv1.addsResidual }

    /// The name the block is traced under when it runs in bands (one stage: its two layers are
    /// interleaved).
    func bandedStage(pooled: Bool) -> String { "/conv1" + fusedStage(pooled: pooled).replacingOccurrences(of: "/", with: "+") }

    /// The block on the channel concatenation of `inputs` into `output` (and its 2 × 2 average
    /// pool into `pooled`), as `forward` computes it, with the hidden map in row bands.
    func forwardInBands(_ inputs: [FeatureMap], offsets: ([Float], [Float]), output: FeatureMap, pooled: FeatureMap?,
                        streamingBytes: Int = Winograd.streamingBytes, workspace: Workspace) -> FeatureMap {
        precondition(runsInBands)
        let frames = inputs[0].frames, bins = inputs[0].bins
        precondition(inputs.allSatisfy { $0.frames == frames && $0.bins == bins })
        precondition(output.channels == outChannels && output.frames == frames && output.bins == bins)
        if let pooled { precondition(pooled.channels == outChannels && pooled.frames == frames / 2 && pooled.bins == bins / 2) }
        guard let build = conv1.kernel.fused, let first = conv1.winograd?.packed, let second = conv2.winograd?.packed else {
            preconditionFailure("row bands need both convolutions on a fused kernel")
        }
        let inputPlanes: [UnsafePointer<Float>?] = FeatureMap.planes(of: inputs)
        precondition(inputPlanes.count == inChannels)
        let tileColumns = (bins + 3) / 4, tileRows = (frames + 3) / 4
        let blockTiles = ck_winograd_block_tiles()
        let step = Self.bandTileRows
        let heldFrames = (step + 2) * 4, bandPlane = heldFrames * bins
        let residualChannels = packedShortcut == nil ? 0 : inChannels
        let scratchFloats = max(ck_winograd_scratch_floats(inChannels, 0), ck_winograd_scratch_floats(outChannels, residualChannels))
        let streaming: Int32 = outChannels * frames * bins * MemoryLayout<Float>.stride >= streamingBytes ? 1 : 0
        let bias = packedShortcut?.bias ?? []
        let workers = min(workspace.threads, tileRows)

        inputPlanes.withUnsafeBufferPointer { inputPointers in
            bn1.scale.withUnsafeBufferPointer { scale1 in
                offsets.0.withUnsafeBufferPointer { offset1 in
                    bn2.scale.withUnsafeBufferPointer { scale2 in
                        offsets.1.withUnsafeBufferPointer { offset2 in
                            bias.withUnsafeBufferPointer { bias in
                                workspace.parallel(workers) { worker, part in
                                    let band = workspace.buffer(worker, floats: outChannels * bandPlane, slot: 3)
                                    let scratch = workspace.buffer(worker, floats: scratchFloats)
                                    let hiddenPlanes: [UnsafePointer<Float>?] = (0..<outChannels).map { UnsafePointer(band + $0 * bandPlane) }
                                    var origins = [Int](repeating: 0, count: outChannels)
                                    hiddenPlanes.withUnsafeBufferPointer { hiddenPointers in
                                        origins.withUnsafeMutableBufferPointer { origins in
                                            var conv1Layer = ck_winograd_layer(
                                                planes: inputPointers.baseAddress, scale: scale1.baseAddress, offset: offset1.baseAddress,
                                                slope: Convolution.Activation.leakySlope, in_channels: inChannels, out_channels: outChannels,
                                                frames: frames, bins: bins, weights: first.pointer, output: band, streaming: 0,
                                                residual_planes: nil, residual_channels: 0, residual_weights: nil, residual_bias: nil,
                                                pooled: nil, plane_origins: nil, output_origin: 0, output_frames: heldFrames)
                                            let conv2Layer = ck_winograd_layer(
                                                planes: hiddenPointers.baseAddress, scale: scale2.baseAddress, offset: offset2.baseAddress,
                                                slope: Convolution.Activation.leakySlope, in_channels: outChannels, out_channels: outChannels,
                                                frames: frames, bins: bins, weights: second.pointer, output: output.storage.pointer,
                                                streaming: streaming, residual_planes: inputPointers.baseAddress,
                                                residual_channels: inChannels,
                                                residual_weights: packedShortcut.map { UnsafePointer($0.packed.pointer) },
                                                residual_bias: packedShortcut == nil ? nil : bias.baseAddress,
                                                pooled: pooled?.storage.pointer, plane_origins: UnsafePointer(origins.baseAddress),
                                                output_origin: 0, output_frames: 0)
                                            // Tiles first ..< end (raster order) of `layer`, a block at a time.
                                            func run(_ layer: UnsafePointer<ck_winograd_layer>, tileRows range: Range<Int>) {
                                                let end = range.upperBound * tileColumns
                                                for tile in stride(from: range.lowerBound * tileColumns, to: end, by: blockTiles) {
                                                    ck_winograd_run(build, layer, tile, min(blockTiles, end - tile), scratch)
                                                }
                                            }
                                            let rows = (tileRows * part / workers) ..< (tileRows * (part + 1) / workers)
                                            var held = 0 ..< 0   // hidden tile rows the band holds, from its row 0
                                            for start in stride(from: rows.lowerBound, to: rows.upperBound, by: step) {
                                                let end = min(start + step, rows.upperBound)
                                                let needed = max(start - 1, 0) ..< min(end + 1, tileRows)
                                                var computeFrom = needed.lowerBound
                                                if held.contains(needed.lowerBound) {
                                                    // The rows both bands need move to the front.
                                                    let shift = (needed.lowerBound - held.lowerBound) * 4 * bins
                                                    let kept = (held.upperBound - needed.lowerBound) * 4 * bins
                                                    if shift > 0 {
                                                        for channel in 0..<outChannels {
                                                            let plane = band + channel * bandPlane
                                                            memmove(plane, plane + shift, kept * MemoryLayout<Float>.stride)
                                                        }
                                                    }
                                                    computeFrom = held.upperBound
                                                }
                                                conv1Layer.output_origin = 4 * needed.lowerBound
                                                withUnsafePointer(to: conv1Layer) { run($0, tileRows: computeFrom ..< needed.upperBound) }
                                                for channel in 0..<outChannels { origins[channel] = 4 * needed.lowerBound }
                                                withUnsafePointer(to: conv2Layer) { run($0, tileRows: start ..< end) }
                                                held = needed
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
        return output
    }
}
