import Foundation
import Weights

extension TextEncoder {
    /// The CLAP text encoder of a model's files, with upstream's override order applied.
    /// - Parameter weights: the model's weights when already open (shared with the network).
    public convenience init(files: ModelFiles, weights: MappedWeights? = nil) throws {
        try self.init(try weights ?? MappedWeights(files: files), prefix: CheckpointLayout.textPrefix, heads: Self.attentionHeads(files))
    }

    /// Attention heads of the text encoder: roberta-base's config.json, or a converted file's metadata.
    public static func attentionHeads(_ files: ModelFiles) -> Int? {
        if let path = files.safetensors, let file = try? SafeTensorsFile(path: path), let heads = file.metadata["text.heads"] {
            return Int(heads)
        }
        guard let roberta = files.robertaDirectory,
              let data = FileManager.default.contents(atPath: (roberta as NSString).appendingPathComponent("config.json")),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return config["num_attention_heads"] as? Int
    }
}
