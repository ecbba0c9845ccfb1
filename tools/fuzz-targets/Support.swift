// Shared by every libFuzzer target in this folder; tools/fuzz compiles it into each one.
import Foundation

/// The fuzzer's input as an array (libFuzzer may pass a null pointer for an empty input).
func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ count: Int) -> [UInt8] {
    guard let data, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: count))
}

/// A pipe whose read end holds `bytes` and then reports end of input, as `cat file |` would.
/// The pipe is enlarged first so that writing never blocks (tools/fuzz caps inputs at 64 KB).
func pipeHolding(_ bytes: [UInt8]) -> Int32 {
    var ends: [Int32] = [0, 0]
    precondition(pipe(&ends) == 0, "pipe: \(errno)")
    _ = fcntl(ends[1], 1031 /* F_SETPIPE_SZ, a macro Swift does not import */, 1 << 20)
    var done = 0
    while done < bytes.count {
        let written = bytes.withUnsafeBytes { write(ends[1], $0.baseAddress! + done, $0.count - done) }
        precondition(written > 0, "pipe write: \(errno)")
        done += written
    }
    close(ends[1])
    return ends[0]
}

/// A scratch file in memory (/dev/shm when there is one) for the readers that map a path.
/// Removed when libFuzzer exits normally (at the end of -max_total_time).
let scratchPath: String = {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    atexit { unlink(scratchPath) }
    return "\(folder)/audiosep-fuzz-\(getpid())"
}()

func writeScratch(_ bytes: [UInt8]) -> String {
    let fd = open(scratchPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "open \(scratchPath): \(errno)")
    var done = 0
    while done < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        precondition(written > 0, "write: \(errno)")
        done += written
    }
    close(fd)
    return scratchPath
}
