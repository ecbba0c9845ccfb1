import Foundation

/// Named tensors from memory-mapped files (PyTorch checkpoints, safetensors), later files
/// overriding earlier ones: upstream builds CLAP from roberta-base, overwrites it with the CLAP
/// checkpoint, then with the AudioSep checkpoint (non-strict), and so do we.
public struct MappedWeights: WeightLookup {
    public private(set) var tensors: [String: TensorView] = [:]
    public private(set) var origins: [String: String] = [:]
    public var origin: String { Array(Set(origins.values)).sorted().joined(separator: " + ") }

    public init() {}

    /// Adds every tensor of `source` under `prefix + key`, replacing what was there.
    public mutating func overlay(_ source: [String: TensorView], from path: String, prefix: String = "") {
        for (key, view) in source {
            tensors[prefix + key] = view
            origins[prefix + key] = path
        }
    }

    public func shape(of key: String) -> [Int]? { tensors[key]?.shape }

    public func floats(_ key: String) throws -> [Float] {
        guard let view = tensors[key] else { throw ModelError.missingTensor(file: origin, key: key) }
        return try view.floats()
    }
}

/// Opens the files a `ModelFiles` names and binds the separation network.
public enum AudioSepLoader {
    /// Key prefix of the separation network inside AudioSep's Lightning checkpoint.
    public static let networkPrefix = "ss_model."

    /// The weights, in upstream's override order. A converted file keeps the checkpoint's keys.
    public static func weights(_ files: ModelFiles) throws -> MappedWeights {
        var weights = MappedWeights()
        if let path = files.safetensors {
            weights.overlay(try SafeTensorsFile(path: path).tensors, from: path)
            return weights
        }
        // CLAP first (text branch; keys may carry "module."; the reader strips it), under the
        // name AudioSep's checkpoint gives the same tensors, so the AudioSep checkpoint overrides it.
        if let clap = files.clapCheckpoint {
            weights.overlay(try TorchCheckpoint(path: clap).tensors, from: clap, prefix: "query_encoder.model.")
        }
        if let checkpoint = files.checkpoint {
            weights.overlay(try TorchCheckpoint(path: checkpoint).tensors, from: checkpoint)
        }
        return weights
    }

    public static func network(_ files: ModelFiles) throws -> ResUNet30 {
        try ResUNet30(try weights(files), prefix: networkPrefix)
    }
}
