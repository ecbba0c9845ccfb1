import Glibc

/// The pages of memory-mapped tensors as the process holds them: dropped once their values are
/// no longer needed, and counted (for tests and measurements).
///
/// A tensor read from its mapping stays in the process's resident set (file-backed, counted in
/// RSS) until the mapping goes, although the file's pages would come back from the page cache
/// if needed again. `release` gives them back with `madvise(MADV_DONTNEED)`: on a read-only
/// private file mapping that nothing has written this only unmaps the pages from the process;
/// the next read faults them in again from the page cache (or the disk), with the same bytes.
public enum MappedPages {
    /// The system's page size.
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Byte ranges of `views`' storage, by file, sorted and merged where they touch or are less
    /// than a page apart (biases between weights), so a run of tensors is released as one.
    static func ranges(_ views: [TensorView]) -> [(file: MappedFile, ranges: [Range<Int>])] {
        var byFile: [ObjectIdentifier: (file: MappedFile, ranges: [Range<Int>])] = [:]
        for view in views where view.storageByteCount > 0 {
            let range = view.storageByteOffset..<(view.storageByteOffset + view.storageByteCount)
            byFile[ObjectIdentifier(view.file), default: (view.file, [])].ranges.append(range)
        }
        return byFile.values.map { entry in
            var merged: [Range<Int>] = []
            for range in entry.ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                if let last = merged.last, range.lowerBound <= last.upperBound + pageSize {
                    merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
                } else {
                    merged.append(range)
                }
            }
            return (entry.file, merged)
        }
    }

    /// The whole pages inside `range` of `file`'s mapping, as an address and a length (nil when none).
    private static func pages(_ file: MappedFile, _ range: Range<Int>) -> (UnsafeMutableRawPointer, Int)? {
        guard let base = file.base else { return nil }
        let start = (Int(bitPattern: base) + range.lowerBound + pageSize - 1) / pageSize * pageSize
        let end = (Int(bitPattern: base) + range.upperBound) / pageSize * pageSize
        guard end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { return nil }
        return (address, end - start)
    }

    /// Drops the process's pages of `views`' storage (whole pages only: a page shared with a
    /// tensor outside `views` is kept). The views stay valid: reading them again faults the pages
    /// back in from the file. Returns the bytes of the ranges advised.
    @discardableResult
    public static func release(_ views: [TensorView]) -> Int {
        var bytes = 0
        for (file, ranges) in ranges(views) {
            for range in ranges {
                guard let (address, length) = pages(file, range) else { continue }
                if madvise(address, length, MADV_DONTNEED) == 0 { bytes += length }
            }
        }
        return bytes
    }

    /// Drops the process's whole pages inside `range` (bytes) of `file`.
    static func release(_ file: MappedFile, _ range: Range<Int>) {
        guard let (address, length) = pages(file, range) else { return }
        madvise(address, length, MADV_DONTNEED)
    }

    /// Bytes of `views`' storage (whole pages inside it) that are mapped into this process now,
    /// from `/proc/self/pagemap` (the page-table entry's "present" bit, which, unlike
    /// `mincore(2)`, does not count a page that is only in the page cache). Nil when pagemap
    /// cannot be read.
    public static func residentBytes(_ views: [TensorView]) -> Int? {
        let fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var resident = 0
        for (file, ranges) in ranges(views) {
            for range in ranges {
                guard let (address, length) = pages(file, range) else { continue }
                let first = Int(bitPattern: address) / pageSize
                let count = length / pageSize
                var entries = [UInt64](repeating: 0, count: count)
                let wanted = count * 8
                let read = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, wanted, off_t(first * 8)) }
                guard read == wanted else { return nil }
                resident += entries.reduce(0) { $0 + ($1 >> 63 == 1 ? 1 : 0) } * pageSize
            }
        }
        return resident
    }
}

extension MappedWeights {
    /// Every tensor whose key starts with `prefix`, as mapped.
    public func views(prefix: String = "") -> [TensorView] {
        tensors.compactMap { $0.key.hasPrefix(prefix) ? $0.value : nil }
    }
}
