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
    /// Outputs per tile side, the filter size, and the patch side.
    static let m = 4, r = 3, alpha = 6
    static let points = 36

    /// Weights transformed once at load: U_ξ = (G g Gᵀ)_ξ for every (out, in) pair, laid out
    /// `[ξ][out][in]` so that each ξ is one row-major matrix for sgemm.
    public struct Weights {
        public let outChannels: Int
        public let inChannels: Int
        let values: FloatStorage

        /// `weights` is PyTorch's Conv2d `[out][in][3][3]`. The transform runs in Double.
        public init(_ weights: [Float], outChannels: Int, inChannels: Int) {
            precondition(weights.count == outChannels * inChannels * 9)
            self.outChannels = outChannels
            self.inChannels = inChannels
            let pairs = outChannels * inChannels
            values = FloatStorage(capacity: Winograd.points * pairs)
            let u = values.pointer
            weights.withUnsafeBufferPointer { w in
                var rows = [Double](repeating: 0, count: 18)   // G·g: 6 rows of 3
                for pair in 0..<pairs {
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

        /// G (6×3, points 0, 1, −1, 2, −2, ∞) applied to three filter taps.
        @inline(__always)
        static func filterTransform(_ g0: Double, _ g1: Double, _ g2: Double) -> (Double, Double, Double, Double, Double, Double) {
            (g0 / 4, -(g0 + g1 + g2) / 6, -(g0 - g1 + g2) / 6, g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2)
        }

        /// Bytes held.
        public var bytes: Int { values.capacity * MemoryLayout<Float>.stride }

        /// U_ξ rounded to bf16 for the bf16 gemm, one matrix per point.
        func bfloat16() -> [BFloat16Weights] {
            (0..<Winograd.points).map { point in
                BFloat16Weights(rows: outChannels, depth: inChannels, values: values.pointer + point * outChannels * inChannels,
                                leadingDimension: inChannels)
            }
        }
    }

    /// Largest V + M scratch, in floats (24 MB), shared by the threads. Work units are as large
    /// as fit: OpenBLAS packs U_ξ afresh for every product, so the more tiles share one packing
    /// the better (with 64 tiles a unit, repacking cost a quarter of the layer's time).
    static let unitFloats = 6 << 20

    /// The convolution of the channel concatenation of `inputs`, each activated first when
    /// `activation` is given (as `Convolution.conv3x3`, which this equals up to rounding).
    /// The map is done in units of whole tile rows (or runs of tiles, for very wide layers); each
    /// unit in three steps that all threads share: V by input channel, the 36 products by point,
    /// the output transform by output channel.
    /// With `bf16` (`weights.bfloat16()`), the 36 products run in bf16 with fp32 accumulation.
    public static func conv3x3(_ inputs: [FeatureMap], activation: Convolution.Activation? = nil, weights: Weights,
                               bf16: [BFloat16Weights]? = nil, into destination: FeatureMap? = nil,
                               workspace: Workspace) -> FeatureMap {
        let frames = inputs[0].frames, bins = inputs[0].bins, plane = frames * bins
        precondition(inputs.allSatisfy { $0.frames == frames && $0.bins == bins })
        let planes = inputs.flatMap { map in (0..<map.channels).map { UnsafePointer(map.storage.pointer + $0 * plane) } }
        let inChannels = planes.count, outChannels = weights.outChannels
        precondition(inChannels == weights.inChannels)
        if let activation { precondition(activation.scale.count == inChannels && activation.offset.count == inChannels) }
        let output = destination ?? FeatureMap(uninitializedChannels: outChannels, frames: frames, bins: bins, workspace: workspace)
        precondition(output.channels == outChannels && output.frames == frames && output.bins == bins)

        let tileRows = (frames + m - 1) / m, tileColumns = (bins + m - 1) / m
        let most = max(lanes, unitFloats / (points * (inChannels + outChannels)))
        let columnsPerUnit = min(tileColumns, most)
        let rowsPerUnit = columnsPerUnit < tileColumns ? 1 : max(1, min(most / tileColumns, tileRows))
        let columnBlocks = (tileColumns + columnsPerUnit - 1) / columnsPerUnit
        let rowBlocks = (tileRows + rowsPerUnit - 1) / rowsPerUnit
        let yBase = output.storage.pointer, uBase = UnsafePointer(weights.values.pointer)
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
            workspace.parallel(outChannels) { _, channel in
                for row in 0..<rows {
                    transformOutput(products + channel * tiles + row * columns, pointStride: outChannels * tiles, columns: columns,
                                    into: yBase + channel * plane, frames: frames, bins: bins,
                                    tileRow: firstRow + row, firstColumn: firstColumn)
                }
            }
        }
        return output
    }

    typealias Lanes = SIMD8<Float>
    /// Tiles transformed together, one per SIMD lane.
    static let lanes = 8

    /// Floats of staging one channel's tile row needs: 6 rows × 4 phases of `phaseStride`.
    static func stageFloats(columns: Int) -> Int { 24 * phaseStride(columns: columns) }
    static func phaseStride(columns: Int) -> Int { (columns + lanes) / lanes * lanes + lanes }

    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Lanes { UnsafeRawPointer(pointer).loadUnaligned(as: Lanes.self) }

    @inline(__always)
    static func store(_ value: Lanes, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
        if count >= lanes {
            UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Lanes.self)
        } else {
            for lane in 0..<count { pointer[lane] = value[lane] }
        }
    }

    /// Bᵀ applied to six values (a patch's row or column).
    @inline(__always)
    static func inputTransform(_ s0: Lanes, _ s1: Lanes, _ s2: Lanes, _ s3: Lanes, _ s4: Lanes, _ s5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let a = s4 - s2, b = s3 - s1
        return (4 * s0 - 5 * s2 + s4, s3 + s4 - 4 * (s1 + s2), s4 - s3 + 4 * (s1 - s2), a + 2 * b, a - 2 * b, 4 * s1 - 5 * s3 + s5)
    }

    /// Aᵀ applied to six values: the four outputs of one row or column of a tile.
    @inline(__always)
    static func outputTransform(_ s0: Lanes, _ s1: Lanes, _ s2: Lanes, _ s3: Lanes, _ s4: Lanes, _ s5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes) {
        let a = s1 + s2, b = s1 - s2, c = s3 + s4, d = s3 - s4
        return (s0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + s5)
    }

    /// V for one channel and one tile row. The six source rows are staged activated (zero
    /// outside the map) and split by bin modulo 4, so that patch column l of every tile is one
    /// contiguous run (phase l mod 4, shifted by l / 4); then Bᵀ d B is computed for eight tiles
    /// at a time, one per lane. Writes V[ξ] for the row's tiles at `v + ξ·pointStride + tile`.
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
        // d[i][l] for eight tiles from j: phase l % 4 of row i, shifted by l / 4.
        let p = UnsafePointer(stage)
        for j in stride(from: 0, to: columns, by: lanes) {
            let count = columns &- j
            @inline(__always) func d(_ i: Int, _ l: Int) -> Lanes { load(p + ((i &* 4 &+ (l & 3)) &* phases &+ j &+ (l >> 2))) }
            // Bᵀ down each patch column l, then B along each resulting row k.
            let c0 = inputTransform(d(0, 0), d(1, 0), d(2, 0), d(3, 0), d(4, 0), d(5, 0))
            let c1 = inputTransform(d(0, 1), d(1, 1), d(2, 1), d(3, 1), d(4, 1), d(5, 1))
            let c2 = inputTransform(d(0, 2), d(1, 2), d(2, 2), d(3, 2), d(4, 2), d(5, 2))
            let c3 = inputTransform(d(0, 3), d(1, 3), d(2, 3), d(3, 3), d(4, 3), d(5, 3))
            let c4 = inputTransform(d(0, 4), d(1, 4), d(2, 4), d(3, 4), d(4, 4), d(5, 4))
            let c5 = inputTransform(d(0, 5), d(1, 5), d(2, 5), d(3, 5), d(4, 5), d(5, 5))
            @inline(__always) func emit(_ k: Int, _ r: (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)) {
                let out = v + (k &* 6 &* pointStride &+ j)
                store(r.0, out, count: count)
                store(r.1, out + pointStride, count: count)
                store(r.2, out + 2 &* pointStride, count: count)
                store(r.3, out + 3 &* pointStride, count: count)
                store(r.4, out + 4 &* pointStride, count: count)
                store(r.5, out + 5 &* pointStride, count: count)
            }
            emit(0, inputTransform(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
            emit(1, inputTransform(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
            emit(2, inputTransform(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
            emit(3, inputTransform(c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
            emit(4, inputTransform(c0.4, c1.4, c2.4, c3.4, c4.4, c5.4))
            emit(5, inputTransform(c0.5, c1.5, c2.5, c3.5, c4.5, c5.5))
        }
    }

    /// Y = Aᵀ M A for one output channel and one tile row, eight tiles at a time, cropped at the
    /// map's edges. M[ξ] for the row's tiles is at `products + ξ·pointStride + tile`; reads may
    /// run up to seven floats past the last tile (the caller leaves that slack).
    @inline(__always)
    static func transformOutput(_ products: UnsafeMutablePointer<Float>, pointStride: Int, columns: Int,
                                into plane: UnsafeMutablePointer<Float>, frames: Int, bins: Int, tileRow: Int, firstColumn: Int) {
        let firstFrame = tileRow &* m, firstBin = firstColumn &* m
        let rows = min(m, frames &- firstFrame)
        let p = UnsafePointer(products), s = pointStride
        for j in stride(from: 0, to: columns, by: lanes) {
            @inline(__always) func column(_ l: Int) -> (Lanes, Lanes, Lanes, Lanes) {
                let column = p + (l &* s &+ j)
                return outputTransform(load(column), load(column + 6 &* s), load(column + 12 &* s),
                                       load(column + 18 &* s), load(column + 24 &* s), load(column + 30 &* s))
            }
            let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3), c4 = column(4), c5 = column(5)
            let bin = firstBin &+ j &* m
            let tiles = min(lanes, columns &- j)
            let whole = min(tiles, (bins &- bin) / m)   // tiles whose four bins all lie inside the map
            @inline(__always) func emit(_ row: Int, _ y: (Lanes, Lanes, Lanes, Lanes)) {
                guard row < rows else { return }
                let target = plane + ((firstFrame &+ row) &* bins &+ bin)
                for lane in 0..<whole {
                    let at = target + lane &* 4
                    at[0] = y.0[lane]; at[1] = y.1[lane]; at[2] = y.2[lane]; at[3] = y.3[lane]
                }
                for lane in whole..<tiles {
                    let values = [y.0[lane], y.1[lane], y.2[lane], y.3[lane]]
                    for q in 0..<m where bin + lane * m + q < bins { target[lane * m + q] = values[q] }
                }
            }
            emit(0, outputTransform(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
            emit(1, outputTransform(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
            emit(2, outputTransform(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
            emit(3, outputTransform(c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
        }
    }
}
