/// Tensors by checkpoint key, as the model binds them.
public protocol WeightLookup {
    /// The shape of tensor `key`, or nil when the checkpoint has no such tensor.
    func shape(of key: String) -> [Int]?
    /// The tensor's values as float32, row-major.
    func floats(_ key: String) throws -> [Float]
    /// Where the tensors come from, for error messages.
    var origin: String { get }
    /// The tensor in place in its memory-mapped file, when the tensors come from one and it is
    /// contiguous float32. Throws when its values cannot be used (NaN or infinity).
    func mappedView(_ key: String) throws -> TensorView?
    /// The tensor as mapped (any dtype and layout), unchecked and untouched: nothing is read
    /// from the file. Nil when the tensors are not memory-mapped.
    func tensorView(_ key: String) -> TensorView?
}

extension WeightLookup {
    public func mappedView(_ key: String) -> TensorView? { nil }
    public func tensorView(_ key: String) -> TensorView? { nil }

    /// Values of `key`, which must exist with exactly `shape`.
    public func require(_ key: String, shape expected: [Int]) throws -> [Float] {
        guard let shape = shape(of: key) else { throw ModelError.missingTensor(file: origin, key: key) }
        guard shape == expected else {
            throw ModelError.wrongShape(file: origin, key: key, got: shape, expected: expected)
        }
        return try floats(key)
    }

    /// The shape of `key`, which must exist with `rank` dimensions.
    public func requireShape(_ key: String, rank: Int) throws -> [Int] {
        guard let shape = shape(of: key) else { throw ModelError.missingTensor(file: origin, key: key) }
        guard shape.count == rank else {
            throw ModelError.wrongShape(file: origin, key: key, got: shape, expected: Array(repeating: -1, count: rank))
        }
        return shape
    }
}
