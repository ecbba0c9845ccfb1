import CSndfile
import Foundation

/// Output container, as `--out-type` names it. WAV and raw PCM are written by our own sinks
/// (`WAVSink`, `RawSink`); the others by libsndfile (`SndfileSink`), and only those the
/// installed libsndfile can write are `available`.
///
/// **Sample formats** (`format(for:explicitBits:explicitEncoding:explicitEndian:)`, the one rule):
/// - WAV: 8-bit unsigned, 16/24/32-bit signed, 32/64-bit float (as before).
/// - raw: any `SampleFormat`.
/// - FLAC: 8/16/24-bit signed integers only. A float or 32-bit input becomes 24-bit unless
///   `--out-bits` says otherwise, as sox writes FLAC at 24 bits at most; 32 bits and float,
///   asked for, are refused.
/// - AIFF: 8/16/24/32-bit signed integers, 32/64-bit float (an 8-bit unsigned input becomes signed).
/// - W64: as WAV. CAF: as WAV but 8-bit is signed, as CAF's linear PCM is.
/// - Ogg Vorbis, Ogg Opus: lossy, no bit depth (bits or an encoding asked for are refused);
///   Opus only at 8, 12, 16, 24 or 48 kHz.
///
/// **On a pipe** (measured with libsndfile 1.2.0, ffmpeg and sox; `streamsToAPipe`): WAV, raw,
/// FLAC, Ogg Vorbis and Ogg Opus stream. libsndfile cannot rewrite FLAC's STREAMINFO there, so
/// it keeps the values of the start, "unknown" (0 total samples, no MD5), which is legal FLAC:
/// ffmpeg and sox decode every frame. AIFF, W64 and CAF cannot: libsndfile writes
/// their lengths as 0 until it patches the header at the end, and readers of a pipe then find
/// no audio (ffmpeg reads 0 frames of all three, sox and libsndfile 0 of CAF, libsndfile 0 of
/// AIFF), so they are refused on a pipe.
public enum OutputContainer: String, Sendable, CaseIterable {
    case wav, raw, flac, aiff, w64, caf, ogg, opus

    /// The name errors and docs use.
    public var displayName: String {
        switch self {
        case .wav: return "WAV"
        case .raw: return "raw PCM"
        case .flac: return "FLAC"
        case .aiff: return "AIFF"
        case .w64: return "W64"
        case .caf: return "CAF"
        case .ogg: return "Ogg Vorbis"
        case .opus: return "Ogg Opus"
        }
    }

    /// The container a file extension names, as sox maps them (case-insensitive, without the dot):
    /// wav/wave, flac, aif/aiff/aifc, w64, caf, ogg/oga (Vorbis), opus, raw/pcm; nil for any other.
    public init?(extension ext: String) {
        switch ext.lowercased() {
        case "wav", "wave": self = .wav
        case "flac": self = .flac
        case "aif", "aiff", "aifc": self = .aiff
        case "w64": self = .w64
        case "caf": self = .caf
        case "ogg", "oga": self = .ogg
        case "opus": self = .opus
        case "raw", "pcm": self = .raw
        default: return nil
        }
    }

    /// The container a path's extension names (`out.flac` → `.flac`); nil when it names none.
    public static func forPath(_ path: String) -> OutputContainer? {
        OutputContainer(extension: (path as NSString).pathExtension)
    }

    /// Extensions of audio containers; a file so named must hold that container.
    static let audioExtensions: Set<String> = [
        "wav", "wave", "flac", "mp3", "mp2", "ogg", "oga", "opus", "aif", "aiff", "aifc", "au", "snd", "caf", "w64", "rf64",
        "m4a", "mp4", "aac", "wma", "mka", "webm", "wv", "ape", "amr", "3gp", "sd2", "voc", "nist", "sph",
    ]

    /// Refuses an output name whose extension promises a container other than this one, so that
    /// `-o out.flac` with WAV output is an error, not WAV bytes under a .flac name. A `.raw` or
    /// `.pcm` name promises no header, and may hold any container.
    /// - Throws: `StreamError.unwrittenContainer`.
    public func check(path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        guard Self.audioExtensions.contains(ext) else { return }
        guard OutputContainer(extension: ext) == self else { throw StreamError.unwrittenContainer(path: path, container: self) }
    }

    // MARK: What the installed libsndfile writes

    /// libsndfile's major format and a subtype it must accept for this container to be written.
    var libsndfileProbe: (major: Int32, subtype: Int32)? {
        switch self {
        case .wav, .raw: return nil
        case .flac: return (Int32(SF_FORMAT_FLAC), Int32(SF_FORMAT_PCM_16))
        case .aiff: return (Int32(SF_FORMAT_AIFF), Int32(SF_FORMAT_PCM_16))
        case .w64: return (Int32(SF_FORMAT_W64), Int32(SF_FORMAT_PCM_16))
        case .caf: return (Int32(SF_FORMAT_CAF), Int32(SF_FORMAT_PCM_16))
        case .ogg: return (Int32(SF_FORMAT_OGG), Int32(SF_FORMAT_VORBIS))
        case .opus: return (Int32(SF_FORMAT_OGG), Int32(SF_FORMAT_OPUS))
        }
    }

    /// The containers this build writes: WAV and raw always, the others when the installed
    /// libsndfile lists the major format and accepts the subtype (`sf_format_check`).
    public static let available: [OutputContainer] = {
        var count: Int32 = 0
        sf_command(nil, Int32(SFC_GET_FORMAT_MAJOR_COUNT), &count, Int32(MemoryLayout<Int32>.size))
        var majors = Set<Int32>()
        for index in 0..<max(0, count) {
            var info = SF_FORMAT_INFO()
            info.format = index
            if sf_command(nil, Int32(SFC_GET_FORMAT_MAJOR), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0 {
                majors.insert(info.format)
            }
        }
        return allCases.filter { container in
            guard let probe = container.libsndfileProbe else { return true }
            var info = SF_INFO()
            info.samplerate = 48_000
            info.channels = 2
            info.format = probe.major | probe.subtype
            return majors.contains(probe.major) && sf_format_check(&info) != 0
        }
    }()

    /// Whether this build can write the container.
    public var isAvailable: Bool { Self.available.contains(self) }

    /// Whether the container is written exactly to a pipe (see the type's documentation):
    /// false for AIFF, W64 and CAF, whose headers libsndfile can only complete by seeking back.
    public var streamsToAPipe: Bool {
        switch self {
        case .wav, .raw, .flac, .ogg, .opus: return true
        case .aiff, .w64, .caf: return false
        }
    }

    /// Lossy codecs: no bit depth, no clamping.
    public var isLossy: Bool { self == .ogg || self == .opus }

    // MARK: The sample format rule

    /// The sample format this container is written in, from the input's and what the user asked
    /// for (`--out-bits`, `--out-encoding`, `--out-endian`); the rule per container is in the
    /// type's documentation. For WAV and raw it is the rule the command line always had.
    /// - Throws: `StreamError.cannotHold` naming the value the container cannot hold, or
    ///   `StreamError.unsupportedSampleFormat` for a width no container has.
    public func format(for input: SampleFormat, explicitBits: Int?, explicitEncoding: SampleFormat.Encoding?,
                       explicitEndian: SampleFormat.Endian? = nil) throws -> SampleFormat {
        if isLossy {
            if let explicitBits { throw StreamError.cannotHold(container: self, value: "a bit depth (\(explicitBits) bits)") }
            if let explicitEncoding { throw StreamError.cannotHold(container: self, value: "an encoding (\(explicitEncoding.rawValue))") }
            return try SampleFormat(encoding: .floatingPoint, bits: 32, endian: .little)
        }
        var bits = explicitBits ?? input.bits
        var encoding = explicitEncoding ?? input.encoding
        // Float output from integer input: 32-bit float unless the bits are given (sox's -e float).
        if explicitEncoding == .floatingPoint, explicitBits == nil, input.encoding != .floatingPoint { bits = 32 }
        // Integer output from float input: 16 bits unless given.
        if let explicitEncoding, explicitEncoding != .floatingPoint, explicitBits == nil, input.encoding == .floatingPoint {
            bits = input.bits == 64 ? 32 : 16
        }
        if explicitEncoding == nil, explicitBits != nil, encoding == .floatingPoint, bits < 32 { encoding = .signedInteger }
        if explicitEncoding == nil, explicitBits != nil, encoding != .floatingPoint, bits == 64 { encoding = .floatingPoint }
        let endian = explicitEndian ?? input.endian
        switch self {
        case .wav, .w64:
            if explicitEncoding == nil, encoding != .floatingPoint { encoding = bits == 8 ? .unsignedInteger : .signedInteger }
        case .raw:
            break
        case .caf, .aiff:
            if explicitEncoding == .unsignedInteger { throw refusal(encoding, bits) }
            if encoding == .unsignedInteger { encoding = .signedInteger }
        case .flac:
            if let explicitEncoding, explicitEncoding != .signedInteger { throw refusal(explicitEncoding, bits) }
            if explicitBits == nil, encoding == .floatingPoint || bits > 24 { bits = 24 }
            if bits > 24 { throw refusal(encoding, bits) }
            encoding = .signedInteger
        case .ogg, .opus:
            break
        }
        let format = try SampleFormat(encoding: encoding, bits: bits, endian: endian)
        if self == .wav || self == .raw { return format }  // WAVSink refuses what WAV cannot hold, as before
        // libsndfile writes each container in its own byte order, whatever --out-endian says.
        var native = format
        native.endian = self == .aiff || self == .caf ? .big : .little
        guard subtype(for: native) != nil else { throw refusal(encoding, bits) }
        return native
    }

    private func refusal(_ encoding: SampleFormat.Encoding, _ bits: Int) -> StreamError {
        .cannotHold(container: self, value: "\(bits)-bit \(encoding.rawValue) samples")
    }

    /// What the container holds, for an error: the list of sample formats.
    var holds: String {
        switch self {
        case .wav, .w64: return "8-bit unsigned, 16/24/32-bit signed integers and 32/64-bit float"
        case .raw: return "any sample format"
        case .flac: return "8/16/24-bit signed integers; sox writes FLAC at 24 bits at most"
        case .aiff, .caf: return "8/16/24/32-bit signed integers and 32/64-bit float"
        case .ogg, .opus: return "lossy audio, with no bit depth or encoding"
        }
    }

    /// libsndfile's subtype for `format` in this container; nil when the container cannot hold it.
    func subtype(for format: SampleFormat) -> Int32? {
        if self == .ogg { return Int32(SF_FORMAT_VORBIS) }
        if self == .opus { return Int32(SF_FORMAT_OPUS) }
        let subtype: Int32
        switch (format.encoding, format.bits) {
        case (.signedInteger, 8): subtype = Int32(SF_FORMAT_PCM_S8)
        case (.unsignedInteger, 8): subtype = Int32(SF_FORMAT_PCM_U8)
        case (.signedInteger, 16): subtype = Int32(SF_FORMAT_PCM_16)
        case (.signedInteger, 24): subtype = Int32(SF_FORMAT_PCM_24)
        case (.signedInteger, 32): subtype = Int32(SF_FORMAT_PCM_32)
        case (.floatingPoint, 32): subtype = Int32(SF_FORMAT_FLOAT)
        case (.floatingPoint, 64): subtype = Int32(SF_FORMAT_DOUBLE)
        default: return nil
        }
        let allowed: [Int32]
        switch self {
        case .flac: allowed = [SF_FORMAT_PCM_S8, SF_FORMAT_PCM_16, SF_FORMAT_PCM_24].map { Int32($0) }
        case .aiff, .caf:
            allowed = [SF_FORMAT_PCM_S8, SF_FORMAT_PCM_16, SF_FORMAT_PCM_24, SF_FORMAT_PCM_32, SF_FORMAT_FLOAT,
                       SF_FORMAT_DOUBLE].map { Int32($0) }
        case .w64, .wav:
            allowed = [SF_FORMAT_PCM_U8, SF_FORMAT_PCM_16, SF_FORMAT_PCM_24, SF_FORMAT_PCM_32, SF_FORMAT_FLOAT,
                       SF_FORMAT_DOUBLE].map { Int32($0) }
        case .raw: return subtype
        case .ogg, .opus: return nil
        }
        return allowed.contains(subtype) ? subtype : nil
    }

    /// Rates Opus encodes.
    public static let opusRates = [8_000, 12_000, 16_000, 24_000, 48_000]

    /// Refuses a rate or channel count the container cannot hold: Opus only at `opusRates`,
    /// FLAC at most 8 channels. (`makeSink` checks it too; a front end may check before the run.)
    public func check(sampleRate: Int, channelCount: Int) throws {
        guard sampleRate > 0 else { throw StreamError.invalidRate(hz: sampleRate) }
        guard channelCount > 0 else { throw StreamError.invalidChannels(count: channelCount) }
        if self == .opus, !Self.opusRates.contains(sampleRate) { throw StreamError.opusRate(hz: sampleRate) }
        if self == .flac, channelCount > 8 { throw StreamError.cannotHold(container: self, value: "\(channelCount) channels (8 at most)") }
    }

    // MARK: The one factory

    /// The sink that writes this container onto `output`: `WAVSink` and `RawSink` as the
    /// command line always made them, `SndfileSink` for the others.
    /// - Throws: `StreamError.containerUnavailable` when this libsndfile cannot write it,
    ///   `.notToAPipe` for AIFF, W64 and CAF on a pipe, `.cannotHold` / `.opusRate` for a
    ///   format, rate or channel count it cannot hold, `.encoderFailed` when libsndfile refuses.
    public func makeSink(output: OutputFile, sampleRate: Int, channelCount: Int, format: SampleFormat,
                         expectedFrames: Int?, cancellation: Cancellation? = nil) throws -> AudioSink {
        switch self {
        case .wav:
            let sink = try WAVSink(output: output, sampleRate: sampleRate, channelCount: channelCount, format: format,
                                   expectedFrames: expectedFrames)
            sink.cancellation = cancellation
            return sink
        case .raw:
            return RawSink(output: output, channelCount: channelCount, format: format)
        case .flac, .aiff, .w64, .caf, .ogg, .opus:
            return try SndfileSink(container: self, output: output, sampleRate: sampleRate, channelCount: channelCount,
                                   format: format)
        }
    }
}
