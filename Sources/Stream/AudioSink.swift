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
///
/// **On a pipe** the header is written once, first: when the length is known in advance
/// (`expectedFrames`) it says it, as sox's does, and `finish()` pads a stream that ended short of
/// it with silence to that length (`paddedFrames`), so the header never promises more than the
/// stream holds; otherwise the lengths say "unknown" the way sox writes them (0x7ffff000 bytes of
/// data), which is all a pipe can say, and past 4 GiB too.
///
/// **On a seekable file** the lengths are patched with the true values at the end, and after a
/// failed write (a full disk) with what the file holds. A file whose length is not known to fit
/// RIFF's 32-bit sizes gets a 36-byte `JUNK` chunk after the RIFF header (as ffmpeg's
/// `-rf64 auto` writes it): when the data passes 4 GiB the header is rewritten in place as RF64
/// (EBU Tech 3306), the JUNK chunk becoming the `ds64` chunk that holds the 64-bit sizes and the
/// 32-bit fields 0xFFFFFFFF. A file known to fit keeps the plain 44-byte header; should it outgrow
/// 4 GiB anyway, the write that would pass is refused (`StreamError.wavTooLarge`), never a
/// header that lies.
public final class WAVSink: AudioSink {
    private let output: OutputFile
    private let codec: SampleCodec
    private let sampleRate: Int
    private let headerBytes: Int
    private var dataBytes: Int64 = 0
    /// The data length the header announced, when it announced one.
    public let announcedDataBytes: Int64?
    /// True when the header holds a JUNK chunk that becomes `ds64` if the file passes `sizeLimit`.
    public let reservesRF64: Bool
    /// The largest RIFF or data size a RIFF header states; past it, RF64. 0xFFFFFFFF except in
    /// tests, which lower it to make RF64 files of a few kilobytes.
    let sizeLimit: Int64
    /// Frames of silence `finish()` added to reach the announced length (0 when none were needed).
    public private(set) var paddedFrames = 0
    /// The run's stop request: a stopped stream is not padded to the length its header promised.
    public var cancellation: Cancellation?
    public private(set) var clampedSamples = 0

    /// The data length written into headers of streams whose length is not known yet.
    static let unknownDataLength: UInt32 = 0x7FFF_F000
    /// RIFF's limit on a chunk size, 4 GiB − 1.
    public static let riffSizeLimit = Int64(UInt32.max)
    /// The JUNK chunk reserved for ds64: its 8-byte header and ds64's 28-byte body (RIFF size,
    /// data size, sample count: 64 bits each; a table length of 0).
    static let junkBytes = 36

    /// - Parameters:
    ///   - expectedFrames: the output's length when known before the audio: announced in the
    ///     header on a pipe, and on a file it spares the JUNK chunk when it fits RIFF's sizes.
    ///   - sizeLimit: RIFF's 4 GiB limit; lowered by tests only.
    public convenience init(output: OutputFile, sampleRate: Int, channelCount: Int, format: SampleFormat,
                            expectedFrames: Int? = nil) throws {
        try self.init(output: output, sampleRate: sampleRate, channelCount: channelCount, format: format,
                      expectedFrames: expectedFrames, sizeLimit: Self.riffSizeLimit)
    }

    init(output: OutputFile, sampleRate: Int, channelCount: Int, format: SampleFormat,
         expectedFrames: Int?, sizeLimit: Int64) throws {
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
        self.sizeLimit = sizeLimit
        let plain = try Self.header(sampleRate: sampleRate, channelCount: channelCount, format: littleEndian, dataBytes: 0)
        // Whether `bytes` of data (and the pad byte an odd length takes) fit the plain header's sizes.
        func fits(_ bytes: Int64) -> Bool { bytes <= sizeLimit && bytes + bytes % 2 + Int64(plain.count) - 8 <= sizeLimit }
        let expectedBytes = expectedFrames.map { Int64($0) * Int64(codec.bytesPerFrame) }
        if output.isSeekableFile {
            // Patched at the end; the header starts at "unknown", as a pipe's does.
            self.announcedDataBytes = nil
            self.reservesRF64 = !(expectedBytes.map(fits) ?? false)
        } else {
            // A pipe's header is final: a length past what 32 bits hold is announced as unknown.
            self.announcedDataBytes = expectedBytes.flatMap { fits($0) ? $0 : nil }
            self.reservesRF64 = false
        }
        let header = try Self.header(sampleRate: sampleRate, channelCount: channelCount, format: littleEndian,
                                     dataBytes: announcedDataBytes.map { UInt32($0) }, reservingRF64: reservesRF64)
        self.headerBytes = header.count
        try output.write(header)
    }

    public func write(_ planar: [[Float]]) throws {
        let adding = Int64((planar.first?.count ?? 0) * codec.bytesPerFrame)
        if output.isSeekableFile, !reservesRF64, !fitsRIFF(dataBytes + adding) {
            // No room for RF64 in this header, and a RIFF header cannot state the length: stop
            // before the file holds more than its header can say, and make the header say what it holds.
            patchLengths(dataBytes: dataBytes)
            throw StreamError.wavTooLarge(dataBytes: dataBytes + adding, limitBytes: sizeLimit)
        }
        do {
            clampedSamples += try codec.write(planar, to: output)
        } catch {
            // Whatever made it to the file is audio a reader should find: say so in the header.
            patchLengths(dataBytes: max(0, output.bytesWritten - Int64(headerBytes)) / Int64(codec.bytesPerFrame)
                         * Int64(codec.bytesPerFrame))
            throw error
        }
        dataBytes += adding
        if armed { SignalSafeHeader.dataBytes.store(dataBytes, ordering: .releasing) }
    }

    /// Whether `bytes` of data fit a RIFF header's 32-bit sizes (the data's, and the RIFF's with the pad byte).
    private func fitsRIFF(_ bytes: Int64) -> Bool {
        bytes <= sizeLimit && bytes + bytes % 2 + Int64(headerBytes) - 8 <= sizeLimit
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
        SignalSafeHeader.bytesPerFrame.store(Int64(codec.bytesPerFrame), ordering: .relaxed)
        SignalSafeHeader.sizeLimit.store(reservesRF64 ? sizeLimit : -1, ordering: .relaxed)
        SignalSafeHeader.headerBytes.store(Int64(headerBytes), ordering: .releasing)
    }

    /// Async-signal-safe (atomics and pwrite(2) only, nothing allocated): patches the header of
    /// the sink `patchHeaderOnSignal()` armed to the whole frames written so far, the same bytes
    /// `finish()` writes once they are all written (RF64 past the size limit when the sink
    /// reserved room for it). Does nothing when no sink is armed.
    public static func patchArmedHeader() {
        let headerBytes = SignalSafeHeader.headerBytes.load(ordering: .acquiring)
        guard headerBytes > 0 else { return }
        let fd = SignalSafeHeader.fd.load(ordering: .relaxed)
        let start = SignalSafeHeader.start.load(ordering: .relaxed)
        let frameBytes = max(1, SignalSafeHeader.bytesPerFrame.load(ordering: .relaxed))
        let limit = SignalSafeHeader.sizeLimit.load(ordering: .relaxed)
        let data = SignalSafeHeader.dataBytes.load(ordering: .acquiring) / frameBytes * frameBytes
        let riff = data + headerBytes - 8 + data % 2
        func put<T>(_ value: T, at offset: Int64) {
            var value = value
            _ = withUnsafeBytes(of: &value) { pwrite(fd, $0.baseAddress, $0.count, off_t(start + offset)) }
        }
        if limit >= 0, riff > limit || data > limit {
            put(UInt32(0x3436_4652), at: 0)  // "RF64" (literals: no lazy globals in a signal handler)
            put(UInt32.max, at: 4)
            put(UInt32(0x3436_7364), at: 12)  // "ds64"
            put(UInt64(riff).littleEndian, at: 20)
            put(UInt64(data).littleEndian, at: 28)
            put(UInt64(data / frameBytes).littleEndian, at: 36)
            put(UInt32.max, at: headerBytes - 4)
        } else {
            put(UInt32(clamping: riff).littleEndian, at: 4)
            put(UInt32(clamping: data).littleEndian, at: headerBytes - 4)
        }
    }

    /// Ends the stream. On a pipe whose header announced a length the stream did not reach, first
    /// pads it with silence to that length (`paddedFrames` says how much), unless a stop signal
    /// ended the run (then the stream ends where the stop left it). Then the pad byte RIFF wants
    /// after an odd-length chunk, and on a seekable file the header's true lengths (RF64 past 4 GiB).
    public func finish() throws {
        if let announced = announcedDataBytes, dataBytes < announced, cancellation?.isRequested != true {
            let missing = Int((announced - dataBytes) / Int64(codec.bytesPerFrame))
            var left = missing
            while left > 0 {
                let frames = min(left, 65_536)
                try write([[Float]](repeating: [Float](repeating: 0, count: frames), count: codec.channelCount))
                left -= frames
            }
            paddedFrames = missing
        }
        // RIFF wants chunks padded to an even length.
        if dataBytes % 2 == 1 { try output.write([0]) }
        guard output.isSeekableFile else { return }
        try patch(dataBytes: dataBytes)
    }

    /// The length in frames the header announced, when it announced one.
    public var announcedFrames: Int? { announcedDataBytes.map { Int($0) / codec.bytesPerFrame } }
    /// Data bytes written so far.
    public var writtenDataBytes: Int64 { dataBytes }
    /// Data bytes in the file, counting those of a write that failed part-way.
    public var dataBytesOnDisk: Int64 { max(0, output.bytesWritten - Int64(headerBytes)) }

    /// Writes the true sizes into a seekable file's header: RIFF when they fit, RF64 with a ds64
    /// chunk in place of the JUNK one when they do not (and it was reserved).
    private func patch(dataBytes: Int64) throws {
        let riff = dataBytes + Int64(headerBytes) - 8 + dataBytes % 2
        if reservesRF64, !fitsRIFF(dataBytes) {
            let frames = dataBytes / Int64(codec.bytesPerFrame)
            try output.patch(Array("RF64".utf8) + Self.le32(UInt32.max), at: 0)
            try output.patch(Array("ds64".utf8) + Self.le32(28) + Self.le64(UInt64(riff)) + Self.le64(UInt64(dataBytes))
                             + Self.le64(UInt64(frames)) + Self.le32(0), at: 12)
            try output.patch(Self.le32(UInt32.max), at: Int64(headerBytes - 4))
        } else {
            try output.patch(Self.le32(UInt32(clamping: riff)), at: 4)
            try output.patch(Self.le32(UInt32(clamping: dataBytes)), at: Int64(headerBytes - 4))
        }
    }

    /// Best effort after a failure: a seekable file's header is made to say what it holds.
    private func patchLengths(dataBytes: Int64) {
        guard output.isSeekableFile else { return }
        try? patch(dataBytes: dataBytes)
    }

    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }
    static func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8((value >> (8 * $0)) & 0xff) } }

    /// Builds the header; `dataBytes == nil` writes the "unknown length" values; `reservingRF64`
    /// puts a 36-byte JUNK chunk before `fmt ` (room for ds64). Every field is checked to hold
    /// its value (a rate past 32 bits is an error, never a wrapped number).
    public static func header(sampleRate: Int, channelCount: Int, format: SampleFormat, dataBytes: UInt32?,
                              reservingRF64: Bool = false) throws -> [UInt8] {
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
        let junk = reservingRF64 ? junkBytes : 0
        let headerSize = 12 + junk + 8 + fmtSize + 8
        let unknown = unknownDataLength - unknownDataLength % UInt32(blockAlign)
        let data = dataBytes ?? unknown
        let riff = try field32("a RIFF length of", Int(data) + Int(data % 2) + headerSize - 8)
        var header: [UInt8] = Array("RIFF".utf8) + le32(riff) + Array("WAVE".utf8)
        if reservingRF64 { header += Array("JUNK".utf8) + le32(UInt32(junkBytes - 8)) + [UInt8](repeating: 0, count: junkBytes - 8) }
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
    static let bytesPerFrame = Atomic<Int64>(1)
    /// The sink's size limit when it reserved room for RF64; −1 when it did not.
    static let sizeLimit = Atomic<Int64>(-1)
}
