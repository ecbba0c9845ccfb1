// libFuzzer target: the zip central directory (classic and zip64) and each entry's local
// header, as read from a memory-mapped file. Every failure must be a WeightsError, and every
// data range handed out must lie inside the file.
import Foundation
import Weights

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZip(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let bytes = fuzzBytes(data, count)
    do {
        let archive = try ZipArchive(file: MappedFile(path: writeScratch(bytes)))
        precondition(archive.entries.count * 46 <= bytes.count, "\(archive.entries.count) entries in \(bytes.count) bytes")
        for entry in archive.entries {
            guard let range = try? archive.dataRange(of: entry) else { continue }
            precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "\(entry.name): \(range)")
            _ = try archive.data(named: entry.name)
        }
    } catch is WeightsError {
    } catch {
        fatalError("untyped error: \(error)")
    }
    return 0
}
