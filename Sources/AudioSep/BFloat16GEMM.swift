import CKernels
import Foundation
import Separation

/// What the CPU this process runs on can do, asked once.
public enum CPUFeatures {
    /// AVX512F, AVX512BW, AVX512VL and AVX512_BF16 (vdpbf16ps), with the OS saving the AVX-512
    /// registers: cpuid leaf 7 subleaves 0 and 1, and XCR0 through xgetbv (`ck_cpu_has_avx512bf16`).
    /// Always false off x86-64.
    public static let hasAVX512BF16: Bool = ck_cpu_has_avx512bf16() != 0
    /// AVX512F with the OS saving its registers, for the fused kernels' choice, unless
    /// AUDIOSEP_NO_AVX512 is set (to try the fallbacks on a CPU that has it; the bf16 gemm has
    /// its own variable, `BFloat16GEMM.disableVariable`).
    public static let hasAVX512F: Bool = ck_cpu_has_avx512f() != 0 && !isSet("AUDIOSEP_NO_AVX512")
    /// AVX2 and FMA with the OS saving the AVX registers, unless AUDIOSEP_NO_AVX2 is set.
    public static let hasAVX2FMA: Bool = ck_cpu_has_avx2_fma() != 0 && !isSet("AUDIOSEP_NO_AVX2")

    /// Whether a switch variable is on: set to anything but empty or `0`.
    static func isSet(_ variable: String) -> Bool {
        ProcessInfo.processInfo.environment[variable].map { !$0.isEmpty && $0 != "0" } ?? false
    }
}

/// bfloat16 (1 sign, 8 exponent, 7 mantissa bits) as the bf16 gemm quantises: round to nearest,
/// ties to even; NaN stays NaN (made quiet); ±inf stays; fp32 subnormals become ±0, as the
/// AVX-512 conversion instruction (vcvtne2ps2bf16) does.
public enum BFloat16 {
    /// The bf16 bit pattern nearest `value`.
    public static func bits(_ value: Float) -> UInt16 { ck_bf16_from_float(value) }
    /// The fp32 value of a bf16 bit pattern (exact).
    public static func float(bits: UInt16) -> Float { ck_float_from_bf16(bits) }
    /// `value` rounded to bf16 and widened back to fp32.
    public static func rounded(_ value: Float) -> Float { float(bits: bits(value)) }

    /// Converts `count` values with `kernel`'s converter: `.avx512BF16` runs the instruction
    /// itself (for checking that it rounds as `bits(_:)` does).
    public static func convert(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<UInt16>, count: Int,
                               kernel: BFloat16GEMM.Kernel = BFloat16GEMM.preferredKernel) {
        precondition(count >= 0)
        ck_bf16_convert(kernel.checked, source, destination, count)
    }
}

/// A weight matrix A (rows × depth) rounded to bf16 once, at model load, and laid out for the
/// bf16 gemm: tiles of `BFloat16GEMM.tileRows` rows (the last zero-padded), inside a tile the
/// depth in (k, k+1) pairs (an odd depth's last pair padded with zero), one 32-bit word per row
/// and pair. Immutable, so one instance can serve every thread.
public final class BFloat16Weights: @unchecked Sendable {
    /// Output channels: rows of A and of C.
    public let rows: Int
    /// Input channels (× 9 for a 3×3 im2col): columns of A, rows of B.
    public let depth: Int
    /// The packed words (`ck_bf16_packed_pairs` of them), 64-byte aligned.
    let packed: UnsafeMutablePointer<UInt32>

    /// Rounds the row-major fp32 `values` (rows × depth; row `r` starts at `values + r * leadingDimension`).
    /// Throws `EngineError.outOfMemory` when the packed words cannot be had.
    public init(rows: Int, depth: Int, values: UnsafePointer<Float>, leadingDimension: Int) throws {
        precondition(rows >= 0 && depth >= 0 && leadingDimension >= depth, "bf16 weights: bad shape \(rows)×\(depth), ld \(leadingDimension)")
        let words = max(1, ck_bf16_packed_pairs(rows, depth))
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, words * MemoryLayout<UInt32>.stride) == 0, let raw else {
            throw EngineError.outOfMemory(bytes: words * MemoryLayout<UInt32>.stride)
        }
        self.rows = rows
        self.depth = depth
        packed = raw.bindMemory(to: UInt32.self, capacity: words)
        ck_bf16_pack_weights(values, leadingDimension, rows, depth, packed)
    }

    /// Rounds a dense row-major `[rows][depth]` array.
    public convenience init(rows: Int, depth: Int, values: [Float]) throws {
        precondition(values.count == rows * depth, "bf16 weights: \(values.count) values for \(rows)×\(depth)")
        try self.init(rows: rows, depth: depth, values: values, leadingDimension: depth)
    }

    deinit { free(packed) }

    /// A[row][column] as stored: the bf16-rounded value (for references and tests).
    public subscript(row: Int, column: Int) -> Float {
        precondition(row >= 0 && row < rows && column >= 0 && column < depth)
        let tileRows = BFloat16GEMM.tileRows, pairs = (depth + 1) / 2
        let word = packed[(row / tileRows) * tileRows * pairs + (column / 2) * tileRows + row % tileRows]
        return BFloat16.float(bits: UInt16(truncatingIfNeeded: column % 2 == 0 ? word : word >> 16))
    }
}

/// C = A·B (+ C) with A in bf16 (`BFloat16Weights`), B fp32 rounded to bf16 as it is packed,
/// and fp32 accumulation: vdpbf16ps where the CPU has AVX-512 BF16, otherwise portable C with
/// the same quantisation (slower, and equal to it up to the order of fp32 additions).
public enum BFloat16GEMM {
    /// Which microkernel runs.
    public enum Kernel: Sendable {
        /// vdpbf16ps on 8 × 48 tiles; only where `CPUFeatures.hasAVX512BF16`.
        case avx512BF16
        /// Plain C: the same bf16 inputs and blocking, multiplied in fp32.
        case portable

        var checked: ck_bf16_kernel {
            switch self {
            case .avx512BF16:
                precondition(CPUFeatures.hasAVX512BF16, "bf16 gemm: this CPU lacks AVX-512 BF16 (cpuid leaf 7.1 EAX bit 5, or AVX512F/BW/VL, or OS support)")
                return CK_BF16_AVX512
            case .portable:
                return CK_BF16_PORTABLE
            }
        }
    }

    /// The environment variable that, set to anything but empty or `0`, makes
    /// `preferredKernel` the portable one on any CPU (read once).
    public static let disableVariable = "AUDIOSEP_NO_AVX512BF16"

    /// `.avx512BF16` when the CPU has it and `AUDIOSEP_NO_AVX512BF16` is not set, else `.portable`.
    public static let preferredKernel: Kernel = {
        let disabled = CPUFeatures.isSet(disableVariable)
        return CPUFeatures.hasAVX512BF16 && !disabled ? .avx512BF16 : .portable
    }()

    /// Rows of C per microkernel tile (weights are padded to a multiple of it).
    public static let tileRows = Int(ck_bf16_tile_rows())

    /// Alignment, in bytes, that `gemm`'s scratch must have.
    public static let scratchAlignment = 64

    /// Bytes of scratch one `gemm` call with this depth needs (either kernel). At most 48 KiB:
    /// it holds one column panel of B for one depth block, not B.
    public static func scratchByteCount(depth: Int) -> Int {
        precondition(depth >= 0)
        return ck_bf16_scratch_bytes(depth)
    }

    /// C[rows × columns] = A·B, or C + A·B when `accumulate`.
    ///
    /// - Parameters:
    ///   - weights: A, rows × depth, packed.
    ///   - b: B, fp32 row-major depth × `columns`, row `k` at `b + k * ldb` (`ldb ≥ columns`).
    ///   - c: C, fp32 row-major rows × `columns`, row `r` at `c + r * ldc` (`ldc ≥ columns`); only
    ///     those elements are read (when accumulating) and written.
    ///   - scratch: `scratchByteCount(depth:)` bytes, `scratchAlignment`-aligned, owned by this
    ///     call for its duration (one per thread).
    ///   - kernel: defaults to `preferredKernel`; `.avx512BF16` traps on a CPU without it.
    ///
    /// Single-threaded and allocation-free; calls writing disjoint parts of C with their own
    /// scratch may run at the same time (split the columns, or the rows by whole weights).
    public static func gemm(weights: BFloat16Weights, b: UnsafePointer<Float>, ldb: Int, columns: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                            scratch: UnsafeMutableRawPointer, kernel: Kernel = preferredKernel) {
        precondition(columns >= 0 && ldb >= columns && ldc >= columns, "bf16 gemm: \(columns) columns with ldb \(ldb), ldc \(ldc)")
        precondition(Int(bitPattern: scratch) % scratchAlignment == 0, "bf16 gemm: scratch is not \(scratchAlignment)-byte aligned")
        guard columns > 0, weights.rows > 0 else { return }
        ck_bf16_gemm(kernel.checked, weights.packed, weights.rows, weights.depth, b, ldb, columns, c, ldc,
                     accumulate ? 1 : 0, scratch)
    }

    /// The same, with scratch from a `BFloat16GEMM.Scratch` (checked to be large enough).
    public static func gemm(weights: BFloat16Weights, b: UnsafePointer<Float>, ldb: Int, columns: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                            scratch: Scratch, kernel: Kernel = preferredKernel) {
        precondition(scratch.byteCount >= scratchByteCount(depth: weights.depth), "bf16 gemm: scratch too small for depth \(weights.depth)")
        gemm(weights: weights, b: b, ldb: ldb, columns: columns, c: c, ldc: ldc, accumulate: accumulate,
             scratch: scratch.pointer, kernel: kernel)
    }

    /// One thread's gemm scratch, allocated once (aligned) and reused by every call up to `depth`.
    public final class Scratch {
        public let byteCount: Int
        public let pointer: UnsafeMutableRawPointer

        /// Scratch for every depth up to `depth` (any depth at all: scratch stops growing past 256).
        /// Throws `EngineError.outOfMemory` when it cannot be had.
        public init(depth: Int) throws {
            byteCount = BFloat16GEMM.scratchByteCount(depth: depth)
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, BFloat16GEMM.scratchAlignment, byteCount) == 0, let raw else {
                throw EngineError.outOfMemory(bytes: byteCount)
            }
            pointer = raw
        }

        deinit { free(pointer) }
    }
}
