/// How the network computes: chosen once when a model is loaded (`--convolution`, `--precision`).
public struct ComputeOptions: Sendable, Equatable {
    /// The algorithm for 3×3 convolutions.
    public enum Convolution: String, Sendable, CaseIterable {
        /// Winograd F(4×4, 3×3) where it pays (U-Net levels 0–4), im2col elsewhere.
        case winograd
        /// im2col + sgemm everywhere: the exact, slower form.
        case im2col
    }

    public var convolution: Convolution

    public init(convolution: Convolution = .winograd) {
        self.convolution = convolution
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

    /// `weights` is PyTorch's `[out][in][3][3]`; with `winograd`, they are also transformed
    /// (4× their memory).
    init(weights: [Float], inChannels: Int, outChannels: Int, winograd: Bool) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.weights = weights
        self.winograd = winograd ? Winograd.Weights(weights, outChannels: outChannels, inChannels: inChannels) : nil
    }

    /// The convolution of the activated channel concatenation of `inputs`.
    func callAsFunction(_ inputs: [FeatureMap], activation: Convolution.Activation?, into destination: FeatureMap?,
                        workspace: Workspace) -> FeatureMap {
        if let winograd {
            return Winograd.conv3x3(inputs, activation: activation, weights: winograd, into: destination, workspace: workspace)
        }
        return Convolution.conv3x3(inputs, activation: activation, weights: weights, outChannels: outChannels,
                                   into: destination, workspace: workspace)
    }
}
