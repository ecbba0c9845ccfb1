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
    init(weights: [Float], inChannels: Int, outChannels: Int, winograd: Bool, options: ComputeOptions) throws {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.weights = winograd ? [] : weights
        let precision = options.precision
        kernel = options.winogradKernel
        let forms: Winograd.Weights.Forms = kernel == .blas ? .matrices : .packed
        let transformed = winograd ? try Winograd.Weights(weights, outChannels: outChannels, inChannels: inChannels, forms: forms) : nil
        self.winograd = transformed
        switch (precision, transformed) {
        case (.fp32, _):
            bf16 = nil
        case (.bf16, let transformed?):
            bf16 = try transformed.bfloat16()
        case (.bf16, nil):
            bf16 = [try BFloat16Weights(rows: outChannels, depth: inChannels * 9, values: weights)]
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
