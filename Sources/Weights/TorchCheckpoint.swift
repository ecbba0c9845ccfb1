import Foundation

/// A PyTorch zip checkpoint (`torch.save`), with its state dict as memory-mapped tensors.
///
/// The archive holds `<folder>/data.pkl` (the pickled object), `<folder>/data/<key>` (one raw
/// little-endian storage per key, stored uncompressed) and optionally `<folder>/byteorder`.
/// Opening runs the pickle and locates the state dict: the top-level dict itself if it maps
/// names to tensors, else its `state_dict` or `model` entry (one level further if needed, as in
/// Lightning and CLAP checkpoints). Everything else (optimizer states, hyper-parameters,
/// callbacks) is skipped, and no tensor data is read or copied.
public struct TorchCheckpoint: Sendable {
    /// The path the checkpoint was opened with.
    public let path: String
    /// The state dict, by key with any leading `module.` removed.
    public let tensors: [String: TensorView]

    /// Opens the checkpoint at `path`. Throws `WeightsError`: `notAZip`/`truncatedZip`,
    /// `noDataPickle`, pickle errors, `noStateDict`, and for a state-dict tensor
    /// `unknownStorageType`, `storageUnavailable`, `storageOutOfRange` or `invalidLayout`.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let archive = try ZipArchive(file: file)
        self.path = path

        // The folder is named after the file by recent torch, "archive" by older ones: find it.
        let pickleEntries = archive.entries.filter {
            $0.name == "data.pkl" || ($0.name.hasSuffix("/data.pkl") && $0.name.dropLast(9).firstIndex(of: "/") == nil)
        }
        guard let pickleEntry = pickleEntries.min(by: { $0.name.count < $1.name.count }) else {
            throw WeightsError.noDataPickle(file: path)
        }
        let folder = String(pickleEntry.name.dropLast("data.pkl".count))

        let pickleRange = try archive.dataRange(of: pickleEntry)
        if let orderEntry = archive.entry(named: folder + "byteorder") {
            let range = try archive.dataRange(of: orderEntry)
            let order = String(decoding: try file.bytes(offset: range.lowerBound, byteCount: min(range.count, 16)),
                               as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard order == "little" else { throw WeightsError.unsupportedByteOrder(file: path, byteOrder: order) }
        }

        let pickle = try Pickle(bytes: file.bytes(offset: pickleRange.lowerBound, byteCount: pickleRange.count), file: path)
        guard let stateDict = Self.findStateDict(in: pickle) else { throw WeightsError.noStateDict(file: path) }

        var tensors: [String: TensorView] = [:]
        var storageRanges: [Int: Range<Int>] = [:]  // by storage node, as views share storages
        guard case .dict(let dictIndex) = pickle.node(stateDict) else { throw WeightsError.noStateDict(file: path) }
        let dict = pickle.dicts[dictIndex]
        tensors.reserveCapacity(dict.keys.count)
        for (keyIndex, valueIndex) in zip(dict.keys, dict.values) {
            guard case .string(let key) = pickle.node(keyIndex), case .tensor(let tensorIndex) = pickle.node(valueIndex) else {
                continue  // `_extra_state` entries and the like
            }
            let name = key.hasPrefix("module.") ? String(key.dropFirst("module.".count)) : key
            let record = pickle.tensors[tensorIndex]
            let storage = pickle.storages[record.storage]
            guard let dtype = DType(torchStorageType: storage.typeName) else {
                throw WeightsError.unknownStorageType(file: path, tensor: name, storageType: storage.typeName)
            }
            let range: Range<Int>
            if let known = storageRanges[record.storage] {
                range = known
            } else {
                let entryName = folder + "data/" + storage.key
                guard let entry = archive.entry(named: entryName) else {
                    throw WeightsError.storageUnavailable(file: path, tensor: name, entry: entryName, reason: "no such zip entry")
                }
                do {
                    range = try archive.dataRange(of: entry)
                } catch WeightsError.entryOutOfRange(_, _, let offset, let byteCount, let fileBytes) {
                    throw WeightsError.storageUnavailable(
                        file: path, tensor: name, entry: entryName,
                        reason: "its \(byteCount) bytes at offset \(offset) lie outside the file (\(fileBytes) bytes)")
                } catch WeightsError.compressedEntry(_, _, let method) {
                    throw WeightsError.storageUnavailable(file: path, tensor: name, entry: entryName,
                                                          reason: "it is compressed (method \(method))")
                }
                // torch saves a storage's element count with it: bytes that disagree mean the
                // storage type (the dtype) is wrong, which the layout check would call out of range.
                let (expectedBytes, overflow) = storage.elementCount.multipliedReportingOverflow(by: dtype.byteWidth)
                if storage.elementCount >= 0, overflow || expectedBytes != range.count {
                    throw WeightsError.storageSizeMismatch(file: path, tensor: name, entry: entryName, dtype: dtype.rawValue,
                                                           elementCount: storage.elementCount, storageBytes: range.count)
                }
                storageRanges[record.storage] = range
            }
            tensors[name] = try TensorView(name: name, dtype: dtype, shape: record.shape, strides: record.strides,
                                           storageOffset: record.storageOffset, file: file,
                                           storageByteOffset: range.lowerBound, storageByteCount: range.count)
        }
        self.tensors = tensors
    }

    /// The tensor called `name` (without `module.`). Throws `missingTensor`.
    public func tensor(_ name: String) throws -> TensorView {
        guard let tensor = tensors[name] else { throw WeightsError.missingTensor(file: path, tensor: name) }
        return tensor
    }

    /// The state dict: the first of the top-level object, its `state_dict` or `model` entry,
    /// and their `state_dict` or `model` entries, that maps strings to tensors.
    static func findStateDict(in pickle: Pickle) -> Int? {
        var candidates = [pickle.root]
        for _ in 0..<2 {
            var next: [Int] = []
            for candidate in candidates {
                if isStateDict(candidate, in: pickle) { return candidate }
                for key in ["state_dict", "model"] {
                    if let value = pickle.value(forKey: key, inDict: candidate) { next.append(value) }
                }
            }
            candidates = next
        }
        return candidates.first { isStateDict($0, in: pickle) }
    }

    /// A dict whose keys are all strings and whose values are tensors (a module's
    /// `_extra_state` may hold anything); an empty dict qualifies.
    static func isStateDict(_ index: Int, in pickle: Pickle) -> Bool {
        guard case .dict(let dictIndex) = pickle.node(index) else { return false }
        let dict = pickle.dicts[dictIndex]
        for (key, value) in zip(dict.keys, dict.values) {
            guard case .string(let name) = pickle.node(key) else { return false }
            if case .tensor = pickle.node(value) { continue }
            if name.hasSuffix("_extra_state") { continue }
            return false
        }
        return true
    }
}
