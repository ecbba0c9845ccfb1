// libFuzzer target: headerless PCM through RawPCMSource from a pipe. The first two bytes
// choose the format (encoding, width, byte order, 1–8 channels) and the block size; the rest
// is the stream. Every whole frame must come out, in range for integers, round-trip through
// the encoder without a clamp, and the partial frame at the end must be counted exactly.
import Stream
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRaw(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let bytes = fuzzBytes(data, count)
    guard bytes.count >= 2 else { return 0 }
    let formats: [(SampleFormat.Encoding, Int)] = [
        (.signedInteger, 8), (.signedInteger, 16), (.signedInteger, 24), (.signedInteger, 32),
        (.unsignedInteger, 8), (.unsignedInteger, 16), (.unsignedInteger, 24), (.unsignedInteger, 32),
        (.floatingPoint, 32), (.floatingPoint, 64),
    ]
    let choice = formats[Int(bytes[0] % UInt8(formats.count))]
    let endian: SampleFormat.Endian = bytes[0] & 0x80 == 0 ? .little : .big
    let channels = 1 + Int(bytes[1] % 8)
    let blockFrames = 1 + Int(bytes[1] >> 3)
    let payload = Array(bytes[2...])
    let format = try! SampleFormat(encoding: choice.0, bits: choice.1, endian: endian)
    let fd = pipeHolding(payload)
    defer { close(fd) }
    do {
        let source = try RawPCMSource(.fileDescriptor(fd), sampleRate: 8000, channelCount: channels, format: format)
        var frames = 0
        while true {
            let block = try source.read(maxFrames: blockFrames)
            guard let got = block.first?.count, got > 0 else { break }
            precondition(block.count == channels && block.allSatisfy { $0.count == got }, "ragged block")
            precondition(got <= blockFrames, "\(got) frames for a request of \(blockFrames)")
            if format.isInteger {
                // [-1, 1) in exact arithmetic; float32 rounds (2³¹−1)/2³¹ up to 1.
                precondition(block.allSatisfy { $0.allSatisfy { $0 >= -1 && $0 <= 1 } }, "integer sample out of [-1, 1]")
            }
            if format.isInteger {
                var encoded: [UInt8] = []
                let clamped = SampleCodec(format: format, channelCount: channels).encode(block, into: &encoded)
                precondition(clamped == 0, "\(clamped) samples clamped on the way back out")
            }
            frames += got
        }
        let frameBytes = channels * format.bytesPerSample
        precondition(frames == payload.count / frameBytes, "\(frames) frames from \(payload.count) bytes")
        precondition(source.droppedTrailingBytes == payload.count % frameBytes, "dropped \(source.droppedTrailingBytes)")
    } catch StreamError.emptyInput {
        precondition(payload.isEmpty, "empty input reported for \(payload.count) bytes")
    } catch {
        fatalError("unexpected error: \(error)")
    }
    return 0
}
