/// The central directory of a zip archive held in a `MappedFile`, for reading entries in place.
///
/// Reads classic and zip64 end-of-central-directory records and zip64 extra fields (PyTorch
/// writes zip64 records for every checkpoint). Only stored (method 0) entries can be read:
/// their data is a byte range of the mapped file, located through the entry's local header.
public struct ZipArchive: Sendable {
    /// One entry of the central directory.
    public struct Entry: Sendable {
        public let name: String
        /// Compression method: 0 = stored; anything else cannot be mapped.
        public let method: Int
        public let compressedBytes: Int
        public let uncompressedBytes: Int
        /// Offset of the entry's local file header in the file.
        public let localHeaderOffset: Int
    }

    public let file: MappedFile
    /// Entries in central-directory order.
    public let entries: [Entry]
    private let indexByName: [String: Int]

    private static let localHeaderSignature: UInt32 = 0x0403_4b50
    private static let centralHeaderSignature: UInt32 = 0x0201_4b50
    private static let endSignature: UInt32 = 0x0605_4b50
    private static let zip64EndSignature: UInt32 = 0x0606_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    private static let endRecordBytes = 22
    private static let centralHeaderBytes = 46
    private static let localHeaderBytes = 30

    /// Reads the central directory of `file`. Throws `notAZip`, `truncatedZip` or `corruptZip`.
    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        guard let endOffset = Self.findEndRecord(file) else {
            let startsLikeZip = file.byteCount >= 4
                && (try? file.load(UInt32.self, offset: 0)) == Self.localHeaderSignature
            throw startsLikeZip
                ? WeightsError.truncatedZip(file: path, fileBytes: file.byteCount)
                : WeightsError.notAZip(file: path)
        }
        var entryCount = Int(try file.load(UInt16.self, offset: endOffset + 10))
        var directoryBytes = Int(try file.load(UInt32.self, offset: endOffset + 12))
        var directoryOffset = Int(try file.load(UInt32.self, offset: endOffset + 16))

        // A zip64 locator sits right before the classic record; its record overrides the fields.
        let locatorOffset = endOffset - 20
        if locatorOffset >= 0, try file.load(UInt32.self, offset: locatorOffset) == Self.zip64LocatorSignature {
            let recordOffset = try Self.checkedInt(file.load(UInt64.self, offset: locatorOffset + 8), file, at: locatorOffset)
            guard (try? file.load(UInt32.self, offset: recordOffset)) == Self.zip64EndSignature else {
                throw WeightsError.corruptZip(file: path, offset: recordOffset, reason: "no zip64 end-of-central-directory record")
            }
            entryCount = try Self.checkedInt(file.load(UInt64.self, offset: recordOffset + 32), file, at: recordOffset)
            directoryBytes = try Self.checkedInt(file.load(UInt64.self, offset: recordOffset + 40), file, at: recordOffset)
            directoryOffset = try Self.checkedInt(file.load(UInt64.self, offset: recordOffset + 48), file, at: recordOffset)
        }
        guard directoryOffset <= file.byteCount, directoryBytes <= file.byteCount - directoryOffset else {
            throw WeightsError.corruptZip(file: path, offset: directoryOffset,
                                          reason: "central directory of \(directoryBytes) bytes passes the end of the file")
        }
        // Each header is at least 46 bytes: this caps the allocation by the bytes present.
        guard entryCount <= directoryBytes / Self.centralHeaderBytes else {
            throw WeightsError.corruptZip(file: path, offset: directoryOffset,
                                          reason: "\(entryCount) entries cannot fit in \(directoryBytes) bytes")
        }

        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        var indexByName: [String: Int] = [:]
        indexByName.reserveCapacity(entryCount)
        var offset = directoryOffset
        let directoryEnd = directoryOffset + directoryBytes
        for _ in 0..<entryCount {
            guard offset + Self.centralHeaderBytes <= directoryEnd,
                  try file.load(UInt32.self, offset: offset) == Self.centralHeaderSignature else {
                throw WeightsError.corruptZip(file: path, offset: offset, reason: "expected a central directory header")
            }
            let method = Int(try file.load(UInt16.self, offset: offset + 10))
            var compressed = UInt64(try file.load(UInt32.self, offset: offset + 20))
            var uncompressed = UInt64(try file.load(UInt32.self, offset: offset + 24))
            let nameBytes = Int(try file.load(UInt16.self, offset: offset + 28))
            let extraBytes = Int(try file.load(UInt16.self, offset: offset + 30))
            let commentBytes = Int(try file.load(UInt16.self, offset: offset + 32))
            var localOffset = UInt64(try file.load(UInt32.self, offset: offset + 42))
            let next = offset + Self.centralHeaderBytes + nameBytes + extraBytes + commentBytes
            guard next <= directoryEnd else {
                throw WeightsError.corruptZip(file: path, offset: offset, reason: "central directory header passes the directory's end")
            }
            let name = String(decoding: try file.bytes(offset: offset + Self.centralHeaderBytes, byteCount: nameBytes),
                              as: UTF8.self)

            // Zip64 extra field (id 1): 8-byte values for exactly the fields that are saturated.
            var extra = offset + Self.centralHeaderBytes + nameBytes
            let extraEnd = extra + extraBytes
            while extra + 4 <= extraEnd {
                let id = try file.load(UInt16.self, offset: extra)
                let size = Int(try file.load(UInt16.self, offset: extra + 2))
                let body = extra + 4
                guard body + size <= extraEnd else {
                    throw WeightsError.corruptZip(file: path, offset: extra, reason: "extra field of '\(name)' passes its header")
                }
                if id == 1 {
                    var field = body
                    func take() throws -> UInt64 {
                        guard field + 8 <= body + size else {
                            throw WeightsError.corruptZip(file: path, offset: field, reason: "zip64 extra field of '\(name)' too short")
                        }
                        defer { field += 8 }
                        return try file.load(UInt64.self, offset: field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try take() }
                    if compressed == 0xFFFF_FFFF { compressed = try take() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try take() }
                }
                extra = body + size
            }

            let entry = Entry(name: name, method: method,
                              compressedBytes: try Self.checkedInt(compressed, file, at: offset),
                              uncompressedBytes: Int(clamping: uncompressed),
                              localHeaderOffset: try Self.checkedInt(localOffset, file, at: offset))
            if indexByName[name] == nil { indexByName[name] = entries.count }
            entries.append(entry)
            offset = next
        }
        self.entries = entries
        self.indexByName = indexByName
    }

    /// The entry called `name`, if any.
    public func entry(named name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// The byte range of a stored entry's data in the file, found through its local header.
    /// Throws `compressedEntry` for a compressed entry and `entryOutOfRange` or `corruptZip`
    /// if the local header or the data does not lie inside the file.
    public func dataRange(of entry: Entry) throws -> Range<Int> {
        let path = file.path
        guard entry.method == 0 else {
            throw WeightsError.compressedEntry(file: path, entry: entry.name, method: entry.method)
        }
        let header = entry.localHeaderOffset
        guard header <= file.byteCount - Self.localHeaderBytes,
              try file.load(UInt32.self, offset: header) == Self.localHeaderSignature else {
            throw WeightsError.entryOutOfRange(file: path, entry: entry.name, offset: header,
                                               byteCount: entry.compressedBytes, fileBytes: file.byteCount)
        }
        // The local header's name and extra lengths may differ from the central directory's
        // (PyTorch pads the local extra field to align the data), so they decide the offset.
        let nameBytes = Int(try file.load(UInt16.self, offset: header + 26))
        let extraBytes = Int(try file.load(UInt16.self, offset: header + 28))
        let start = header + Self.localHeaderBytes + nameBytes + extraBytes
        guard start <= file.byteCount, entry.compressedBytes <= file.byteCount - start else {
            throw WeightsError.entryOutOfRange(file: path, entry: entry.name, offset: start,
                                               byteCount: entry.compressedBytes, fileBytes: file.byteCount)
        }
        return start..<(start + entry.compressedBytes)
    }

    /// The data of the stored entry called `name`, without copying.
    public func data(named name: String) throws -> UnsafeRawBufferPointer {
        guard let entry = entry(named: name) else { throw WeightsError.missingEntry(file: file.path, entry: name) }
        let range = try dataRange(of: entry)
        return try file.bytes(offset: range.lowerBound, byteCount: range.count)
    }

    /// Finds the classic end-of-central-directory record, searching back over a comment of
    /// at most 64 KiB; prefers the record whose declared comment length reaches the end of the file.
    private static func findEndRecord(_ file: MappedFile) -> Int? {
        guard file.byteCount >= endRecordBytes, let base = file.base else { return nil }
        let last = file.byteCount - endRecordBytes
        let first = max(0, last - 0xFFFF)
        var offset = last
        var nearest: Int?  // fallback for archives with trailing bytes after the record
        while offset >= first {
            if UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) == endSignature {
                let comment = Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset + 20, as: UInt16.self)))
                if offset + endRecordBytes + comment == file.byteCount { return offset }
                if nearest == nil { nearest = offset }
            }
            offset -= 1
        }
        return nearest
    }

    private static func checkedInt(_ value: UInt64, _ file: MappedFile, at offset: Int) throws -> Int {
        guard value <= UInt64(file.byteCount) else {
            throw WeightsError.corruptZip(file: file.path, offset: offset, reason: "size or offset \(value) exceeds the file")
        }
        return Int(value)
    }
}
