import Foundation
import Weights

// AudioSep's separation network, ResUNet30 with FiLM conditioning ("Separate Anything You
// Describe", Liu et al. 2023; Audio-AGI/AudioSep models/resunet.py), ported from our PyTorch
// reference in tools/reference/audiosep_reference.py. Checkpoint keys are upstream's:
// `<prefix>base.…` for the U-Net, `<prefix>film.<module path joined by "->">.…` for the β Linears.

/// BatchNorm in inference form, folded to y = scale·x + shift (eps 1e-5, PyTorch's default).
struct FoldedBatchNorm {
    let scale: [Float]
    let shift: [Float]

    init(_ weights: WeightLookup, _ key: String, channels: Int) throws {
        let gamma = try weights.require(key + ".weight", shape: [channels])
        let beta = try weights.require(key + ".bias", shape: [channels])
        let mean = try weights.require(key + ".running_mean", shape: [channels])
        let variance = try weights.require(key + ".running_var", shape: [channels])
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            scale[c] = gamma[c] / (variance[c] + 1e-5).squareRoot()
            shift[c] = beta[c] - mean[c] * scale[c]
        }
        self.scale = scale
        self.shift = shift
    }

    /// The shift with a FiLM β added: what the fused activation adds after scaling.
    func offset(adding beta: [Float]) -> [Float] { zip(shift, beta).map(+) }
}

/// A FiLM β: Linear(condition → channels), evaluated once per query.
struct FiLMLinear {
    let weight: [Float]   // [channels][condition]
    let bias: [Float]
    let channels: Int
    let conditionSize: Int

    init(_ weights: WeightLookup, _ key: String, channels: Int, conditionSize: Int) throws {
        self.weight = try weights.require(key + ".weight", shape: [channels, conditionSize])
        self.bias = try weights.require(key + ".bias", shape: [channels])
        self.channels = channels
        self.conditionSize = conditionSize
    }

    func callAsFunction(_ condition: [Float]) -> [Float] {
        (0..<channels).map { c in
            var sum = bias[c]
            for i in 0..<conditionSize { sum += weight[c * conditionSize + i] * condition[i] }
            return sum
        }
    }
}

/// Upstream ConvBlockRes: out = shortcut(x) + conv2(lrelu(bn2(conv1(lrelu(bn1(x) + β1))) + β2)).
struct ResidualBlock {
    let inChannels: Int, outChannels: Int
    let bn1: FoldedBatchNorm, bn2: FoldedBatchNorm
    let conv1: Conv3x3Layer, conv2: Conv3x3Layer
    /// The 1×1 shortcut where in ≠ out (its weight empty where conv2 adds it from `packedShortcut`).
    let shortcut: (weight: [Float], bias: [Float])?
    /// Where conv2 runs on a fused Winograd kernel, it adds the residual (the input, or the
    /// shortcut packed here) as it writes: no pass of its own over the maps.
    let fusesResidual: Bool
    let packedShortcut: Winograd.Shortcut?
    let beta1: FiLMLinear, beta2: FiLMLinear

    /// - Parameters: `base` is the block's key (`…base.encoder_block1.conv_block1`), `film` its FiLM path.
    /// `level` is the U-Net level the block works at (0: full resolution; the centre is 6).
    init(_ weights: WeightLookup, base: String, film: String, inChannels: Int, outChannels: Int, conditionSize: Int,
         level: Int, options: ComputeOptions) throws {
        self.inChannels = inChannels
        self.outChannels = outChannels
        bn1 = try FoldedBatchNorm(weights, base + ".bn1", channels: inChannels)
        bn2 = try FoldedBatchNorm(weights, base + ".bn2", channels: outChannels)
        conv1 = try Conv3x3Layer(weights: try weights.require(base + ".conv1.weight", shape: [outChannels, inChannels, 3, 3]),
                             inChannels: inChannels, outChannels: outChannels, winograd: options.winograd(level: level),
                             options: options)
        conv2 = try Conv3x3Layer(weights: try weights.require(base + ".conv2.weight", shape: [outChannels, outChannels, 3, 3]),
                             inChannels: outChannels, outChannels: outChannels, winograd: options.winograd(level: level),
                             options: options)
        let raw = inChannels == outChannels ? nil
            : (weight: try weights.require(base + ".shortcut.weight", shape: [outChannels, inChannels, 1, 1]),
               bias: try weights.require(base + ".shortcut.bias", shape: [outChannels]))
        fusesResidual = conv2.addsResidual
        packedShortcut = fusesResidual ? try raw.map {
            try Winograd.Shortcut(weights: $0.weight, bias: $0.bias, outChannels: outChannels, inChannels: inChannels)
        } : nil
        // Where conv2 adds the shortcut, only the packed form is read: the tuple keeps the bias
        // and says the block has a shortcut.
        shortcut = packedShortcut == nil ? raw : raw.map { (weight: [], bias: $0.bias) }
        beta1 = try FiLMLinear(weights, film + "->beta1", channels: inChannels, conditionSize: conditionSize)
        beta2 = try FiLMLinear(weights, film + "->beta2", channels: outChannels, conditionSize: conditionSize)
    }

    /// The name the block is traced under when it runs in row bands: one stage, with the layers
    /// made and used band by band around it (`before`: pre_conv or the upsampling, `after`:
    /// after_conv), e.g. `/pre_conv+conv1+conv2+residual+pool`.
    func bandedStage(pooled: Bool, before: String? = nil, after: String? = nil) -> String {
        let fused = fusedStage(pooled: pooled).dropFirst().split(separator: "+").map(String.init)
        return "/" + ([before, "conv1"].compactMap { $0 } + fused + [after].compactMap { $0 }).joined(separator: "+")
    }

    /// The name conv2 is traced under when it adds the residual itself (and pools its output).
    func fusedStage(pooled: Bool) -> String { (shortcut == nil ? "/conv2+residual" : "/conv2+shortcut") + (pooled ? "+pool" : "") }

    /// Whether conv2 can also write the block's pooled output, for a pool of `size`: the fused
    /// kernels do 2 × 2.
    func poolsInKernel(_ size: (frames: Int, bins: Int)) -> Bool { fusesResidual && size == (2, 2) }

    /// The per-query offsets of the two fused activations.
    func offsets(_ condition: [Float]) -> ([Float], [Float]) {
        (bn1.offset(adding: beta1(condition)), bn2.offset(adding: beta2(condition)))
    }

    /// The block on the channel concatenation of `inputs` (one map, or a decoder's [upsampled, skip]).
    /// Both activations are fused into the convolutions' gathering; the shortcut adds into the output.
    /// `hidden` and `output`, when given, are where the intermediate and the result go (workspace
    /// slots); `output` must not overlap the inputs or `hidden`.
    /// `trace`, when given, hears `<name>/conv1`, `<name>/conv2` and `<name>/shortcut` (or `/residual`),
    /// or, where conv2 adds the residual, `<name>/conv1` and `<name>/conv2+shortcut` (or `+residual`,
    /// and `+pool` when it writes `pooled`, the output's 2 × 2 average pool: only where `poolsInKernel`).
    func forward(_ inputs: [FeatureMap], offsets: ([Float], [Float]), hidden: FeatureMap? = nil, output: FeatureMap? = nil,
                 pooled: FeatureMap? = nil, workspace: Workspace, name: String = "", trace: ResUNet30.Trace? = nil) -> FeatureMap {
        precondition(pooled == nil || fusesResidual)
        let h = conv1(inputs, activation: .init(scale: bn1.scale, offset: offsets.0), into: hidden, workspace: workspace)
        trace?(name + "/conv1", h)
        if fusesResidual {
            let residual: Winograd.Residual = packedShortcut.map { .shortcut(inputs, $0) } ?? .identity(inputs)
            let out = conv2([h], activation: .init(scale: bn2.scale, offset: offsets.1), residual: residual, pooled: pooled,
                            into: output, workspace: workspace)
            trace?(name + fusedStage(pooled: pooled != nil), out)
            return out
        }
        let out = conv2([h], activation: .init(scale: bn2.scale, offset: offsets.1), into: output, workspace: workspace)
        trace?(name + "/conv2", out)
        if let shortcut {
            Convolution.conv1x1(inputs, weights: shortcut.weight, bias: shortcut.bias, outChannels: outChannels,
                                accumulatingInto: out, workspace: workspace)
            trace?(name + "/shortcut", out)
        } else {
            precondition(inputs.count == 1)
            Convolution.add(inputs[0], to: out, workspace: workspace)
            trace?(name + "/residual", out)
        }
        return out
    }

    /// Floating-point operations of `forward` on maps of `pixels` pixels, by the names it traces.
    /// `pooled`: conv2 also pools (2 × 2, one add per input value).
    func operations(pixels: Int, name: String, pooled: Bool = false) -> [(String, Double)] {
        let p = Double(pixels), i = Double(inChannels), o = Double(outChannels)
        let conv1 = (name + "/conv1", 2 * 9 * i * o * p + 3 * i * p), conv2 = 2 * 9 * o * o * p + 3 * o * p
        let residual = shortcut == nil ? ("/residual", o * p) : ("/shortcut", 2 * i * o * p + 2 * o * p)
        if fusesResidual { return [conv1, (name + fusedStage(pooled: pooled), conv2 + residual.1 + (pooled ? o * p : 0))] }
        return [conv1, (name + "/conv2", conv2), (name + residual.0, residual.1)]
    }
}

/// Upstream DecoderBlockRes1B: up = convT(lrelu(bn1(x) + β1)); out = block(cat[up, skip]).
struct DecoderBlock {
    let inChannels: Int, outChannels: Int
    let stride: (frames: Int, bins: Int)
    let bn1: FoldedBatchNorm
    let beta1: FiLMLinear
    let upsample: UpsampleLayer
    let block: ResidualBlock

    init(_ weights: WeightLookup, base: String, film: String, inChannels: Int, outChannels: Int,
         stride: (Int, Int), conditionSize: Int, level: Int, options: ComputeOptions) throws {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.stride = stride
        bn1 = try FoldedBatchNorm(weights, base + ".bn1", channels: inChannels)
        beta1 = try FiLMLinear(weights, film + "->beta1", channels: inChannels, conditionSize: conditionSize)
        upsample = try UpsampleLayer(weights: try weights.require(base + ".conv1.weight", shape: [inChannels, outChannels, stride.0, stride.1]),
                                 inChannels: inChannels, outChannels: outChannels, kernelFrames: stride.0, kernelBins: stride.1,
                                 kernels: options.kernels)
        block = try ResidualBlock(weights, base: base + ".conv_block2", film: film + "->conv_block2",
                                  inChannels: 2 * outChannels, outChannels: outChannels, conditionSize: conditionSize,
                                  level: level, options: options)
        // bn2 and β2 exist in every checkpoint but the forward pass never reads them: check they are there.
        _ = try weights.requireShape(base + ".bn2.weight", rank: 1)
        _ = try weights.requireShape(film + "->beta2.weight", rank: 2)
    }
}

/// The whole network with its weights; immutable and shared by every query.
public final class ResUNet30 {
    public static let sampleRate = 32_000
    public static let conditionSize = 512
    static let frequencyBins = 1025
    /// Five encoder blocks halve time: frames are padded to a multiple of 32.
    static let timeMultiple = 32
    static let pools = [(2, 2), (2, 2), (2, 2), (2, 2), (2, 2), (1, 2)]

    /// The widest layer accepted: upstream's widest is 384 channels.
    public static let maximumWidth = 2048

    /// Channel widths found in the checkpoint: encoder blocks 1–6 and the centre.
    public let encoderWidths: [Int]
    public let centreWidth: Int
    let bn0: FoldedBatchNorm
    let preConv: (weight: [Float], bias: [Float])
    let encoders: [ResidualBlock]
    let centre: ResidualBlock
    let decoders: [DecoderBlock]
    let afterConv: (weight: [Float], bias: [Float])

    /// How the convolutions compute, fixed at load.
    public let options: ComputeOptions

    /// Binds every tensor under `prefix` (`ss_model.` in AudioSep's checkpoint, empty in ours)
    /// and prepares the weights for `options`.
    public init(_ weights: WeightLookup, prefix: String = "ss_model.", options: ComputeOptions = .standard) throws {
        self.options = options
        let base = prefix + "base.", film = prefix + "film."
        let condition = Self.conditionSize
        bn0 = try FoldedBatchNorm(weights, base + "bn0", channels: Self.frequencyBins)
        // Widths come from the shapes, so narrow test models load through the same code.
        // A width sizes every map of the forward pass (width × frames × bins floats): one
        // that no AudioSep model comes near is a corrupt checkpoint, refused before it is used.
        func width(_ key: String) throws -> Int {
            let width = try weights.requireShape(key, rank: 4)[0]
            guard width >= 1, width <= Self.maximumWidth else {
                throw ModelError.implausibleWidth(file: weights.origin, key: key, width: width, maximum: Self.maximumWidth)
            }
            return width
        }
        let first = try width(base + "pre_conv.weight")
        preConv = (try weights.require(base + "pre_conv.weight", shape: [first, 1, 1, 1]),
                   try weights.require(base + "pre_conv.bias", shape: [first]))
        var widths: [Int] = []
        var encoders: [ResidualBlock] = []
        var inWidth = first
        for index in 1...6 {
            let key = "encoder_block\(index).conv_block1"
            let width = try width(base + key + ".conv1.weight")
            encoders.append(try ResidualBlock(weights, base: base + key, film: film + "encoder_block\(index)->conv_block1",
                                              inChannels: inWidth, outChannels: width, conditionSize: condition,
                                              level: index - 1, options: options))
            widths.append(width)
            inWidth = width
        }
        let centreWidth = try width(base + "conv_block7a.conv_block1.conv1.weight")
        centre = try ResidualBlock(weights, base: base + "conv_block7a.conv_block1", film: film + "conv_block7a->conv_block1",
                                   inChannels: inWidth, outChannels: centreWidth, conditionSize: condition,
                                   level: Self.pools.count, options: options)
        var decoders: [DecoderBlock] = []
        var decoderIn = centreWidth
        for index in 1...6 {
            let out = widths[6 - index]
            decoders.append(try DecoderBlock(weights, base: base + "decoder_block\(index)", film: film + "decoder_block\(index)",
                                             inChannels: decoderIn, outChannels: out, stride: Self.pools[6 - index],
                                             conditionSize: condition, level: 6 - index, options: options))
            decoderIn = out
        }
        afterConv = (try weights.require(base + "after_conv.weight", shape: [3, first, 1, 1]),
                     try weights.require(base + "after_conv.bias", shape: [3]))
        self.encoderWidths = widths
        self.centreWidth = centreWidth
        self.encoders = encoders
        self.decoders = decoders
    }

    /// The per-query part of the network: every fused activation's offset (BatchNorm shift + FiLM β).
    public struct Conditioning {
        let encoders: [([Float], [Float])]
        let centre: ([Float], [Float])
        let decoders: [(up: [Float], block: ([Float], [Float]))]
    }

    /// Evaluates every FiLM β for one query embedding (512 values), once.
    public func condition(on embedding: [Float]) -> Conditioning {
        precondition(embedding.count == Self.conditionSize)
        return Conditioning(
            encoders: encoders.map { $0.offsets(embedding) },
            centre: centre.offsets(embedding),
            decoders: decoders.map { ($0.bn1.offset(adding: $0.beta1(embedding)), $0.block.offsets(embedding)) })
    }
}
