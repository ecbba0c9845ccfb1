/// How the network computes: chosen once when a model is loaded (`--convolution`, `--precision`).
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
    /// How Winograd layers run in fp32 (bf16 always takes the three phases).
    public var winogradKernel: Winograd.Kernel

    public init(convolution: Convolution = .winograd, precision: Precision = .fp32, winogradKernel: Winograd.Kernel = .best) {
        self.convolution = convolution
        self.precision = precision
        self.winogradKernel = winogradKernel
    }

    /// Whether this CPU computes `precision` in hardware (bf16: AVX-512 BF16, and not turned
    /// off with AUDIOSEP_NO_AVX512BF16). Without it bf16 still works, through portable C that is
    /// several times slower than fp32; the command line falls back to fp32 instead.
    public static func hardwareSupports(_ precision: Precision) -> Bool {
        precision == .fp32 || BFloat16GEMM.preferredKernel == .avx512BF16
    }

    public static let standard = ComputeOptions()

    /// U-Net levels below this use Winograd. Levels 0–4 do 96% of the 3×3 arithmetic; level 5
    /// and the centre, with 64 tiles or fewer per 10 s and most of the weights (9 M of 19 M),
    /// would quadruple their weights' memory for 4% of the work.
    static let winogradLevels = 5

    /// Whether a 3×3 convolution at U-Net `level` (0: full resolution) uses Winograd.
    func winograd(level: Int) -> Bool { convolution == .winograd && level < Self.winogradLevels }
}

/// One 3×3 convolution (stride 1, padding 1, no bias) with its weights in the form its
/// algorithm wants, prepared at load.
struct Conv3x3Layer {
    let inChannels: Int, outChannels: Int
    let weights: [Float]
    let winograd: Winograd.Weights?
    let kernel: Winograd.Kernel
    /// The bf16 forms, with `--precision bf16`: per Winograd point, or the im2col matrix.
    let bf16: [BFloat16Weights]?

    /// `weights` is PyTorch's `[out][in][3][3]`; with `winograd`, they are also transformed
    /// (4× their memory) into the one form the kernel reads.
    init(weights: [Float], inChannels: Int, outChannels: Int, winograd: Bool, options: ComputeOptions) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.weights = weights
        let precision = options.precision
        kernel = precision == .fp32 ? options.winogradKernel : .phases
        let forms: Winograd.Weights.Forms = kernel == .phases ? .matrices : .packed
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
    var addsResidual: Bool { winograd != nil && kernel != .phases }

    /// The convolution of the activated channel concatenation of `inputs`, plus `residual`
    /// (only where `addsResidual`).
    func callAsFunction(_ inputs: [FeatureMap], activation: Convolution.Activation?, residual: Winograd.Residual? = nil,
                        into destination: FeatureMap?, workspace: Workspace) -> FeatureMap {
        if let winograd {
            return Winograd.conv3x3(inputs, activation: activation, weights: winograd, bf16: bf16, kernel: kernel,
                                    residual: residual, into: destination, workspace: workspace)
        }
        precondition(residual == nil, "im2col adds no residual")
        return Convolution.conv3x3(inputs, activation: activation, weights: weights, bf16: bf16?.first, outChannels: outChannels,
                                   into: destination, workspace: workspace)
    }
}
