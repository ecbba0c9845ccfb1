import Foundation

/// Pickle opcodes written by hand, for tests that need pickles PyTorch would never write
/// (hostile globals, very many records) without Python.
public struct PickleBytes {
    public private(set) var bytes: [UInt8] = []

    public init(protocol version: UInt8 = 2) { bytes = [0x80, version] }

    /// Appends raw opcode bytes.
    public mutating func raw(_ more: [UInt8]) { bytes += more }
    public mutating func mark() { bytes.append(0x28) }
    public mutating func stop() { bytes.append(0x2E) }
    public mutating func none() { bytes.append(0x4E) }
    public mutating func emptyTuple() { bytes.append(0x29) }
    public mutating func emptyDict() { bytes.append(0x7D) }
    public mutating func tuple() { bytes.append(0x74) }
    public mutating func tuple1() { bytes.append(0x85) }
    public mutating func reduce() { bytes.append(0x52) }
    public mutating func build() { bytes.append(0x62) }
    public mutating func newObj() { bytes.append(0x81) }
    public mutating func setItems() { bytes.append(0x75) }
    public mutating func setItem() { bytes.append(0x73) }
    public mutating func binPersId() { bytes.append(0x51) }
    public mutating func newFalse() { bytes.append(0x89) }

    /// BININT (signed 32-bit).
    public mutating func int(_ value: Int32) {
        bytes.append(0x4A)
        bytes += withUnsafeBytes(of: value.littleEndian, Array.init)
    }

    /// BINUNICODE.
    public mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes.append(0x58)
        bytes += withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init)
        bytes += utf8
    }

    /// GLOBAL: `c<module>\n<name>\n`.
    public mutating func global(_ module: String, _ name: String) {
        bytes += [0x63] + Array("\(module)\n\(name)\n".utf8)
    }

    /// STACK_GLOBAL of two strings.
    public mutating func stackGlobal(_ module: String, _ name: String) {
        string(module)
        string(name)
        bytes.append(0x93)
    }

    /// INST: `MARK args… i<module>\n<name>\n` (the caller pushes MARK and the arguments).
    public mutating func inst(_ module: String, _ name: String) {
        bytes += [0x69] + Array("\(module)\n\(name)\n".utf8)
    }

    /// OBJ: `MARK cls args… o` (the caller pushes MARK, the class and the arguments).
    public mutating func obj() { bytes.append(0x6F) }

    /// `OrderedDict()`, as torch writes an empty one.
    public mutating func emptyOrderedDict() {
        global("collections", "OrderedDict")
        emptyTuple()
        reduce()
    }

    /// `_rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', count), offset, (count,), (1,), False, OrderedDict())`.
    public mutating func floatTensor(storageKey: String, count: Int32, offset: Int32 = 0) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark()
        string("storage")
        global("torch", "FloatStorage")
        string(storageKey)
        string("cpu")
        int(count)
        tuple()
        binPersId()
        int(offset)
        int(count - offset)
        tuple1()
        int(1)
        tuple1()
        newFalse()
        emptyOrderedDict()
        tuple()
        reduce()
    }
}

/// A zip archive of stored (uncompressed) entries, as `torch.save` writes one.
public enum StoredZip {
    /// The archive's bytes: local headers and data, the central directory, the end record.
    public static func archive(_ entries: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var directory: [UInt8] = []
        func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }
        for (name, data) in entries {
            let nameBytes = Array(name.utf8)
            let crc = crc32(data)
            let offset = out.count
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(Int(crc))
                + le32(data.count) + le32(data.count) + le16(nameBytes.count) + le16(0) + nameBytes + data
            directory += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0)
                + le32(Int(crc)) + le32(data.count) + le32(data.count) + le16(nameBytes.count) + le16(0) + le16(0)
                + le16(0) + le16(0) + le32(0) + le32(offset) + nameBytes
        }
        let directoryOffset = out.count
        out += directory
        if entries.count > 0xFFFF {  // zip64 end record and locator, as torch writes
            let recordOffset = out.count
            func le64(_ value: Int) -> [UInt8] { le32(value) + le32(0) }
            out += le32(0x0606_4b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
                + le64(entries.count) + le64(entries.count) + le64(directory.count) + le64(directoryOffset)
            out += le32(0x0706_4b50) + le32(0) + le64(recordOffset) + le32(1)
        }
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(min(entries.count, 0xFFFF)) + le16(min(entries.count, 0xFFFF))
            + le32(directory.count) + le32(directoryOffset) + le16(0)
        return out
    }

    static let crcTable: [UInt32] = (0..<256).map { index -> UInt32 in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

/// PyTorch-style checkpoints made in the test, without Python.
public enum CheckpointBuilder {
    /// A checkpoint `archive/data.pkl` + `archive/data/<key>` whose pickle is `pickle`.
    public static func checkpoint(pickle: [UInt8], storages: [(key: String, data: [UInt8])] = [],
                                  folder: String = "archive") -> [UInt8] {
        StoredZip.archive([(folder + "/data.pkl", pickle)] + storages.map { (folder + "/data/" + $0.key, $0.data) })
    }

    /// A state dict of `records` one-element float tensors `t0`, `t1`, … set by one SETITEMS
    /// (as torch writes a state dict), each with a storage of its own or all sharing storage `0`.
    public static func manyRecords(_ records: Int, sharedStorage: Bool = false) -> [UInt8] {
        var pickle = PickleBytes()
        pickle.emptyOrderedDict()
        pickle.mark()
        for index in 0..<records {
            pickle.string("t\(index)")
            pickle.floatTensor(storageKey: sharedStorage ? "0" : String(index), count: 1)
        }
        pickle.setItems()
        pickle.stop()
        let storageCount = sharedStorage ? 1 : records
        return checkpoint(pickle: pickle.bytes, storages: (0..<storageCount).map { (String($0), [0, 0, 0, 0]) })
    }

    /// A one-tensor state dict (`weight`, 4 floats) with `hostile` spliced in as the value of an
    /// extra top-level key `extra`: `{"state_dict": {"weight": …}, "extra": <hostile>}`.
    public static func stateDict(withExtra hostile: (inout PickleBytes) -> Void) -> [UInt8] {
        var pickle = PickleBytes()
        pickle.emptyDict()
        pickle.mark()
        pickle.string("state_dict")
        pickle.emptyOrderedDict()
        pickle.string("weight")
        pickle.floatTensor(storageKey: "0", count: 4)
        pickle.setItem()
        pickle.string("extra")
        hostile(&pickle)
        pickle.setItems()
        pickle.stop()
        return checkpoint(pickle: pickle.bytes, storages: [("0", [UInt8](repeating: 0, count: 16))])
    }
}
