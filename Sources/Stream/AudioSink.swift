import Foundation
import Synchronization

/// An encoder: takes planar float frames and writes them in its container.
public protocol AudioSink: AnyObject {
    /// Encodes and writes planar frames (one array per channel).
    func write(_ planar: [[Float]]) throws
    /// Ends the stream: patches the header's lengths when the output is a seekable file.
    func finish() throws
    /// Samples clamped to the integer range so far.
    var clampedSamples: Int { get }
}

extension SampleCodec {
    /// Encodes planar frames and writes them; returns the samples clamped.
    func write(_ planar: [[Float]], to output: OutputFile) throws -> Int {
        guard let frames = planar.first?.count, frames > 0 else { return 0 }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frames * bytesPerFrame)
        let clamped = encode(planar, into: &bytes)
        try output.write(bytes)
        return clamped
    }
}

/// Output container, as `--out-type` names it.
public enum OutputContainer: String, Sendable, CaseIterable {
    case wav, raw

    /// Extensions of audio containers; a file so named must hold that container.
    static let audioExtensions: Set<String> = [
        "wav", "wave", "flac", "mp3", "mp2", "ogg", "oga", "opus", "aif", "aiff", "aifc", "au", "snd", "caf", "w64", "rf64",
        "m4a", "mp4", "aac", "wma", "mka", "webm", "wv", "ape", "amr", "3gp", "sd2", "voc", "nist", "sph",
    ]

    /// Refuses an output name whose extension promises a container other than this one, so that
    /// `-o out.flac` is an error, not WAV bytes under a .flac name.
    /// - Throws: `StreamError.unwrittenContainer`.
    public func check(path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        guard Self.audioExtensions.contains(ext) else { return }
        let own: Set<String> = self == .wav ? ["wav", "wave"] : []
        guard own.contains(ext) else { throw StreamError.unwrittenContainer(path: path, container: self) }
    }
}

/// Headerless PCM in any sample format.
public final class RawSink: AudioSink {
    private let output: OutputFile
    private let codec: SampleCodec
    public private(set) var clampedSamples = 0

    public init(output: OutputFile, channelCount: Int, format: SampleFormat) {
        self.output = output
        self.codec = SampleCodec(format: format, channelCount: channelCount)
    }

    public func write(_ planar: [[Float]]) throws {
        clampedSamples += try codec.write(planar, to: output)
    }

    public func finish() throws {}
}

/// RIFF WAVE. Plain PCM / IEEE-float headers for ≤ 2 channels of 8/16-bit or float, and
/// WAVE_FORMAT_EXTENSIBLE otherwise (as Microsoft asks for > 2 channels or > 16 bits).
/// When the length is known in advance (`expectedFrames`) the header says it from the start, as
/// sox's does, so a reader of a pipe knows it; otherwise on a pipe the lengths say "unknown" the
/// way sox writes them (0x7ffff000 bytes of data). On a seekable file they are patched with the
/// true values at the end, and after a failed write (a full disk) with what the file holds.
public final class WAVSink: AudioSink {
    private let output: OutputFile
    private let codec: SampleCodec
    private let sampleRate: Int
    private let headerBytes: Int
    private var dataBytes: Int64 = 0
    /// The data length the header announced, when it announced one.
    public let announcedDataBytes: Int64?
    public private(set) var clampedSamples = 0

    /// The data length written into headers of streams whose length is not known yet.
    static let unknownDataLength: UInt32 = 0x7FFF_F000

    public init(output: OutputFile, sampleRate: Int, channelCount: Int, format: SampleFormat,
                expectedFrames: Int? = nil) throws {
        switch (format.encoding, format.bits) {
        case (.unsignedInteger, 8), (.signedInteger, 16), (.signedInteger, 24), (.signedInteger, 32),
             (.floatingPoint, 32), (.floatingPoint, 64):
            break
        default:
            throw StreamError.unsupportedInWAV(encoding: format.encoding.rawValue, bits: format.bits)
        }
        var littleEndian = format
        littleEndian.endian = .little
        let codec = SampleCodec(format: littleEndian, channelCount: channelCount)
        self.output = output
        self.codec = codec
        self.sampleRate = sampleRate
        // A length past what 32 bits hold (RIFF's limit, 4 GB) is announced as unknown.
        let expectedBytes = expectedFrames.map { Int64($0) * Int64(codec.bytesPerFrame) }
        let announced = expectedBytes.flatMap { $0 + 64 <= Int64(UInt32.max) ? $0 : nil }
        self.announcedDataBytes = announced
        let header = try Self.header(sampleRate: sampleRate, channelCount: channelCount, format: littleEndian,
                                     dataBytes: announced.map { UInt32($0) })
        self.headerBytes = header.count
        try output.write(header)
    }

    public func write(_ planar: [[Float]]) throws {
        do {
            clampedSamples += try codec.write(planar, to: output)
        } catch {
            // Whatever made it to the file is audio a reader should find: say so in the header.
            patchLengths(dataBytes: max(0, output.bytesWritten - Int64(headerBytes)) / Int64(codec.bytesPerFrame)
                         * Int64(codec.bytesPerFrame))
            throw error
        }
        dataBytes += Int64((planar.first?.count ?? 0) * codec.bytesPerFrame)
        if armed { SignalSafeHeader.dataBytes.store(dataBytes, ordering: .releasing) }
    }

    private var armed = false

    /// Lets a signal handler that is about to `_exit` patch this sink's header to the data
    /// written so far (`patchArmedHeader()`), so a process killed between writes leaves a file
    /// whose header says what it holds. Only for a seekable file, and one sink per process.
    public func patchHeaderOnSignal() {
        guard output.isSeekableFile else { return }
        armed = true
        SignalSafeHeader.dataBytes.store(dataBytes, ordering: .releasing)
        SignalSafeHeader.fd.store(output.fd, ordering: .relaxed)
        SignalSafeHeader.start.store(output.startOffset, ordering: .relaxed)
        SignalSafeHeader.headerBytes.store(Int64(headerBytes), ordering: .releasing)
    }

    /// Async-signal-safe (atomics and pwrite(2) only, nothing allocated): patches the header of
    /// the sink `patchHeaderOnSignal()` armed to the whole frames written so far, the same bytes
    /// `finish()` writes once they are all written. Does nothing when no sink is armed.
    public static func patchArmedHeader() {
        let headerBytes = SignalSafeHeader.headerBytes.load(ordering: .acquiring)
        guard headerBytes > 0 else { return }
        let fd = SignalSafeHeader.fd.load(ordering: .relaxed)
        let start = SignalSafeHeader.start.load(ordering: .relaxed)
        let data = SignalSafeHeader.dataBytes.load(ordering: .acquiring)
        var dataField = UInt32(clamping: data).littleEndian
        var riffField = UInt32(clamping: data + headerBytes - 8 + data % 2).littleEndian
        _ = withUnsafeBytes(of: &riffField) { pwrite(fd, $0.baseAddress, 4, off_t(start + 4)) }
        _ = withUnsafeBytes(of: &dataField) { pwrite(fd, $0.baseAddress, 4, off_t(start + headerBytes - 4)) }
    }

    public func finish() throws {
        // RIFF wants chunks padded to an even length.
        if dataBytes % 2 == 1 { try output.write([0]) }
        guard output.isSeekableFile else { return }
        try patch(dataBytes: dataBytes)
    }

    /// Data bytes written so far.
    public var writtenDataBytes: Int64 { dataBytes }
    /// Data bytes in the file, counting those of a write that failed part-way.
    public var dataBytesOnDisk: Int64 { max(0, output.bytesWritten - Int64(headerBytes)) }

    private func patch(dataBytes: Int64) throws {
        let data = UInt32(clamping: dataBytes)
        let riff = UInt32(clamping: dataBytes + Int64(headerBytes) - 8 + dataBytes % 2)
        try output.patch(Self.le32(riff), at: 4)
        try output.patch(Self.le32(data), at: Int64(headerBytes - 4))
    }

    /// Best effort after a failure: a seekable file's header is made to say what it holds.
    private func patchLengths(dataBytes: Int64) {
        guard output.isSeekableFile else { return }
        try? patch(dataBytes: dataBytes)
    }

    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }

    /// Builds the header; `dataBytes == nil` writes the "unknown length" values. Every field is
    /// checked to hold its value (a rate past 32 bits is an error, never a wrapped number).
    public static func header(sampleRate: Int, channelCount: Int, format: SampleFormat, dataBytes: UInt32?) throws -> [UInt8] {
        let isFloat = format.encoding == .floatingPoint
        let extensible = channelCount > 2 || (!isFloat && format.bits > 16)
        let blockAlign = channelCount * format.bytesPerSample
        func field16(_ name: String, _ value: Int) throws -> UInt16 {
            guard let narrow = UInt16(exactly: value) else { throw StreamError.headerFieldOverflow(field: name, value: value) }
            return narrow
        }
        func field32(_ name: String, _ value: Int) throws -> UInt32 {
            guard let narrow = UInt32(exactly: value) else { throw StreamError.headerFieldOverflow(field: name, value: value) }
            return narrow
        }
        guard sampleRate > 0 else { throw StreamError.invalidRate(hz: sampleRate) }
        guard channelCount > 0 else { throw StreamError.invalidChannels(count: channelCount) }
        let (byteRate, overflow) = sampleRate.multipliedReportingOverflow(by: blockAlign)
        let fmtSize = extensible ? 40 : (isFloat ? 18 : 16)
        var fmt: [UInt8] = []
        fmt += le16(extensible ? 0xFFFE : (isFloat ? 3 : 1))
        fmt += le16(try field16("a channel count of", channelCount))
        fmt += le32(try field32("a sample rate of", sampleRate))
        fmt += le32(try field32("a byte rate of", overflow ? Int.max : byteRate))
        fmt += le16(try field16("a block align of", blockAlign))
        fmt += le16(try field16("bits per sample of", format.bits))
        if extensible {
            fmt += le16(22)
            fmt += le16(UInt16(format.bits))          // valid bits per sample
            fmt += le32(channelMask(channelCount))
            // KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: {0000000X-0000-0010-8000-00AA00389B71}
            fmt += le32(isFloat ? 3 : 1) + le16(0) + le16(0x10)
            fmt += [0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        } else if isFloat {
            fmt += le16(0)
        }
        let headerSize = 12 + 8 + fmtSize + 8
        let unknown = unknownDataLength - unknownDataLength % UInt32(blockAlign)
        let data = dataBytes ?? unknown
        let riff = try field32("a RIFF length of", Int(data) + Int(data % 2) + headerSize - 8)
        var header: [UInt8] = Array("RIFF".utf8) + le32(riff) + Array("WAVE".utf8)
        header += Array("fmt ".utf8) + le32(UInt32(fmtSize)) + fmt
        header += Array("data".utf8) + le32(data)
        return header
    }

    /// The usual speaker layout for 1–8 channels (mono, stereo, …, 5.1, 7.1); none beyond.
    static func channelMask(_ channels: Int) -> UInt32 {
        switch channels {
        case 1: return 0x4
        case 2: return 0x3
        case 3: return 0x7
        case 4: return 0x33
        case 5: return 0x37
        case 6: return 0x3F
        case 7: return 0x13F
        case 8: return 0x63F
        default: return 0
        }
    }
}

/// What `WAVSink.patchArmedHeader()` needs, in atomics a signal handler may read.
enum SignalSafeHeader {
    static let fd = Atomic<Int32>(-1)
    static let start = Atomic<Int64>(0)
    /// 0 while no sink is armed.
    static let headerBytes = Atomic<Int64>(0)
    static let dataBytes = Atomic<Int64>(0)
}
