import Glibc

/// A whole file mapped read-only into memory (`open`, `fstat`, `mmap`; `munmap` on deinit).
///
/// Pages are read from disk only when touched, so opening a 1 GB checkpoint costs nothing
/// until its tensors are used. The mapping lives as long as this object: every `TensorView`
/// into it holds a reference. All reads are bounds-checked and little-endian.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with (used in error messages).
    public let path: String
    /// The file's length in bytes.
    public let byteCount: Int
    /// The first byte of the mapping; `nil` only for an empty file.
    public let base: UnsafeRawPointer?

    /// Maps the file at `path`. Throws `WeightsError.cannotOpen` or `.notARegularFile`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WeightsError.cannotOpen(file: path, call: "open", errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw WeightsError.cannotOpen(file: path, call: "fstat", errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw WeightsError.notARegularFile(file: path) }
        byteCount = Int(info.st_size)
        if byteCount == 0 {
            base = nil  // mmap rejects a zero length; an empty file has nothing to read anyway
            return
        }
        let address = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw WeightsError.cannotOpen(file: path, call: "mmap", errno: errno)
        }
        base = UnsafeRawPointer(address)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), byteCount) }
    }

    /// Throws `readOutOfRange` unless `byteCount` bytes at `offset` lie inside the file.
    @inline(__always)
    public func checkRange(offset: Int, byteCount count: Int) throws {
        guard offset >= 0, count >= 0, offset <= byteCount, count <= byteCount - offset else {
            throw WeightsError.readOutOfRange(file: path, offset: offset, byteCount: count, fileBytes: byteCount)
        }
    }

    /// The `byteCount` bytes at `offset`, without copying; valid while this object lives.
    public func bytes(offset: Int, byteCount count: Int) throws -> UnsafeRawBufferPointer {
        try checkRange(offset: offset, byteCount: count)
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }

    /// The little-endian integer at `offset`.
    @inline(__always)
    public func load<T: FixedWidthInteger>(_ type: T.Type, offset: Int) throws -> T {
        try checkRange(offset: offset, byteCount: MemoryLayout<T>.size)
        return T(littleEndian: base!.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
