import Foundation
import Weights

/// Query embeddings on disk, keyed by the model's fingerprint and the exact query text, so a
/// repeated query never loads the text encoder. One small file per entry under
/// `~/.cache/audiosep-stream/embeddings/`; the file repeats its key, so a hash collision reads as a miss.
public struct EmbeddingCache: Sendable {
    public let directory: String

    public init(directory: String = (ModelFiles.cacheDirectory as NSString).appendingPathComponent("embeddings")) {
        self.directory = directory
    }

    /// Identifies the weights a query is encoded with: the files' paths, sizes and modification times.
    public static func fingerprint(_ files: ModelFiles) -> String {
        let paths = [files.safetensors, files.checkpoint, files.clapCheckpoint, files.robertaDirectory].compactMap { $0 }
        return paths.map { path -> String in
            let resolved = (path as NSString).resolvingSymlinksInPath
            let attributes = try? FileManager.default.attributesOfItem(atPath: resolved)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(resolved)|\(size)|\(modified)"
        }.joined(separator: ";")
    }

    /// 64-bit FNV-1a, for file names only (the key inside the file is compared in full).
    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(value, radix: 16)
    }

    private func path(fingerprint: String, query: String) -> String {
        (directory as NSString).appendingPathComponent(Self.hash(fingerprint + "\n" + query) + ".embedding")
    }

    /// The cached embedding, or nil (never an error: a broken entry is a miss).
    public func lookup(fingerprint: String, query: String) -> [Float]? {
        guard let data = FileManager.default.contents(atPath: path(fingerprint: fingerprint, query: query)) else { return nil }
        let bytes = [UInt8](data)
        let key = Array((fingerprint + "\n" + query + "\n").utf8)
        guard bytes.count == key.count + QueryEmbedding.size * 4, Array(bytes[0..<key.count]) == key else { return nil }
        return try? QueryEmbedding.parse(Array(bytes[key.count...]), origin: "cache")
    }

    /// Stores an embedding; failures (read-only home, full disk) are ignored: the cache is an optimisation.
    public func store(_ embedding: [Float], fingerprint: String, query: String) {
        guard embedding.count == QueryEmbedding.size else { return }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var bytes = Array((fingerprint + "\n" + query + "\n").utf8)
        embedding.withUnsafeBytes { bytes.append(contentsOf: $0) }
        let target = path(fingerprint: fingerprint, query: query)
        let temporary = target + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else { return }
        if rename(temporary, target) != 0 { unlink(temporary) }
    }
}
