import CKernels
import COpenBLAS
import Foundation

/// 3×3 convolution (stride 1, zero padding 1) by Winograd's minimal filtering F(4×4, 3×3)
/// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 4×4 block
/// of outputs is computed from the 6×6 input patch around it as
///
///     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
///
/// where the 36 elementwise products, summed over input channels, are 36 matrix products
/// `M_ξ = U_ξ · V_ξ` (U: transformed weights [out][in], V: transformed patches [in][tiles]).
/// That is 36 multiplications per input channel for 16 outputs instead of 144: 4× fewer, paid
/// for with the transforms, whose cost grows with channels rather than channels squared, so the
/// saving is largest for wide layers and smallest for the 32-channel first level.
///
/// The interpolation points are 0, ±1, ±2 (and ∞). In float32 this is not bit-exact: the
/// transforms scale values by up to 8 and 1/24, which costs a few bits (see the tests and the
/// README for the network's SNR against im2col).
public enum Winograd {
    /// Outputs per tile side and the patch side (the filter's is 3).
    static let m = 4, alpha = 6
    static let points = 36

    /// Weights transformed once at load: U_ξ = (G g Gᵀ)_ξ for every (out, in) pair, as 36
    /// row-major `[out][in]` matrices (for sgemm and the bf16 gemm) and/or packed for the fused
    /// kernel (blocks of 8 output channels).
    public struct Weights {
        public let outChannels: Int
        public let inChannels: Int
        /// U as `[ξ][out][in]`, when kept.
        let values: FloatStorage?
        /// U as `ck_winograd_pack_weights` lays it out, when kept.
        let packed: FloatStorage?

        /// Which forms to keep: each is as large as the transformed weights (4× the layer's own).
        public enum Forms: Sendable { case matrices, packed, both }

        /// `weights` is PyTorch's Conv2d `[out][in][3][3]`. The transform runs in Double.
        public init(_ weights: [Float], outChannels: Int, inChannels: Int, forms: Forms = .both) throws {
            precondition(weights.count == outChannels * inChannels * 9)
            self.outChannels = outChannels
            self.inChannels = inChannels
            let pairs = outChannels * inChannels
            let values = try FloatStorage.weights(Winograd.points * pairs)
            let u = values.pointer
            // Runs of pairs on every core (each pair's values are its own: the same bits); the
            // transform of a full-size network's weights took 0.31 s of a cold start on one core.
            let parts = min(ProcessInfo.processInfo.activeProcessorCount, max(1, pairs / 4096))
            weights.withUnsafeBufferPointer { w in
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    withUnsafeTemporaryAllocation(of: Double.self, capacity: 18) { rows in   // G·g: 6 rows of 3
                        for pair in (pairs * part / parts) ..< (pairs * (part + 1) / parts) {
                            let g = w.baseAddress! + pair * 9
                            // G down the kernel's rows (time), then along its columns (bins).
                            for j in 0..<3 {
                                let c = Self.filterTransform(Double(g[j]), Double(g[3 + j]), Double(g[6 + j]))
                                rows[j] = c.0; rows[3 + j] = c.1; rows[6 + j] = c.2
                                rows[9 + j] = c.3; rows[12 + j] = c.4; rows[15 + j] = c.5
                            }
                            for i in 0..<6 {
                                let t = Self.filterTransform(rows[3 * i], rows[3 * i + 1], rows[3 * i + 2])
                                let target = u + i * 6 * pairs + pair
                                target[0] = Float(t.0); target[pairs] = Float(t.1); target[2 * pairs] = Float(t.2)
                                target[3 * pairs] = Float(t.3); target[4 * pairs] = Float(t.4); target[5 * pairs] = Float(t.5)
                            }
                        }
                    }
                }
            }
            if forms == .matrices {
                packed = nil
            } else {
                let packed = try FloatStorage.weights(ck_winograd_packed_floats(outChannels, inChannels))
                ck_winograd_pack_weights(values.pointer, outChannels, inChannels, packed.pointer)
                self.packed = packed
            }
            self.values = forms == .packed ? nil : values
        }

        /// G (6×3, points 0, 1, −1, 2, −2, ∞) applied to three filter taps.
        @inline(__always)
        static func filterTransform(_ g0: Double, _ g1: Double, _ g2: Double) -> (Double, Double, Double, Double, Double, Double) {
            (g0 / 4, -(g0 + g1 + g2) / 6, -(g0 - g1 + g2) / 6, g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2)
        }

        /// U_ξ rounded to bf16 for the bf16 gemm, one matrix per point.
        func bfloat16() throws -> [BFloat16Weights] {
            guard let values else { preconditionFailure("Winograd weights kept without their matrices") }
            return try (0..<Winograd.points).map { point in
                try BFloat16Weights(rows: outChannels, depth: inChannels, values: values.pointer + point * outChannels * inChannels,
                                leadingDimension: inChannels)
            }
        }
    }

    /// Largest V + M scratch, in floats (24 MB), shared by the threads. Work units are as large
    /// as fit: OpenBLAS packs U_ξ afresh for every product, so the more tiles share one packing
    /// the better (with 64 tiles a unit, repacking cost a quarter of the layer's time).
    static let unitFloats = 6 << 20
    /// ...and no more tiles than this a unit: V and M are 2.25× the maps they come from, so the
    /// fewer of them leave the caches the better. 512 tiles repack U_ξ often enough to cost
    /// about 3% (16 / tiles); on narrow layers it keeps V + M at 5–14 MB instead of 24. (256 and
    /// 1024 tiles, and level 0's whole 2730, were each slower.)
    static let unitTiles = 512

    /// Fused kernels write output maps at least this large (bytes) with streaming stores: well
    /// past the last-level cache, reading their lines in before overwriting them is wasted
    /// traffic (at 10 s windows: levels 0 and 1, 128 and 64 MB).
    public static let streamingBytes = 48 << 20

    /// A 1×1 convolution with bias, packed for the fused kernels' residual.
    public struct Shortcut {
        public let outChannels: Int, inChannels: Int
        let packed: FloatStorage
        let bias: [Float]

        /// `weights`: `[out][in]` (PyTorch's `[out][in][1][1]`).
        public init(weights: [Float], bias: [Float], outChannels: Int, inChannels: Int) throws {
            precondition(weights.count == outChannels * inChannels && bias.count == outChannels)
            self.outChannels = outChannels
            self.inChannels = inChannels
            self.bias = bias
            packed = try FloatStorage.weights(ck_winograd_packed_shortcut_floats(outChannels, inChannels))
            ck_winograd_pack_shortcut(weights, outChannels, inChannels, packed.pointer)
        }
    }

    /// What a fused kernel adds to the convolution as it writes it: a ResNet block's input
    /// (the channel concatenation of the maps), itself or through its 1×1 shortcut.
    public enum Residual {
        case identity([FeatureMap])
        case shortcut([FeatureMap], Shortcut)
    }

    /// `conv3x3` through `ck_winograd_run`: blocks of 32 tiles spread over the threads.
    static func fusedConv3x3(_ planes: [UnsafePointer<Float>], activation: Convolution.Activation?, weights: Weights,
                             kernel: ck_build, residual: Residual?, pooled: FeatureMap?, streamingBytes: Int, output: FeatureMap,
                             workspace: Workspace) -> FeatureMap {
        guard let packed = weights.packed else { preconditionFailure("Winograd weights kept without their packed form") }
        let frames = output.frames, bins = output.bins, plane = frames * bins
        let inChannels = weights.inChannels, outChannels = weights.outChannels
        let blockTiles = ck_winograd_block_tiles(), tiles = ((frames + m - 1) / m) * ((bins + m - 1) / m)
        let scale = activation?.scale ?? [], offset = activation?.offset ?? []
        let sources: [UnsafePointer<Float>?] = planes
        var residualSources: [UnsafePointer<Float>?] = []
        var shortcut: Shortcut?
        switch residual {
        case nil: break
        case .identity(let maps), .shortcut(let maps, _):
            precondition(maps.allSatisfy { $0.frames == frames && $0.bins == bins })
            residualSources = FeatureMap.planes(of: maps)
            if case .shortcut(_, let weights) = residual {
                precondition(weights.inChannels == residualSources.count && weights.outChannels == outChannels)
                shortcut = weights
            } else {
                precondition(residualSources.count == outChannels)
            }
        }
        if let pooled {
            precondition(pooled.channels == outChannels && pooled.frames == frames / 2 && pooled.bins == bins / 2)
        }
        let bias = shortcut?.bias ?? []
        let scratchFloats = ck_winograd_scratch_floats(inChannels, shortcut?.inChannels ?? 0)
        sources.withUnsafeBufferPointer { planePointers in
            residualSources.withUnsafeBufferPointer { residualPointers in
                scale.withUnsafeBufferPointer { scale in
                    offset.withUnsafeBufferPointer { offset in
                        bias.withUnsafeBufferPointer { bias in
                            let layer = ck_winograd_layer(
                                planes: planePointers.baseAddress, scale: activation == nil ? nil : scale.baseAddress,
                                offset: offset.baseAddress, slope: activation?.slope ?? 1,
                                in_channels: inChannels, out_channels: outChannels, frames: frames, bins: bins,
                                weights: packed.pointer, output: output.storage.pointer,
                                streaming: outChannels * plane * MemoryLayout<Float>.stride >= streamingBytes ? 1 : 0,
                                residual_planes: residual == nil ? nil : residualPointers.baseAddress,
                                residual_channels: residualSources.count,
                                residual_weights: shortcut.map { UnsafePointer($0.packed.pointer) }, residual_bias: bias.baseAddress,
                                pooled: pooled?.storage.pointer, plane_origins: nil, residual_origins: nil, output_origin: 0,
                                output_frames: 0)
                            withUnsafePointer(to: layer) { layer in
                                workspace.parallel((tiles + blockTiles - 1) / blockTiles) { worker, block in
                                    let first = block * blockTiles
                                    ck_winograd_run(kernel, layer, first, min(blockTiles, tiles - first),
                                                    workspace.buffer(worker, floats: scratchFloats))
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// The convolution of the channel concatenation of `inputs`, each activated first when
    /// `activation` is given (as `Convolution.conv3x3`, which this equals up to rounding).
    /// A fused `kernel` build runs blocks of 32 tiles on the threads, each block from input to
    /// output (see winograd.c). `.blas` does the map in units of whole tile rows (or runs of tiles,
    /// for very wide layers); each unit in three steps that all threads share: V by input
    /// channel, the 36 products by point, the output transform by output channel.
    /// With `bf16` (`weights.bfloat16()`), the 36 products run in bf16 with fp32 accumulation,
    /// in three phases whatever `kernel` says. A `residual` (fused kernels only) is added to the
    /// output as it is written; `pooled` (fused kernels only) receives the output's 2 × 2 average
    /// pool (AvgPool2d: ⌊frames/2⌋ × ⌊bins/2⌋).
    public static func conv3x3(_ inputs: [FeatureMap], activation: Convolution.Activation? = nil, weights: Weights,
                               bf16: [BFloat16Weights]? = nil, kernel: KernelBuild = .best, residual: Residual? = nil,
                               pooled: FeatureMap? = nil, streamingBytes: Int = streamingBytes,
                               into destination: FeatureMap? = nil, workspace: Workspace) -> FeatureMap {
        let frames = inputs[0].frames, bins = inputs[0].bins, plane = frames * bins
        precondition(inputs.allSatisfy { $0.frames == frames && $0.bins == bins })
        let planes = FeatureMap.planes(of: inputs)
        let inChannels = planes.count, outChannels = weights.outChannels
        precondition(inChannels == weights.inChannels)
        if let activation { precondition(activation.scale.count == inChannels && activation.offset.count == inChannels) }
        let output = destination ?? FeatureMap(uninitializedChannels: outChannels, frames: frames, bins: bins, workspace: workspace)
        precondition(output.channels == outChannels && output.frames == frames && output.bins == bins)

        let tileRows = (frames + m - 1) / m, tileColumns = (bins + m - 1) / m
        if bf16 == nil, let fused = kernel.fused {
            precondition(kernel.isSupported, "--kernels \(kernel) on a CPU without its instructions")
            return fusedConv3x3(planes, activation: activation, weights: weights, kernel: fused, residual: residual,
                                pooled: pooled, streamingBytes: streamingBytes, output: output, workspace: workspace)
        }
        precondition(residual == nil && pooled == nil, "a residual or a pool is added only by the fused kernels")
        let most = max(lanes, min(unitTiles, unitFloats / (points * (inChannels + outChannels))))
        let columnsPerUnit = min(tileColumns, most)
        let rowsPerUnit = columnsPerUnit < tileColumns ? 1 : max(1, min(most / tileColumns, tileRows))
        let columnBlocks = (tileColumns + columnsPerUnit - 1) / columnsPerUnit
        let rowBlocks = (tileRows + rowsPerUnit - 1) / rowsPerUnit
        guard let matrices = weights.values else { preconditionFailure("Winograd weights kept without their matrices") }
        let yBase = output.storage.pointer, uBase = UnsafePointer(matrices.pointer)
        let largest = rowsPerUnit * columnsPerUnit
        let v = workspace.buffer(0, floats: points * inChannels * largest)
        let products = workspace.buffer(0, floats: points * outChannels * largest + lanes, slot: 1)
        let activations = activation.map { a in (0..<inChannels).map { (a.scale[$0], a.offset[$0], a.slope) } }

        for unit in 0..<(rowBlocks * columnBlocks) {
            let firstRow = (unit / columnBlocks) * rowsPerUnit, rows = min(rowsPerUnit, tileRows - firstRow)
            let firstColumn = (unit % columnBlocks) * columnsPerUnit, columns = min(columnsPerUnit, tileColumns - firstColumn)
            let tiles = rows * columns
            workspace.parallel(inChannels) { worker, channel in
                let stage = workspace.buffer(worker, floats: stageFloats(columns: columns), slot: 2)
                for row in 0..<rows {
                    transformInput(planes[channel], activation: activations?[channel], frames: frames, bins: bins,
                                   tileRow: firstRow + row, firstColumn: firstColumn, columns: columns,
                                   stage: stage, into: v + channel * tiles + row * columns, pointStride: inChannels * tiles)
                }
            }
            workspace.parallel(points) { worker, point in
                if let bf16 {
                    BFloat16GEMM.gemm(weights: bf16[point], b: v + point * inChannels * tiles, ldb: tiles, columns: tiles,
                                      c: products + point * outChannels * tiles, ldc: tiles, accumulate: false,
                                      scratch: workspace.bfloat16Scratch(worker))
                    return
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(tiles), Int32(inChannels),
                            1, uBase + point * outChannels * inChannels, Int32(inChannels),
                            v + point * inChannels * tiles, Int32(tiles),
                            0, products + point * outChannels * tiles, Int32(tiles))
            }
            workspace.parallel(outChannels) { worker, channel in
                let rowsOfA = workspace.buffer(worker, floats: stageFloats(columns: columns), slot: 2)
                for row in 0..<rows {
                    transformOutput(products + channel * tiles + row * columns, pointStride: outChannels * tiles, columns: columns,
                                    into: yBase + channel * plane, frames: frames, bins: bins,
                                    tileRow: firstRow + row, firstColumn: firstColumn, scratch: rowsOfA)
                }
            }
        }
        return output
    }

    /// Tiles per step of the transforms' loops (and slack left after the products for their reads).
    static let lanes = 4

    /// Scratch of one thread's transforms: 12 rows (the patch rows, then Bᵀ d) of 4 phases, or
    /// the 24 rows of Aᵀ M.
    static func stageFloats(columns: Int) -> Int { 48 * phaseStride(columns: columns) }
    static func phaseStride(columns: Int) -> Int { (columns + lanes) / lanes * lanes + lanes }

    /// V for one channel and one tile row. The six source rows are staged activated (zero
    /// outside the map) and split by bin modulo 4, so that patch column l of every tile is one
    /// contiguous run (phase l mod 4, shifted by l / 4); then Bᵀ d B is computed in two passes,
    /// four tiles a step. Writes V[ξ] for the row's tiles at `v + ξ·pointStride + tile`.
    @inline(__always)
    static func transformInput(_ source: UnsafePointer<Float>, activation: (Float, Float, Float)?, frames: Int, bins: Int,
                               tileRow: Int, firstColumn: Int, columns: Int, stage: UnsafeMutablePointer<Float>,
                               into v: UnsafeMutablePointer<Float>, pointStride: Int) {
        let phases = phaseStride(columns: columns)
        let firstBin = firstColumn &* m &- 1            // bin of patch column 0 of the row's first tile
        let (scale, offset, slope) = activation ?? (1, 0, 1)
        // Tiles j whose four bins 4j + q all lie inside the map take the unchecked loop.
        let safeLow = firstBin < 0 ? 1 : 0
        let safeHigh = max(safeLow, min(columns + 1, (bins - firstBin) / m))
        for i in 0..<alpha {
            let row = stage + i &* 4 &* phases
            let p0 = row, p1 = row + phases, p2 = row + 2 &* phases, p3 = row + 3 &* phases
            let frame = tileRow &* m &- 1 &+ i
            guard frame >= 0, frame < frames else {
                row.update(repeating: 0, count: 4 &* phases)
                continue
            }
            let from = source + (frame &* bins &+ firstBin)
            @inline(__always) func value(_ x: Int) -> Float {
                guard firstBin &+ x >= 0, firstBin &+ x < bins else { return 0 }
                let y = scale * from[x] + offset
                return max(y, y * slope)
            }
            for j in 0..<safeLow { p0[j] = value(4 * j); p1[j] = value(4 * j + 1); p2[j] = value(4 * j + 2); p3[j] = value(4 * j + 3) }
            // Four tiles at a time: sixteen bins in, activated, transposed into the four phases.
            var j = safeLow
            let vectorScale = SIMD4<Float>(repeating: scale), vectorOffset = SIMD4<Float>(repeating: offset)
            let vectorSlope = SIMD4<Float>(repeating: slope)
            @inline(__always) func activated(_ x: UnsafePointer<Float>) -> SIMD4<Float> {
                let raw = UnsafeRawPointer(x).loadUnaligned(as: SIMD4<Float>.self)
                guard activation != nil else { return raw }
                let y = raw * vectorScale + vectorOffset, z = y * vectorSlope
                // Leaky ReLU for 0 ≤ slope ≤ 1, lane by lane (the generic pointwiseMax is not inlined).
                return SIMD4(max(y[0], z[0]), max(y[1], z[1]), max(y[2], z[2]), max(y[3], z[3]))
            }
            while j &+ 4 <= safeHigh {
                let x = from + j &* 4
                let a = activated(x), b = activated(x + 4), c = activated(x + 8), d = activated(x + 12)
                UnsafeMutableRawPointer(p0 + j).storeBytes(of: SIMD4(a[0], b[0], c[0], d[0]), as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(p1 + j).storeBytes(of: SIMD4(a[1], b[1], c[1], d[1]), as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(p2 + j).storeBytes(of: SIMD4(a[2], b[2], c[2], d[2]), as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(p3 + j).storeBytes(of: SIMD4(a[3], b[3], c[3], d[3]), as: SIMD4<Float>.self)
                j &+= 4
            }
            while j < safeHigh {
                let a = activated(from + j &* 4)
                p0[j] = a[0]; p1[j] = a[1]; p2[j] = a[2]; p3[j] = a[3]
                j &+= 1
            }
            for j in safeHigh..<(columns + 1) { p0[j] = value(4 * j); p1[j] = value(4 * j + 1); p2[j] = value(4 * j + 2); p3[j] = value(4 * j + 3) }
            for j in (columns + 1)..<phases { p0[j] = 0; p1[j] = 0; p2[j] = 0; p3[j] = 0 }
        }
        // Two short passes, each with few values live (one long one spilled the registers):
        // Bᵀ down the six rows, for all bins at once (the phases do not matter to it)...
        let p = UnsafePointer(stage), t = stage + 24 &* phases
        let rowLength = 4 &* phases
        for e in stride(from: 0, to: rowLength, by: 4) {
            let d = p + e
            let r = inputTransform(load4(d), load4(d + rowLength), load4(d + 2 &* rowLength), load4(d + 3 &* rowLength),
                                   load4(d + 4 &* rowLength), load4(d + 5 &* rowLength))
            let out = t + e
            store4(r.0, out); store4(r.1, out + rowLength); store4(r.2, out + 2 &* rowLength)
            store4(r.3, out + 3 &* rowLength); store4(r.4, out + 4 &* rowLength); store4(r.5, out + 5 &* rowLength)
        }
        // ...then B along each row k of every tile: patch column l is phase l % 4, shifted by l / 4.
        for k in 0..<alpha {
            let row = UnsafePointer(t + k &* rowLength)
            let out = v + k &* 6 &* pointStride
            let q0 = row, q1 = row + phases, q2 = row + 2 &* phases, q3 = row + 3 &* phases
            for j in stride(from: 0, to: columns, by: 4) {
                let r = inputTransform(load4(q0 + j), load4(q1 + j), load4(q2 + j), load4(q3 + j), load4(q0 + (j &+ 1)), load4(q1 + (j &+ 1)))
                let target = out + j, count = columns &- j
                store4(r.0, target, count: count)
                store4(r.1, target + pointStride, count: count)
                store4(r.2, target + 2 &* pointStride, count: count)
                store4(r.3, target + 3 &* pointStride, count: count)
                store4(r.4, target + 4 &* pointStride, count: count)
                store4(r.5, target + 5 &* pointStride, count: count)
            }
        }
    }

    typealias Quad = SIMD4<Float>

    @inline(__always)
    static func load4(_ pointer: UnsafePointer<Float>) -> Quad { UnsafeRawPointer(pointer).loadUnaligned(as: Quad.self) }

    @inline(__always)
    static func load4(_ pointer: UnsafeMutablePointer<Float>) -> Quad { load4(UnsafePointer(pointer)) }

    @inline(__always)
    static func store4(_ value: Quad, _ pointer: UnsafeMutablePointer<Float>, count: Int = 4) {
        if count >= 4 {
            UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Quad.self)
        } else {
            for lane in 0..<count { pointer[lane] = value[lane] }
        }
    }

    /// Bᵀ applied to six quads.
    @inline(__always)
    static func inputTransform(_ s0: Quad, _ s1: Quad, _ s2: Quad, _ s3: Quad, _ s4: Quad, _ s5: Quad)
        -> (Quad, Quad, Quad, Quad, Quad, Quad) {
        let a = s4 - s2, b = s3 - s1
        return (4 * s0 - 5 * s2 + s4, s3 + s4 - 4 * (s1 + s2), s4 - s3 + 4 * (s1 - s2), a + 2 * b, a - 2 * b, 4 * s1 - 5 * s3 + s5)
    }

    /// Aᵀ applied to six quads.
    @inline(__always)
    static func outputTransform(_ s0: Quad, _ s1: Quad, _ s2: Quad, _ s3: Quad, _ s4: Quad, _ s5: Quad) -> (Quad, Quad, Quad, Quad) {
        let a = s1 + s2, b = s1 - s2, c = s3 + s4, d = s3 - s4
        return (s0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + s5)
    }

    /// Aᵀ applied to six values.
    @inline(__always)
    static func outputTransform(_ s0: Float, _ s1: Float, _ s2: Float, _ s3: Float, _ s4: Float, _ s5: Float)
        -> (Float, Float, Float, Float) {
        let a = s1 + s2, b = s1 - s2, c = s3 + s4, d = s3 - s4
        return (s0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + s5)
    }

    /// Y = Aᵀ M A for one output channel and one tile row, cropped at the map's edges, in two
    /// passes: Aᵀ down the six rows of M into 24 rows of `scratch` (quads of tiles), then Aᵀ
    /// along each, a tile at a time, straight into the map. M[ξ] for the row's tiles is at
    /// `products + ξ·pointStride + tile`; reads may run up to three floats past the last tile
    /// (the caller leaves that slack).
    @inline(__always)
    static func transformOutput(_ products: UnsafeMutablePointer<Float>, pointStride s: Int, columns: Int,
                                into plane: UnsafeMutablePointer<Float>, frames: Int, bins: Int, tileRow: Int, firstColumn: Int,
                                scratch: UnsafeMutablePointer<Float>) {
        let firstFrame = tileRow &* m, firstBin = firstColumn &* m
        let rows = min(m, frames &- firstFrame)
        let width = (columns + 3) / 4 * 4   // a scratch row: the tiles, rounded up to quads
        let m0 = UnsafePointer(products)
        for l in 0..<alpha {
            let c = m0 + l &* s
            for j in stride(from: 0, to: columns, by: 4) {
                let r = outputTransform(load4(c + j), load4(c + (6 &* s &+ j)), load4(c + (12 &* s &+ j)),
                                        load4(c + (18 &* s &+ j)), load4(c + (24 &* s &+ j)), load4(c + (30 &* s &+ j)))
                let out = scratch + (l &* width &+ j)
                store4(r.0, out); store4(r.1, out + 6 &* width); store4(r.2, out + 12 &* width); store4(r.3, out + 18 &* width)
            }
        }
        let whole = min(columns, max(0, (bins &- firstBin) / m))   // tiles whose four bins all lie inside the map
        for row in 0..<rows {
            let r = UnsafePointer(scratch + row &* 6 &* width)
            let target = plane + ((firstFrame &+ row) &* bins &+ firstBin)
            for tile in 0..<whole {
                let y = outputTransform(r[tile], r[width &+ tile], r[2 &* width &+ tile], r[3 &* width &+ tile],
                                        r[4 &* width &+ tile], r[5 &* width &+ tile])
                let at = target + tile &* 4
                at[0] = y.0; at[1] = y.1; at[2] = y.2; at[3] = y.3
            }
            for tile in whole..<columns {
                let y = outputTransform(r[tile], r[width + tile], r[2 * width + tile], r[3 * width + tile],
                                        r[4 * width + tile], r[5 * width + tile])
                let values = [y.0, y.1, y.2, y.3]
                for q in 0..<m where firstBin + tile * m + q < bins { target[tile * m + q] = values[q] }
            }
        }
    }
}
