// libFuzzer target: header detection and decoding through libsndfile's virtual I/O, from
// memory (SndfileSource(bytes:)) and from a pipe whose recorded prefix is as short as 64
// bytes, so that libsndfile's seeks land outside it. Every failure must be a StreamError,
// and the frames decoded must stay proportional to the bytes given.
@testable import Stream
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSndfile(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let bytes = fuzzBytes(data, count)
    decodeAll(bytes.count) { try SndfileSource(bytes: bytes) }
    let fd = pipeHolding(bytes)
    defer { close(fd) }
    let prefix = 64 << Int((bytes.last ?? 0) % 10)  // 64 B … 32 KB
    decodeAll(bytes.count) { try SndfileSource(virtual: VirtualInput(fd: fd, recordLimit: prefix)) }
    return 0
}

/// Opens a source and reads it to the end; fails loudly on anything but a `StreamError`.
func decodeAll(_ inputBytes: Int, _ open: () throws -> SndfileSource) {
    do {
        let source = try open()
        let channels = source.description.channelCount
        precondition(channels > 0 && source.description.sampleRate > 0, "\(source.description)")
        var frames = 0
        while true {
            let block = try source.read(maxFrames: 1000)
            guard let got = block.first?.count, got > 0 else { break }
            precondition(block.count == channels && block.allSatisfy { $0.count == got }, "ragged block")
            frames += got
            // The densest codecs libsndfile reads give a few samples per byte (ADPCM, GSM);
            // anything far beyond that is a decoder inventing audio.
            precondition(frames * channels <= 64 * inputBytes + 100_000,
                         "\(frames) frames of \(channels) channels from \(inputBytes) bytes")
        }
    } catch is StreamError {
    } catch {
        fatalError("untyped error: \(error)")
    }
}
