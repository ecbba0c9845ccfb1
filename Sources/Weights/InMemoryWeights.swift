/// Tensors held in memory (tests, and weights assembled from several files).
public struct InMemoryWeights: WeightLookup {
    public var tensors: [String: (shape: [Int], values: [Float])]
    public let origin: String

    public init(tensors: [String: (shape: [Int], values: [Float])], origin: String) {
        self.tensors = tensors
        self.origin = origin
    }

    public func shape(of key: String) -> [Int]? { tensors[key]?.shape }
    public func floats(_ key: String) throws -> [Float] {
        guard let tensor = tensors[key] else { throw ModelError.missingTensor(file: origin, key: key) }
        return tensor.values
    }
}
