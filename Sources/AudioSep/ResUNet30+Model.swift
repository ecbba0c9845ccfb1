import Weights

extension ResUNet30 {
    /// The separation network of a model's files.
    public convenience init(files: ModelFiles, options: ComputeOptions = .standard) throws {
        try self.init(try MappedWeights(files: files), prefix: CheckpointLayout.networkPrefix, options: options)
    }
}
