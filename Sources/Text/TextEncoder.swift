import COpenBLAS
import Foundation
import Weights

// CLAP's text branch as AudioSep uses it (Audio-AGI/AudioSep models/clap_encoder.py and the
// CLAP model it wraps), ported from our PyTorch reference in tools/reference/: RoBERTa
// (post-LayerNorm BERT layers, GELU(erf), positions from padding_idx + 1 = 2, token type 0),
// the pooler tanh(Linear) on the first token, CLAP's text_projection (Linear, ReLU, Linear) and
// L2 normalisation. Only the real tokens are run: upstream pads to 512 with an attention mask,
// which gives the same result.

/// A weight matrix or vector of the encoder: its tensor in the memory map, not read until the
/// encoder runs (and then in place when the file holds contiguous float32, else converted for
/// the one use), or values held in memory when the weights are not mapped (tests).
struct MappedFloats {
    let shape: [Int]
    /// The tensor in its mapping; nil for weights held in memory.
    let view: TensorView?
    private let owned: [Float]?

    /// Checks the tensor's presence and shape, which reads nothing from the file.
    init(_ weights: WeightLookup, _ key: String, shape expected: [Int]) throws {
        guard let shape = weights.shape(of: key) else { throw ModelError.missingTensor(file: weights.origin, key: key) }
        guard shape == expected else { throw ModelError.wrongShape(file: weights.origin, key: key, got: shape, expected: expected) }
        self.shape = shape
        if let view = weights.tensorView(key) {
            self.view = view
            self.owned = nil
        } else {
            self.view = nil
            self.owned = try weights.floats(key)
        }
    }

    /// Throws `WeightsError.nonFiniteValue` when the stored values hold NaN or infinity (one pass
    /// over the mapped bytes, giving back their pages as it goes; values held in memory were
    /// checked as they were read).
    func requireFinite() throws { try view?.requireFiniteReleasing() }

    func withPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) throws -> R {
        if let view { return try view.withFloats { try body($0.baseAddress!) } }
        return try owned!.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}

/// One RoBERTa layer's weights.
struct EncoderLayer {
    let query, key, value, attentionOut, intermediate, output: (weight: MappedFloats, bias: MappedFloats)
    let attentionNorm, outputNorm: (weight: MappedFloats, bias: MappedFloats)

    init(_ weights: WeightLookup, _ prefix: String, hidden: Int, inner: Int) throws {
        func linear(_ name: String, _ out: Int, _ input: Int) throws -> (MappedFloats, MappedFloats) {
            (try MappedFloats(weights, prefix + name + ".weight", shape: [out, input]),
             try MappedFloats(weights, prefix + name + ".bias", shape: [out]))
        }
        func norm(_ name: String) throws -> (MappedFloats, MappedFloats) {
            (try MappedFloats(weights, prefix + name + ".weight", shape: [hidden]),
             try MappedFloats(weights, prefix + name + ".bias", shape: [hidden]))
        }
        query = try linear("attention.self.query", hidden, hidden)
        key = try linear("attention.self.key", hidden, hidden)
        value = try linear("attention.self.value", hidden, hidden)
        attentionOut = try linear("attention.output.dense", hidden, hidden)
        attentionNorm = try norm("attention.output.LayerNorm")
        intermediate = try linear("intermediate.dense", inner, hidden)
        output = try linear("output.dense", hidden, inner)
        outputNorm = try norm("output.LayerNorm")
    }

    var parameters: [MappedFloats] {
        [query, key, value, attentionOut, intermediate, output, attentionNorm, outputNorm].flatMap { [$0.weight, $0.bias] }
    }
}

/// The CLAP text encoder: token ids in, a unit-length query embedding out.
///
/// Binding it reads nothing from the weight files but their headers: its weights (most of a
/// model file: 500 MB of roberta-base's 125 M parameters) are first read when a query is
/// encoded, checked for NaN and infinity then, and `releaseWeights()` gives their pages back
/// once the embedding is computed, so a process serving cached queries never holds them.
public final class TextEncoder {
    public let hidden: Int
    public let heads: Int
    public let layerCount: Int
    public let vocabularySize: Int
    public let maximumPositions: Int
    public let embeddingSize: Int
    static let paddingIndex = 1
    static let layerNormEpsilon: Float = 1e-5

    private let wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings: MappedFloats
    private let embeddingNorm: (weight: MappedFloats, bias: MappedFloats)
    private let layers: [EncoderLayer]
    private let pooler: (weight: MappedFloats, bias: MappedFloats)
    private let projection1, projection2: (weight: MappedFloats, bias: MappedFloats)
    private let weights: WeightLookup   // keeps the memory maps alive
    /// Every weight, for the finite check and for releasing their pages.
    private let parameters: [MappedFloats]
    /// Whether the weights have been checked for NaN and infinity (on the first `embed`).
    private var checked = false

    /// Binds `<prefix>text_branch.…` and `<prefix>text_projection.…`.
    /// - Parameter heads: attention heads (roberta-base's config says 12); default hidden / 64.
    public init(_ weights: WeightLookup, prefix: String = "query_encoder.model.", heads: Int? = nil) throws {
        let branch = prefix + "text_branch."
        let words = try weights.requireShape(branch + "embeddings.word_embeddings.weight", rank: 2)
        vocabularySize = words[0]
        hidden = words[1]
        self.heads = heads ?? max(1, hidden / 64)
        // The head count comes from a config or a converted file's metadata: it must split the width.
        guard self.heads > 0, self.heads <= hidden else {
            throw ModelError.invalidAttentionHeads(file: weights.origin, heads: self.heads, hidden: hidden)
        }
        guard hidden % self.heads == 0 else {
            throw ModelError.wrongShape(file: weights.origin, key: branch + "embeddings.word_embeddings.weight",
                                        got: words, expected: [words[0], (hidden / self.heads) * self.heads])
        }
        maximumPositions = try weights.requireShape(branch + "embeddings.position_embeddings.weight", rank: 2)[0]
        wordEmbeddings = try MappedFloats(weights, branch + "embeddings.word_embeddings.weight", shape: words)
        positionEmbeddings = try MappedFloats(weights, branch + "embeddings.position_embeddings.weight", shape: [maximumPositions, hidden])
        let types = try weights.requireShape(branch + "embeddings.token_type_embeddings.weight", rank: 2)
        tokenTypeEmbeddings = try MappedFloats(weights, branch + "embeddings.token_type_embeddings.weight", shape: [types[0], hidden])
        embeddingNorm = (try MappedFloats(weights, branch + "embeddings.LayerNorm.weight", shape: [hidden]),
                         try MappedFloats(weights, branch + "embeddings.LayerNorm.bias", shape: [hidden]))
        var layers: [EncoderLayer] = []
        while weights.shape(of: branch + "encoder.layer.\(layers.count).attention.self.query.weight") != nil {
            let inner = try weights.requireShape(branch + "encoder.layer.\(layers.count).intermediate.dense.weight", rank: 2)[0]
            layers.append(try EncoderLayer(weights, branch + "encoder.layer.\(layers.count).", hidden: hidden, inner: inner))
        }
        guard !layers.isEmpty else { throw ModelError.missingTensor(file: weights.origin, key: branch + "encoder.layer.0.attention.self.query.weight") }
        self.layers = layers
        layerCount = layers.count
        pooler = (try MappedFloats(weights, branch + "pooler.dense.weight", shape: [hidden, hidden]),
                  try MappedFloats(weights, branch + "pooler.dense.bias", shape: [hidden]))
        let projected = try weights.requireShape(prefix + "text_projection.0.weight", rank: 2)[0]
        projection1 = (try MappedFloats(weights, prefix + "text_projection.0.weight", shape: [projected, hidden]),
                       try MappedFloats(weights, prefix + "text_projection.0.bias", shape: [projected]))
        embeddingSize = try weights.requireShape(prefix + "text_projection.2.weight", rank: 2)[0]
        projection2 = (try MappedFloats(weights, prefix + "text_projection.2.weight", shape: [embeddingSize, projected]),
                       try MappedFloats(weights, prefix + "text_projection.2.bias", shape: [embeddingSize]))
        self.weights = weights
        parameters = [wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings, embeddingNorm.weight, embeddingNorm.bias]
            + layers.flatMap(\.parameters)
            + [pooler.weight, pooler.bias, projection1.weight, projection1.bias, projection2.weight, projection2.bias]
    }

    /// Runs `body` with `group`'s weights, checked for NaN and infinity on the first `embed`,
    /// and gives their pages back after it: encoding holds one layer's weights at a time, not
    /// the whole encoder's.
    private func using<R>(_ group: [MappedFloats], _ body: () throws -> R) throws -> R {
        if !checked { for parameter in group { try parameter.requireFinite() } }
        defer { MappedPages.release(group.compactMap(\.view)) }
        return try body()
    }

    /// The weights as mapped (empty when they are held in memory).
    public var mappedViews: [TensorView] { parameters.compactMap(\.view) }

    /// Drops this process's pages of the encoder's mapped weights (`MappedPages.release`): the
    /// next `embed` reads them again from the file (the page cache). Returns the bytes released.
    @discardableResult
    public func releaseWeights() -> Int { MappedPages.release(mappedViews) }

    /// Bytes of the encoder's mapped weights resident in this process (nil when unknown).
    public var residentWeightBytes: Int? { MappedPages.residentBytes(mappedViews) }

    /// Named intermediate results, for layer-by-layer tests: (name, rows × columns values).
    public typealias Trace = (String, [Float]) -> Void

    /// The query embedding for token ids (`<s> … </s>`, at most `maximumPositions − 2` of them).
    public func embed(_ ids: [Int], trace: Trace? = nil) throws -> [Float] {
        let tokens = ids.count
        guard tokens > 0, tokens <= maximumPositions - Self.paddingIndex - 1 else {
            throw ModelError.badTokens(reason: "\(tokens) tokens, the encoder takes 1 to \(maximumPositions - Self.paddingIndex - 1)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw ModelError.badTokens(reason: "token id \(bad) is outside the vocabulary of \(vocabularySize)")
        }
        // Embeddings: word (row by row from the map) + position + token type 0. RoBERTa numbers
        // positions by counting non-<pad> tokens from padding_idx + 1; a literal <pad> gets padding_idx.
        var x = [Float](repeating: 0, count: tokens * hidden)
        var counted = 0
        let positionIDs = ids.map { id -> Int in
            guard id != Self.paddingIndex else { return Self.paddingIndex }
            counted += 1
            return Self.paddingIndex + counted
        }
        try using([wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings, embeddingNorm.weight, embeddingNorm.bias]) {
            try wordEmbeddings.withPointer { words in
                try positionEmbeddings.withPointer { positions in
                    try tokenTypeEmbeddings.withPointer { types in
                        for (row, id) in ids.enumerated() {
                            let position = positionIDs[row]
                            for column in 0..<hidden {
                                x[row * hidden + column] = words[id * hidden + column] + positions[position * hidden + column] + types[column]
                            }
                        }
                    }
                }
            }
            try layerNorm(&x, rows: tokens, embeddingNorm)
        }
        trace?("embeddings", x)
        for (index, layer) in layers.enumerated() {
            x = try using(layer.parameters) { try forward(layer, x, tokens: tokens) }
            trace?("layers.\(index).output", x)
        }
        var embedding = try using([pooler.weight, pooler.bias, projection1.weight, projection1.bias, projection2.weight, projection2.bias]) {
            // Pooler: tanh(Linear) of the first token's state.
            var pooled = try linear(Array(x[0..<hidden]), rows: 1, pooler, outputs: hidden)
            for index in pooled.indices { pooled[index] = tanh(pooled[index]) }
            trace?("pooler_output", pooled)
            var projected = try linear(pooled, rows: 1, projection1, outputs: projection1.weight.shape[0])
            for index in projected.indices { projected[index] = max(0, projected[index]) }
            return try linear(projected, rows: 1, projection2, outputs: embeddingSize)
        }
        trace?("projection_output", embedding)
        checked = true
        let norm = max(embedding.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        for index in embedding.indices { embedding[index] /= norm }
        return embedding
    }

    /// y = x·Wᵀ + b for `rows` rows (sgemm).
    private func linear(_ x: [Float], rows: Int, _ layer: (weight: MappedFloats, bias: MappedFloats), outputs: Int) throws -> [Float] {
        let inputs = layer.weight.shape[1]
        var y = [Float](repeating: 0, count: rows * outputs)
        try layer.bias.withPointer { bias in
            for row in 0..<rows { for column in 0..<outputs { y[row * outputs + column] = bias[column] } }
        }
        try layer.weight.withPointer { w in
            x.withUnsafeBufferPointer { input in
                y.withUnsafeMutableBufferPointer { out in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outputs), Int32(inputs),
                                1, input.baseAddress, Int32(inputs), w, Int32(inputs), 1, out.baseAddress, Int32(outputs))
                }
            }
        }
        return y
    }

    private func layerNorm(_ x: inout [Float], rows: Int, _ norm: (weight: MappedFloats, bias: MappedFloats)) throws {
        try norm.weight.withPointer { gamma in
            try norm.bias.withPointer { beta in
                for row in 0..<rows {
                    let start = row * hidden
                    var mean: Float = 0
                    for column in 0..<hidden { mean += x[start + column] }
                    mean /= Float(hidden)
                    var variance: Float = 0
                    for column in 0..<hidden { let d = x[start + column] - mean; variance += d * d }
                    let scale = 1 / (variance / Float(hidden) + Self.layerNormEpsilon).squareRoot()
                    for column in 0..<hidden {
                        x[start + column] = (x[start + column] - mean) * scale * gamma[column] + beta[column]
                    }
                }
            }
        }
    }

    /// One post-LayerNorm encoder layer: self-attention, residual, LayerNorm; GELU MLP, residual, LayerNorm.
    private func forward(_ layer: EncoderLayer, _ x: [Float], tokens: Int) throws -> [Float] {
        let q = try linear(x, rows: tokens, layer.query, outputs: hidden)
        let k = try linear(x, rows: tokens, layer.key, outputs: hidden)
        let v = try linear(x, rows: tokens, layer.value, outputs: hidden)
        let headSize = hidden / heads
        let scale = 1 / Float(headSize).squareRoot()
        var context = [Float](repeating: 0, count: tokens * hidden)
        var scores = [Float](repeating: 0, count: tokens * tokens)
        for head in 0..<heads {
            let offset = head * headSize
            // scores = Q_h · K_hᵀ / √d (rows of Q and K are `hidden` apart).
            q.withUnsafeBufferPointer { qp in
                k.withUnsafeBufferPointer { kp in
                    scores.withUnsafeMutableBufferPointer { sp in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(tokens), Int32(tokens), Int32(headSize),
                                    scale, qp.baseAddress! + offset, Int32(hidden), kp.baseAddress! + offset, Int32(hidden),
                                    0, sp.baseAddress, Int32(tokens))
                    }
                }
            }
            for row in 0..<tokens {
                let start = row * tokens
                var largest = -Float.infinity
                for column in 0..<tokens { largest = max(largest, scores[start + column]) }
                var sum: Float = 0
                for column in 0..<tokens { let e = exp(scores[start + column] - largest); scores[start + column] = e; sum += e }
                for column in 0..<tokens { scores[start + column] /= sum }
            }
            // context_h = softmax · V_h, written into the head's columns.
            scores.withUnsafeBufferPointer { sp in
                v.withUnsafeBufferPointer { vp in
                    context.withUnsafeMutableBufferPointer { cp in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(tokens), Int32(headSize), Int32(tokens),
                                    1, sp.baseAddress, Int32(tokens), vp.baseAddress! + offset, Int32(hidden),
                                    0, cp.baseAddress! + offset, Int32(hidden))
                    }
                }
            }
        }
        var attended = try linear(context, rows: tokens, layer.attentionOut, outputs: hidden)
        for index in attended.indices { attended[index] += x[index] }
        try layerNorm(&attended, rows: tokens, layer.attentionNorm)
        let inner = layer.intermediate.weight.shape[0]
        var expanded = try linear(attended, rows: tokens, layer.intermediate, outputs: inner)
        for index in expanded.indices {
            let value = expanded[index]
            expanded[index] = 0.5 * value * (1 + erf(value / Float(2).squareRoot()))
        }
        var output = try linear(expanded, rows: tokens, layer.output, outputs: hidden)
        for index in output.indices { output[index] += attended[index] }
        try layerNorm(&output, rows: tokens, layer.outputNorm)
        return output
    }
}
