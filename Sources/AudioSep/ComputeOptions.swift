import CKernels
import Foundation

/// How the network computes: chosen once when a model is loaded (`--convolution`, `--precision`, `--kernels`).
public struct ComputeOptions: Sendable, Equatable {
    /// The algorithm for 3×3 convolutions.
    public enum Convolution: String, Sendable, CaseIterable {
        /// Winograd F(4×4, 3×3) where it pays (U-Net levels 0–4), im2col elsewhere.
        case winograd
        /// im2col + sgemm everywhere: the exact, slower form.
        case im2col
    }

    /// The arithmetic of the convolutions' matrix products.
    public enum Precision: String, Sendable, CaseIterable {
        /// float32 throughout (OpenBLAS sgemm).
        case fp32
        /// The 3×3 convolutions' products with weights and inputs rounded to bfloat16 and fp32
        /// accumulation (vdpbf16ps); everything else stays fp32. Needs AVX-512 BF16 to be fast:
        /// see `hardwareSupports`.
        case bf16
    }

    public var convolution: Convolution
    public var precision: Precision
    /// The code for fp32 Winograd layers and the upsampling (bf16 products always run on the bf16 gemm).
    public var kernels: KernelBuild
    /// Whether the full-resolution level's two ResNet blocks run in row bands where their
    /// convolutions are on a fused kernel (`ResidualBlock.forwardInBands`: the same results,
    /// without the hidden map ever leaving the cache). Off only to compare the two.
    public var rowBands: Bool

    public init(convolution: Convolution = .winograd, precision: Precision = .fp32, kernels: KernelBuild = .best,
                rowBands: Bool = true) {
        self.convolution = convolution
        self.precision = precision
        self.kernels = kernels
        self.rowBands = rowBands
    }

    /// Whether this CPU computes `precision` in hardware (bf16: AVX-512 BF16, and not turned
    /// off with AUDIOSEP_NO_AVX512BF16). Without it bf16 still works, through portable C that is
    /// several times slower than fp32; the command line falls back to fp32 instead.
    public static func hardwareSupports(_ precision: Precision) -> Bool {
        precision == .fp32 || BFloat16GEMM.preferredKernel == .avx512BF16
    }

    public static let standard = ComputeOptions()

    /// U-Net levels below this use Winograd on OpenBLAS (`--kernels blas`). Levels 0–4 do 96%
    /// of the 3×3 arithmetic; level 5 and the centre, with 64 tiles or fewer per 10 s and most
    /// of the weights (9 M of 19 M), would have sgemm repack 4× their weights for every unit.
    static let blasWinogradLevels = 5

    /// Whether a 3×3 convolution at U-Net `level` (0: full resolution, 6: the centre) uses
    /// Winograd: every level on the fused kernels, which read the transformed weights in place
    /// (for level 5 and the centre, that costs 143 MB more weights), levels 0–4 on OpenBLAS, which
    /// would repack the transformed weights for every unit of work.
    func winograd(level: Int) -> Bool {
        convolution == .winograd && (winogradKernel != .blas || level < Self.blasWinogradLevels)
    }

    /// The code Winograd layers run on: `kernels` in fp32; bf16's products run on the bf16 gemm
    /// in three phases.
    var winogradKernel: KernelBuild { precision == .fp32 ? kernels : .blas }
}

/// Which code runs the layers that have a fused C kernel (Winograd 3×3 convolutions in fp32, the
/// decoder's upsampling): one of its builds, or the paths over OpenBLAS (`--kernels`).
public enum KernelBuild: String, CaseIterable, Sendable {
    /// The fused kernels for AVX-512F: a Winograd layer in blocks of 32 tiles from input to
    /// output in L2 (winograd.c), the upsampling in blocks of 32 pixels (upsample.c).
    case avx512
    /// The same C for AVX2 + FMA (equal to AVX-512's results, with half the vector width).
    case avx2
    /// The same C for any CPU, without fused multiply-adds (3× slower than AVX2).
    case portable
    /// OpenBLAS sgemm: Winograd in units of up to 512 tiles in three thread-shared phases (V,
    /// 36 products, Aᵀ M A), the upsampling in bands.
    case blas

    /// The build to call, or nil for the OpenBLAS paths.
    var fused: ck_build? {
        switch self {
        case .avx512: CK_BUILD_AVX512
        case .avx2: CK_BUILD_AVX2
        case .portable: CK_BUILD_PORTABLE
        case .blas: nil
        }
    }

    /// Whether this CPU can run it.
    public var isSupported: Bool {
        switch self {
        case .avx512: CPUFeatures.hasAVX512F
        case .avx2: CPUFeatures.hasAVX2FMA
        case .portable, .blas: true
        }
    }

    /// The fastest this CPU runs: the AVX-512 or AVX2 build, else OpenBLAS (which beats the
    /// portable build: it has no fused multiply-add and few registers).
    public static let best: KernelBuild = [.avx512, .avx2].first { $0.isSupported } ?? .blas
}
