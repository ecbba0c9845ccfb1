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

    public init(convolution: Convolution = .winograd, precision: Precision = .fp32, kernels: KernelBuild = .best) {
        self.convolution = convolution
        self.precision = precision
        self.kernels = kernels
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
    /// (level 5 and the centre: 0.64 → 0.23 s a minute, for 143 MB more weights), levels 0–4 on
    /// OpenBLAS.
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
    /// The same C for AVX2 + FMA (equal to AVX-512's results; about 15% slower on Zen 4).
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

/// One 3×3 convolution (stride 1, padding 1, no bias) with its weights in the form its
/// algorithm wants, prepared at load.
struct Conv3x3Layer {
    let inChannels: Int, outChannels: Int
    /// The weights as PyTorch has them, for im2col (empty for a Winograd layer).
    let weights: [Float]
    let winograd: Winograd.Weights?
    let kernel: KernelBuild
    /// The bf16 forms, with `--precision bf16`: per Winograd point, or the im2col matrix.
    let bf16: [BFloat16Weights]?

    /// `weights` is PyTorch's `[out][in][3][3]`; with `winograd`, they are transformed (4× their
    /// memory) into the one form the kernel reads, and only that form is kept.
    init(weights: [Float], inChannels: Int, outChannels: Int, winograd: Bool, options: ComputeOptions) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.weights = winograd ? [] : weights
        let precision = options.precision
        kernel = options.winogradKernel
        let forms: Winograd.Weights.Forms = kernel == .blas ? .matrices : .packed
        let transformed = winograd ? Winograd.Weights(weights, outChannels: outChannels, inChannels: inChannels, forms: forms) : nil
        self.winograd = transformed
        switch (precision, transformed) {
        case (.fp32, _):
            bf16 = nil
        case (.bf16, let transformed?):
            bf16 = transformed.bfloat16()
        case (.bf16, nil):
            bf16 = [BFloat16Weights(rows: outChannels, depth: inChannels * 9, values: weights)]
        }
    }

    /// Whether the convolution can add a residual as it writes its output (a fused Winograd kernel).
    var addsResidual: Bool { winograd != nil && kernel != .blas }

    /// The convolution of the activated channel concatenation of `inputs`, plus `residual`, and
    /// its 2 × 2 average pool into `pooled` (both only where `addsResidual`).
    func callAsFunction(_ inputs: [FeatureMap], activation: Convolution.Activation?, residual: Winograd.Residual? = nil,
                        pooled: FeatureMap? = nil, into destination: FeatureMap?, workspace: Workspace) -> FeatureMap {
        if let winograd {
            return Winograd.conv3x3(inputs, activation: activation, weights: winograd, bf16: bf16, kernel: kernel,
                                    residual: residual, pooled: pooled, into: destination, workspace: workspace)
        }
        precondition(residual == nil && pooled == nil, "im2col adds no residual and pools nothing")
        return Convolution.conv3x3(inputs, activation: activation, weights: weights, bf16: bf16?.first, outChannels: outChannels,
                                   into: destination, workspace: workspace)
    }
}
