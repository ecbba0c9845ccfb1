import AudioSep
import COpenBLAS
import Foundation
import XCTest

/// Prints the bf16 gemm's throughput against OpenBLAS's fp32 sgemm, both single-threaded, on the
/// ResUNet's shapes, in one run. Opt-in (BF16_GEMM_BENCH=1; `tools/bench-gemm` builds it in
/// release and runs it), never asserted: timings belong in benchmarks, not in pass/fail tests.
final class BFloat16GEMMBenchmarkTests: XCTestCase {
    func testPrintThroughputAgainstSGEMM() throws {
        let environment = ProcessInfo.processInfo.environment
        try XCTSkipUnless(environment["BF16_GEMM_BENCH"] == "1", "set BF16_GEMM_BENCH=1 (or run tools/bench-gemm) to print bf16 gemm throughput")
        let repeats = max(1, Int(environment["BF16_GEMM_BENCH_REPEATS"] ?? "") ?? 7)
        openblas_set_num_threads(1)
        // (rows = output channels, depth = input channels or 9 × them, columns = pixels of one tile)
        let shapes: [(rows: Int, depth: Int, columns: Int)] = [
            (256, 2304, 2048), (384, 3456, 1024), (128, 1152, 2048), (256, 256, 4096),
            (64, 576, 4096), (32, 288, 4096), (32, 32, 4096), (32, 64, 4096), (384, 6912, 512),
        ]
        let kernel = BFloat16GEMM.preferredKernel
        print("bench-gemm: kernel \(kernel), best of \(repeats) runs per shape (sgemm and bf16 alternating), one thread")
        print("bench-gemm:      M     K      N   sgemm GF/s    bf16 GF/s   ratio   portable GF/s")
        for shape in shapes {
            let (m, k, n) = shape
            var state: UInt64 = 1
            func random(_ count: Int) -> [Float] {
                (0..<count).map { _ in
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return Float(state >> 40) / Float(1 << 23) - 1
                }
            }
            let a = random(m * k), b = random(k * n)
            var c = [Float](repeating: 0, count: m * n)
            let weights = try BFloat16Weights(rows: m, depth: k, values: a)
            let scratch = try BFloat16GEMM.Scratch(depth: k)
            func seconds(_ body: () -> Void) -> Double {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
            func sgemm() {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
            }
            func bf16(_ kernel: BFloat16GEMM.Kernel) {
                BFloat16GEMM.gemm(weights: weights, b: b, ldb: n, columns: n, c: &c, ldc: n, accumulate: false, scratch: scratch, kernel: kernel)
            }
            sgemm()
            bf16(kernel)
            var bestSGEMM = Double.infinity, bestBF16 = Double.infinity
            for _ in 0..<repeats {
                bestSGEMM = min(bestSGEMM, seconds(sgemm))
                bestBF16 = min(bestBF16, seconds { bf16(kernel) })
            }
            // The portable kernel is only timed once: it is the fallback, not the product.
            let portable = kernel == .portable ? bestBF16 : seconds { bf16(.portable) }
            let flops = 2 * Double(m) * Double(k) * Double(n)
            print(String(format: "bench-gemm: %6d %5d %6d %12.1f %12.1f %7.2f %15.1f", m, k, n, flops / bestSGEMM / 1e9,
                         flops / bestBF16 / 1e9, bestSGEMM / bestBF16, flops / portable / 1e9))
        }
    }
}
