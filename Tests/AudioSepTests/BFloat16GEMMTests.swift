import AudioSep
import COpenBLAS
import Foundation
import XCTest

/// The bf16 gemm against a double-precision product of the same bf16-rounded inputs (so only
/// fp32 accumulation error remains), its two kernels against each other, and its total error
/// against fp32 sgemm.
final class BFloat16GEMMTests: XCTestCase {
    // MARK: Helpers

    /// The kernels this machine can run: the portable one always, AVX-512 BF16 where present.
    var kernels: [BFloat16GEMM.Kernel] { CPUFeatures.hasAVX512BF16 ? [.avx512BF16, .portable] : [.portable] }

    struct Shape: CustomStringConvertible {
        var rows: Int, depth: Int, columns: Int
        var ldbExtra = 0, ldcExtra = 0
        var description: String { "\(rows)×\(depth)·\(depth)×\(columns) (ldb +\(ldbExtra), ldc +\(ldcExtra))" }
    }

    /// Runs the gemm on random data; returns C (rows × ldc, plus one more row that, like the
    /// padding past the columns, starts as `sentinel` and must stay so), the double reference on
    /// the bf16-rounded inputs and the per-element error scale Σ|a·b| + |c₀|.
    func run(_ shape: Shape, accumulate: Bool, kernel: BFloat16GEMM.Kernel, seed: UInt64) throws
        -> (c: [Float], reference: [Double], scale: [Double], ldc: Int, sentinel: Float) {
        let (m, k, n) = (shape.rows, shape.depth, shape.columns)
        let ldb = n + shape.ldbExtra, ldc = n + shape.ldcExtra
        let a = signed(m * k, seed: seed)
        let b = signed(k * ldb, seed: seed + 1)
        let sentinel: Float = 12345
        var c = signed((m + 1) * ldc, seed: seed + 2)
        for index in c.indices where index % ldc >= n || index >= m * ldc { c[index] = sentinel }
        let initial = c
        let weights = try BFloat16Weights(rows: m, depth: k, values: a)
        let scratch = try BFloat16GEMM.Scratch(depth: k)
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                BFloat16GEMM.gemm(weights: weights, b: bp.baseAddress!, ldb: ldb, columns: n, c: cp.baseAddress!, ldc: ldc,
                                  accumulate: accumulate, scratch: scratch, kernel: kernel)
            }
        }
        var reference = [Double](repeating: 0, count: m * n), scale = reference
        let roundedB = b.map { Double(BFloat16.rounded($0)) }
        for r in 0..<m {
            for j in 0..<n {
                var sum = accumulate ? Double(initial[r * ldc + j]) : 0, magnitude = abs(sum)
                for p in 0..<k {
                    let product = Double(weights[r, p]) * roundedB[p * ldb + j]
                    sum += product
                    magnitude += abs(product)
                }
                reference[r * n + j] = sum
                scale[r * n + j] = magnitude
            }
        }
        return (c, reference, scale, ldc, sentinel)
    }

    // MARK: Rounding

    func testRoundingToBFloat16() throws {
        func bits(_ value: Float) -> UInt16 { BFloat16.bits(value) }
        XCTAssertEqual(bits(1), 0x3F80)
        XCTAssertEqual(bits(-1), 0xBF80)
        XCTAssertEqual(bits(0), 0x0000)
        XCTAssertEqual(bits(-0.0), 0x8000)
        XCTAssertEqual(bits(0.1), 0x3DCD, "0x3DCCCCCD rounds up")
        // Ties go to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
        XCTAssertEqual(bits(1 + 0x1p-8), 0x3F80)
        XCTAssertEqual(bits(1 + 3 * 0x1p-8), 0x3F82, "halfway between 0x3F81 and 0x3F82: up to even")
        XCTAssertEqual(bits(1 + 0x1p-8 + 0x1p-20), 0x3F81, "just above halfway: up")
        XCTAssertEqual(bits(1 + 0x1p-8 - 0x1p-20), 0x3F80, "just below halfway: down")
        XCTAssertEqual(bits(-(1 + 3 * 0x1p-8)), 0xBF82)
        // Large: rounding may carry into the exponent; past bf16's largest finite value it is inf.
        XCTAssertEqual(bits(3.0e38), 0x7F62)
        XCTAssertEqual(bits(Float(bitPattern: 0x7F7F_7FFF)), 0x7F7F, "just below the halfway point to inf")
        XCTAssertEqual(bits(.greatestFiniteMagnitude), 0x7F80)
        XCTAssertEqual(bits(-.greatestFiniteMagnitude), 0xFF80)
        XCTAssertEqual(bits(Float(bitPattern: 0x3FFF_FFFF)), 0x4000, "carry into the exponent")
        // ±inf stays; NaN stays NaN (quiet, sign kept), also when its payload is all in the low half.
        XCTAssertEqual(bits(.infinity), 0x7F80)
        XCTAssertEqual(bits(-.infinity), 0xFF80)
        for nan in [Float.nan, -Float.nan, .signalingNaN, Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFF80_8000)] {
            XCTAssertTrue(BFloat16.rounded(nan).isNaN, "NaN \(String(nan.bitPattern, radix: 16))")
            XCTAssertEqual(bits(nan) & 0x8000, UInt16(nan.bitPattern >> 16) & 0x8000, "sign of NaN kept")
        }
        // Subnormals flush to signed zero (as vcvtne2ps2bf16 does); the smallest normal stays.
        XCTAssertEqual(bits(.leastNonzeroMagnitude), 0x0000)
        XCTAssertEqual(bits(-.leastNonzeroMagnitude), 0x8000)
        XCTAssertEqual(bits(Float(bitPattern: 0x007F_FFFF)), 0x0000)
        XCTAssertEqual(bits(.leastNormalMagnitude), 0x0080)
        XCTAssertEqual(BFloat16.rounded(.leastNormalMagnitude), .leastNormalMagnitude)
        // Widening is exact.
        XCTAssertEqual(BFloat16.float(bits: 0x3F81), 1 + 0x1p-7)
    }

    /// The AVX-512 conversion instruction and the scalar rounding agree bit for bit, edge cases
    /// and random values of every exponent alike.
    func testAVX512ConversionMatchesScalarRounding() throws {
        try XCTSkipUnless(CPUFeatures.hasAVX512BF16, "this CPU lacks AVX-512 BF16 (AVX512_BF16, or AVX512F/BW/VL, or OS support): only the portable kernel runs")
        var values: [Float] = [1, -1, 0, -0.0, 0.1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, 3.0e38, .greatestFiniteMagnitude,
                               .infinity, -.infinity, .nan, .signalingNaN, Float(bitPattern: 0x7F80_0001),
                               .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
                               Float(bitPattern: 0x3FFF_FFFF), Float(bitPattern: 0x7F7F_7FFF)]
        var state: UInt64 = 7
        for _ in 0..<10_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32)))
        }
        var hardware = [UInt16](repeating: 0, count: values.count)
        BFloat16.convert(values, to: &hardware, count: values.count, kernel: .avx512BF16)
        for (value, converted) in zip(values, hardware) {
            let scalar = BFloat16.bits(value)
            if value.isNaN {
                XCTAssertTrue(BFloat16.float(bits: converted).isNaN, "NaN \(String(value.bitPattern, radix: 16))")
            } else {
                XCTAssertEqual(converted, scalar, "\(value) (0x\(String(value.bitPattern, radix: 16)))")
            }
        }
    }

    // MARK: The product

    func testGEMMMatchesDoubleReferenceOnRoundedInputs() throws {
        let shapes = [
            Shape(rows: 8, depth: 16, columns: 48),                         // whole tiles
            Shape(rows: 13, depth: 7, columns: 5),                          // partial tile, odd depth, narrow
            Shape(rows: 32, depth: 288, columns: 100, ldbExtra: 3, ldcExtra: 5),   // crosses a depth block
            Shape(rows: 20, depth: 1, columns: 1),                          // depth 1, one column
            Shape(rows: 5, depth: 600, columns: 1, ldbExtra: 2, ldcExtra: 1),
            Shape(rows: 37, depth: 513, columns: 67, ldbExtra: 16, ldcExtra: 9),   // odd depth over three blocks
            Shape(rows: 64, depth: 576, columns: 33),
            Shape(rows: 1, depth: 3, columns: 17),
        ]
        var worst = 0.0
        for kernel in kernels {
            for (index, shape) in shapes.enumerated() {
                for accumulate in [false, true] {
                    let result = try run(shape, accumulate: accumulate, kernel: kernel, seed: UInt64(10 * index + 1))
                    let n = shape.columns
                    var maxRelative = 0.0, paddingIntact = true
                    for (index, value) in result.c.enumerated() {
                        let (r, j) = index.quotientAndRemainder(dividingBy: result.ldc)
                        if r < shape.rows && j < n {
                            let error = abs(Double(value) - result.reference[r * n + j])
                            maxRelative = max(maxRelative, error / max(result.scale[r * n + j], 1e-30))
                        } else if value != result.sentinel {
                            paddingIntact = false
                        }
                    }
                    worst = max(worst, maxRelative)
                    // fp32 accumulation: a few units of 2^-24 of Σ|a·b|, whatever the depth.
                    XCTAssertLessThan(maxRelative, 1e-6, "\(kernel) \(shape) accumulate \(accumulate)")
                    XCTAssertTrue(paddingIntact, "\(kernel) \(shape): wrote past the columns or rows")
                }
            }
        }
        print("bf16 gemm vs double reference on bf16 inputs: max |error| / Σ|a·b| = \(String(format: "%.2e", worst))")
    }

    func testZeroDepthGivesZeroOrLeavesC() throws {
        let weights = try BFloat16Weights(rows: 3, depth: 0, values: [])
        let scratch = try BFloat16GEMM.Scratch(depth: 0)
        let b: [Float] = [0]
        for kernel in kernels {
            var c: [Float] = [1, 2, 3, 4, 5, 6]
            BFloat16GEMM.gemm(weights: weights, b: b, ldb: 2, columns: 2, c: &c, ldc: 2, accumulate: true, scratch: scratch, kernel: kernel)
            XCTAssertEqual(c, [1, 2, 3, 4, 5, 6])
            BFloat16GEMM.gemm(weights: weights, b: b, ldb: 2, columns: 2, c: &c, ldc: 2, accumulate: false, scratch: scratch, kernel: kernel)
            XCTAssertEqual(c, [0, 0, 0, 0, 0, 0])
        }
    }

    func testWeightsKeepTheRoundedValues() throws {
        let values = signed(11 * 9, seed: 3)
        let weights = try BFloat16Weights(rows: 11, depth: 9, values: values)
        for r in 0..<11 { for k in 0..<9 { XCTAssertEqual(weights[r, k], BFloat16.rounded(values[r * 9 + k])) } }
    }

    func testAVX512AndPortableKernelsAgree() throws {
        try XCTSkipUnless(CPUFeatures.hasAVX512BF16, "this CPU lacks AVX-512 BF16 (AVX512_BF16, or AVX512F/BW/VL, or OS support): nothing to compare the portable kernel with")
        for (index, shape) in [Shape(rows: 64, depth: 576, columns: 200, ldbExtra: 1, ldcExtra: 2),
                               Shape(rows: 17, depth: 301, columns: 49),
                               Shape(rows: 32, depth: 32, columns: 96)].enumerated() {
            for accumulate in [false, true] {
                let seed = UInt64(100 + index)
                let avx = try run(shape, accumulate: accumulate, kernel: .avx512BF16, seed: seed)
                let portable = try run(shape, accumulate: accumulate, kernel: .portable, seed: seed)
                var worst = 0.0
                for r in 0..<shape.rows {
                    for j in 0..<shape.columns {
                        let difference = abs(Double(avx.c[r * avx.ldc + j]) - Double(portable.c[r * avx.ldc + j]))
                        worst = max(worst, difference / max(avx.scale[r * shape.columns + j], 1e-30))
                    }
                }
                XCTAssertLessThan(worst, 1e-6, "\(shape) accumulate \(accumulate)")
            }
        }
    }

    /// Two threads, each with its own scratch, on the two halves of the columns: the same C as one call.
    func testConcurrentCallsOnDisjointColumns() throws {
        let m = 24, k = 300, n = 200
        let weights = try BFloat16Weights(rows: m, depth: k, values: signed(m * k, seed: 61))
        let b = signed(k * n, seed: 62)
        for kernel in kernels {
            var whole = [Float](repeating: 0, count: m * n), split = whole
            BFloat16GEMM.gemm(weights: weights, b: b, ldb: n, columns: n, c: &whole, ldc: n, accumulate: false,
                              scratch: try BFloat16GEMM.Scratch(depth: k), kernel: kernel)
            let scratches = [try BFloat16GEMM.Scratch(depth: k), try BFloat16GEMM.Scratch(depth: k)]
            b.withUnsafeBufferPointer { bp in
                split.withUnsafeMutableBufferPointer { cp in
                    let bBase = bp.baseAddress!, cBase = cp.baseAddress!
                    DispatchQueue.concurrentPerform(iterations: 2) { half in
                        let first = half * 104, columns = half == 0 ? 104 : n - 104
                        BFloat16GEMM.gemm(weights: weights, b: bBase + first, ldb: n, columns: columns, c: cBase + first, ldc: n,
                                          accumulate: false, scratch: scratches[half], kernel: kernel)
                    }
                }
            }
            XCTAssertEqual(split, whole, "\(kernel)")
        }
    }

    /// bf16's 8-bit significand costs accuracy against fp32: about 50–55 dB of SNR at depth 288.
    func testSignalToNoiseAgainstFP32SGEMM() throws {
        let m = 64, k = 288, n = 512
        let a = signed(m * k, seed: 41), b = signed(k * n, seed: 42)
        var exact = [Float](repeating: 0, count: m * n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &exact, Int32(n))
        let weights = try BFloat16Weights(rows: m, depth: k, values: a)
        let scratch = try BFloat16GEMM.Scratch(depth: k)
        for kernel in kernels {
            var c = [Float](repeating: 0, count: m * n)
            BFloat16GEMM.gemm(weights: weights, b: b, ldb: n, columns: n, c: &c, ldc: n, accumulate: false, scratch: scratch, kernel: kernel)
            let signal = exact.reduce(0.0) { $0 + Double($1) * Double($1) }
            let noise = zip(c, exact).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            let snr = 10 * log10(signal / noise)
            print(String(format: "bf16 gemm (%@) vs fp32 sgemm, %d×%d·%d×%d: SNR %.1f dB", "\(kernel)", m, k, k, n, snr))
            XCTAssertGreaterThan(snr, 45, "\(kernel)")
            XCTAssertLessThan(snr, 70, "\(kernel): suspiciously exact for bf16 inputs")
        }
    }

    func testPreferredKernelFollowsCPUAndEnvironment() throws {
        let disabled = ProcessInfo.processInfo.environment[BFloat16GEMM.disableVariable].map { !$0.isEmpty && $0 != "0" } ?? false
        let expected: BFloat16GEMM.Kernel = CPUFeatures.hasAVX512BF16 && !disabled ? .avx512BF16 : .portable
        XCTAssertEqual(BFloat16GEMM.preferredKernel, expected)
        print("AVX-512 BF16: \(CPUFeatures.hasAVX512BF16); \(BFloat16GEMM.disableVariable) set: \(disabled); preferred kernel: \(BFloat16GEMM.preferredKernel)")
    }
}
