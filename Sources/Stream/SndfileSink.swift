import CSndfile
import Foundation

/// Writes FLAC, AIFF, W64, CAF, Ogg Vorbis and Ogg Opus through libsndfile, onto an
/// `OutputFile` (a file, a staged temporary file, or a pipe) by libsndfile's virtual I/O.
///
/// **Integers** are made here, by the rule `WAVSink` and `RawSink` follow (`SampleCodec.quantize`:
/// rounded to the nearest at full scale 2^(bits−1), clamped, the clamps counted), and handed to
/// libsndfile left-justified in 32 bits, which it narrows by a shift: the samples written are
/// those WAVSink writes at the same width. (libsndfile's own float-to-integer conversion scales
/// by 2^(bits−1) − 1 and would not be.) **Float and lossy** output is handed over as floats,
/// unclamped, as float WAV is.
///
/// **On a pipe** libsndfile's seeks back (to complete a header, FLAC's STREAMINFO) land on bytes
/// the reader has already taken: the virtual I/O moves its position as asked and drops what is
/// then written behind the end, so the stream keeps the values of the start. That is exact for
/// FLAC and Ogg; AIFF, W64 and CAF are refused there (see `OutputContainer`).
public final class SndfileSink: AudioSink {
    public let container: OutputContainer
    private let output: VirtualOutput
    private var handle: OpaquePointer?
    private let channelCount: Int
    private let format: SampleFormat
    /// Whether samples go to libsndfile as integers (made here) or as floats.
    private let writesIntegers: Bool
    private var interleavedIntegers: [Int32] = []
    private var interleavedFloats: [Float] = []
    public private(set) var clampedSamples = 0
    /// Frames handed to libsndfile so far.
    public private(set) var framesWritten = 0

    /// - Throws: `StreamError.containerUnavailable`, `.notToAPipe`, `.cannotHold`, `.opusRate`,
    ///   `.encoderFailed` (libsndfile refused the header), or the output's own error.
    public init(container: OutputContainer, output: OutputFile, sampleRate: Int, channelCount: Int,
                format: SampleFormat) throws {
        guard container != .wav, container != .raw, container.isAvailable else {
            throw StreamError.containerUnavailable(container: container)
        }
        guard output.isSeekableFile || container.streamsToAPipe else { throw StreamError.notToAPipe(container: container) }
        try container.check(sampleRate: sampleRate, channelCount: channelCount)
        guard let major = container.libsndfileProbe?.major, let subtype = container.subtype(for: format) else {
            throw StreamError.cannotHold(container: container, value: "\(format.bits)-bit \(format.encoding.rawValue) samples")
        }
        self.container = container
        self.channelCount = channelCount
        self.format = format
        self.writesIntegers = !container.isLossy && format.encoding != .floatingPoint
        self.output = VirtualOutput(output)
        var info = SF_INFO()
        info.samplerate = Int32(clamping: sampleRate)
        info.channels = Int32(clamping: channelCount)
        info.format = major | subtype
        var callbacks = VirtualOutput.callbacks
        let user = Unmanaged.passUnretained(self.output).toOpaque()
        guard let handle = QuietStderr.run({ sf_open_virtual(&callbacks, Int32(SFM_WRITE), &info, user) }) else {
            if let failure = self.output.failure { throw failure }
            throw StreamError.encoderFailed(container: container, reason: String(cString: sf_strerror(nil)))
        }
        self.handle = handle
        if let failure = self.output.failure {
            sf_close(handle)
            self.handle = nil
            throw failure
        }
    }

    /// Closes the encoder when `finish()` was not called (after a failure elsewhere): what was
    /// written is ended as validly as libsndfile can.
    deinit { if let handle { sf_close(handle) } }

    public func write(_ planar: [[Float]]) throws {
        guard let frames = planar.first?.count, frames > 0 else { return }
        guard let handle else { throw StreamError.encoderFailed(container: container, reason: "the stream was finished") }
        if let failure = output.failure { throw failure }
        let written: Int
        if writesIntegers {
            let shift = 32 - format.bits
            let (fullScale, low, high, slack) = SampleCodec.integerRange(bits: format.bits)
            if interleavedIntegers.count < frames * channelCount {
                interleavedIntegers = [Int32](repeating: 0, count: frames * channelCount)
            }
            var clamped = 0
            interleavedIntegers.withUnsafeMutableBufferPointer { out in
                for channel in 0..<channelCount {
                    planar[channel].withUnsafeBufferPointer { samples in
                        for frame in 0..<frames {
                            let (value, wasClamped) = SampleCodec.quantize(samples[frame], fullScale: fullScale, low: low,
                                                                           high: high, slack: slack)
                            if wasClamped { clamped += 1 }
                            out[frame * channelCount + channel] = Int32(truncatingIfNeeded: value << Int64(shift))
                        }
                    }
                }
            }
            clampedSamples += clamped
            written = Int(sf_writef_int(handle, interleavedIntegers, sf_count_t(frames)))
        } else {
            if interleavedFloats.count < frames * channelCount {
                interleavedFloats = [Float](repeating: 0, count: frames * channelCount)
            }
            interleavedFloats.withUnsafeMutableBufferPointer { out in
                for channel in 0..<channelCount {
                    planar[channel].withUnsafeBufferPointer { samples in
                        for frame in 0..<frames { out[frame * channelCount + channel] = samples[frame] }
                    }
                }
            }
            written = Int(sf_writef_float(handle, interleavedFloats, sf_count_t(frames)))
        }
        if let failure = output.failure { throw failure }
        guard written == frames else { throw encoderError(handle) }
        framesWritten += frames
    }

    /// Flushes the encoder and completes the header (on a file; on a pipe, see the type).
    public func finish() throws {
        guard let handle else { return }
        self.handle = nil
        let status = sf_close(handle)
        if let failure = output.failure { throw failure }
        if status != 0 {
            throw StreamError.encoderFailed(container: container, reason: String(cString: sf_error_number(status)))
        }
    }

    private func encoderError(_ handle: OpaquePointer) -> StreamError {
        .encoderFailed(container: container, reason: String(cString: sf_strerror(handle)))
    }

    /// Bytes libsndfile wrote behind the end of a pipe (header patches that could not be made).
    public var droppedPatchBytes: Int64 { output.droppedBytes }
}

/// libsndfile's virtual I/O for writing onto an `OutputFile`.
///
/// The position is ours. On a seekable file a write behind the end is a patch (`pwrite`), one at
/// the end an append, one past it first fills the gap with zeros, so the descriptor's own offset
/// always stays at the end. On a pipe a seek anywhere up to the end succeeds, and whatever is
/// then written behind the end (a header patch the reader has already passed) is dropped and
/// counted; what reaches the end goes on down the pipe. The first failure of the output (a
/// closed pipe: `StreamError.outputClosed`, a full disk) is kept for the sink to throw, and
/// every later write fails at once.
final class VirtualOutput {
    private let output: OutputFile
    private var position: Int64 = 0
    private var length: Int64 = 0
    private(set) var failure: StreamError?
    private(set) var droppedBytes: Int64 = 0

    init(_ output: OutputFile) { self.output = output }

    func seek(to offset: Int64, whence: Int32) -> Int64 {
        let target: Int64
        switch whence {
        case SEEK_SET: target = offset
        case SEEK_CUR: target = position + offset
        case SEEK_END: target = length + offset
        default: return -1
        }
        guard target >= 0, output.isSeekableFile || target <= length else { return -1 }
        position = target
        return position
    }

    func write(_ source: UnsafeRawPointer, count: Int) -> Int {
        guard failure == nil, count > 0 else { return 0 }
        var bytes = UnsafeRawBufferPointer(start: source, count: count)
        do {
            if position < length {
                let behind = Int(min(Int64(count), length - position))
                if output.isSeekableFile {
                    try output.patch(Array(bytes.prefix(behind)), at: position)
                } else {
                    droppedBytes += Int64(behind)
                }
                position += Int64(behind)
                bytes = UnsafeRawBufferPointer(rebasing: bytes[behind...])
            }
            if position > length {
                try output.write([UInt8](repeating: 0, count: Int(position - length)))
                length = position
            }
            if !bytes.isEmpty {
                try output.write(Array(bytes))
                position += Int64(bytes.count)
                length = position
            }
            return count
        } catch {
            failure = error as? StreamError ?? .writeFailed(.message("\(error)"))
            return 0
        }
    }

    static let callbacks = SF_VIRTUAL_IO(
        get_filelen: { user in context(user).length },
        seek: { offset, whence, user in context(user).seek(to: offset, whence: whence) },
        read: { _, _, _ in 0 },
        write: { pointer, count, user in
            guard let pointer, count > 0 else { return 0 }
            return sf_count_t(context(user).write(pointer, count: Int(count)))
        },
        tell: { user in context(user).position })

    private static func context(_ user: UnsafeMutableRawPointer?) -> VirtualOutput {
        Unmanaged<VirtualOutput>.fromOpaque(user!).takeUnretainedValue()
    }
}
