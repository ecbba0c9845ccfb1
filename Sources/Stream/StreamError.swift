import CSndfile
import Foundation
import Files

/// Errors of the Stream module. Each names the problem and carries the offending value.
public enum StreamError: Error, Equatable, CustomStringConvertible {
    case emptyInput
    case unreadableHeader(reason: String)
    case cannotOpen(path: String, cause: FailureCause)
    /// A named regular file whose bytes libsndfile reads as no audio format (`reason`: its word,
    /// or ours where its own is false, as "does not exist or is not a regular file" for a file that is one).
    case notAudio(path: String, reason: String)
    /// The descriptor read as the input (stdin: `< DIR`) is a folder.
    case inputIsFolder(descriptor: Int32)
    case rawFormatIncomplete(missing: [String])
    case unsupportedSampleFormat(encoding: String, bits: Int)
    case unsupportedInWAV(encoding: String, bits: Int)
    case invalidRate(hz: Int)
    case invalidChannels(count: Int)
    case readFailed(FailureCause)
    /// The input ended before the length its header states (a cut-off download or copy).
    case truncated(format: String, framesRead: Int, framesStated: Int, sampleRate: Int)
    case writeFailed(FailureCause)
    /// The finished output could not be renamed onto its name.
    case cannotRename(path: String, errno: Int32)
    /// The downstream reader closed the pipe; not a failure of ours.
    case outputClosed
    case resamplerFailed(reason: String)
    case invalidValue(name: String, value: String)
    /// A value that is not one of a fixed set; `valid` lists them.
    case invalidChoice(name: String, value: String, valid: [String])
    /// A rate (the input's or `--out-rate`) that libsamplerate cannot reach from the engine's rate.
    case rateOutOfReach(what: String, hz: Int, engineHz: Int)
    /// The overlap must be at most half the window (seconds, as the user gave them).
    case overlapTooLong(overlapSeconds: Double, chunkSeconds: Double)
    /// `--latency` below what this engine honours: its shortest window and hop, with the reads and
    /// resamplers, take `smallestSeconds`.
    case latencyTooShort(seconds: Double, engine: String, smallestSeconds: Double, chunkSeconds: Double, hopSeconds: Double)
    /// A WAV header whose block align is not channels × the bytes of one sample.
    case blockAlignMismatch(blockAlign: Int, channels: Int, bitsPerSample: Int)
    /// An AU header whose data offset and size libsndfile reads no audio from: audio starting past
    /// the end of the input, or an offset + size past 2³¹ − 1 (`inputBytes`: the input's length when known).
    case auSizes(dataOffset: Int, dataBytes: Int?, inputBytes: Int?)
    /// A WAV file whose header has no room for RF64 (its length was known to fit) outgrew RIFF's
    /// 32-bit sizes; refused before the header could lie.
    case wavTooLarge(dataBytes: Int64, limitBytes: Int64)
    /// A WAV header field that cannot hold the value (a rate or length past 32 bits).
    case headerFieldOverflow(field: String, value: Int)
    /// The output named is a folder.
    case outputIsDirectory(path: String)
    /// The output named is the input file itself (by device and inode: also through links).
    case outputIsInput(path: String)
    /// The output's folder does not exist.
    case outputFolderMissing(path: String, folder: String)
    /// An output named for a container this tool does not write (`-o out.flac`).
    case unwrittenContainer(path: String, container: OutputContainer)
    /// A sample format, or a channel count, an output container cannot hold (`value` names it).
    case cannotHold(container: OutputContainer, value: String)
    /// Opus encodes at 8, 12, 16, 24 and 48 kHz only.
    case opusRate(hz: Int)
    /// A container the installed libsndfile cannot write.
    case containerUnavailable(container: OutputContainer)
    /// A container whose header can only be completed by seeking back, asked for on a pipe.
    case notToAPipe(container: OutputContainer)
    /// libsndfile refused to open or run the encoder (`reason`: its words).
    case encoderFailed(container: OutputContainer, reason: String)
    /// A container libsndfile cannot read exactly from a pipe.
    case notFromAPipe(format: String)
    /// A window of more frames than one run holds (`ChunkPlan.longestWindowFrames`) at the
    /// engine's rate: refused before any frame count is computed in integers.
    case windowTooLong(seconds: Double, engineHz: Int)
    /// The windows a run holds at once would not fit in the memory this process can have
    /// (`RunMemory`); says the channel count and window length that would.
    case runTooLarge(channels: Int, chunkSeconds: Double, neededBytes: Int, usableBytes: Int, addressSpaceLimit: Bool,
                     fittingChannels: Int, fittingChunkSeconds: Double)

    public var description: String {
        switch self {
        case .emptyInput:
            return "input is empty: no header and no samples arrived"
        case .unreadableHeader(let reason):
            return "cannot read the input's header (\(reason)); for headerless PCM give -t raw -r HZ -c N -b BITS -e ENCODING"
        case .cannotOpen(let path, let cause):
            return "cannot open '\(path)': \(cause)"
        case .notAudio(let path, let reason):
            let reason = reason.hasSuffix(".") ? String(reason.dropLast()) : reason
            return "cannot open '\(path)' as audio: \(reason); for headerless PCM give -t raw -r HZ -c N -b BITS -e ENCODING"
        case .inputIsFolder(let descriptor):
            return (descriptor == 0 ? "standard input" : "the input (descriptor \(descriptor))")
                + " is a folder, not audio; give a file: < in.wav, or -i in.wav"
        case .rawFormatIncomplete(let missing):
            return "raw input needs \(missing.joined(separator: ", ")) (as with sox: -t raw -r 48000 -c 2 -b 16 -e signed-integer)"
        case .unsupportedSampleFormat(let encoding, let bits):
            return "unsupported sample format: \(bits)-bit \(encoding) (integers: 8, 16, 24, 32 bits; floating-point: 32, 64 bits)"
        case .unsupportedInWAV(let encoding, let bits):
            return "WAV cannot hold \(bits)-bit \(encoding) samples (8-bit is unsigned, wider integers are signed)"
        case .invalidRate(let hz):
            return "invalid sample rate \(hz) hz"
        case .invalidChannels(let count):
            return "invalid channel count \(count) (1 to 1024)"
        case .readFailed(let cause):
            return "reading input failed: \(cause)"
        case .truncated(let format, let read, let stated, let rate):
            return String(format: "reading input failed: the %@ stream is truncated: it ended after %.2f s of the %.2f s its header states",
                          format, Double(read) / Double(rate), Double(stated) / Double(rate))
        case .writeFailed(let cause):
            return "writing output failed: \(cause)"
        case .cannotRename(let path, let code):
            return "writing output failed: cannot rename the finished output onto '\(path)': \(FailureCause.errno(code))"
        case .outputClosed:
            return "the output pipe was closed by its reader"
        case .resamplerFailed(let reason):
            return "resampler failed: \(reason)"
        case .invalidValue(let name, let value):
            return "invalid \(name) '\(value)'"
        case .invalidChoice(let name, let value, let valid):
            return "invalid \(name) '\(value)' (valid: \(valid.joined(separator: ", ")))"
        case .rateOutOfReach(let what, let hz, let engineHz):
            let low = (engineHz + 255) / 256, high = engineHz * 256
            return "\(what) \(hz) hz is out of reach of the engine's \(engineHz) hz: libsamplerate converts between rates "
                + "at most 256 times apart (\(low) to \(high) hz)"
        case .overlapTooLong(let overlap, let chunk):
            return "overlap \(Self.seconds(overlap)) s is more than half the \(Self.seconds(chunk)) s window; "
                + "give --overlap \(Self.seconds(chunk / 2)) or less"
        case .latencyTooShort(let seconds, let engine, let smallest, let chunk, let hop):
            return String(format: "latency %@ s is below the smallest the %@ engine can honour, %.2f s (%@ s windows every %@ s, "
                          + "with the reads and resampling): give --latency %.2f or more",
                          Self.seconds(seconds), engine, smallest, Self.seconds(chunk), Self.seconds(hop), (smallest * 100 - 1e-6).rounded(.up) / 100)
        case .blockAlignMismatch(let blockAlign, let channels, let bits):
            let bytes = (bits + 7) / 8
            return "invalid WAV header: block align \(blockAlign) does not match \(channels) channel\(channels == 1 ? "" : "s") "
                + "× \(bytes) byte\(bytes == 1 ? "" : "s") (\(bits) bits per sample)"
        case .auSizes(let offset, let size, let input):
            if let input, offset > input {
                return "invalid AU header: its audio starts at byte \(offset), past the end of the \(input)-byte input"
            }
            let stated = "invalid AU header: it states \(size.map { "\($0) bytes of audio" } ?? "audio") from byte \(offset)"
            let held = input.map { ", but the input holds \(max(0, $0 - offset)) bytes after it" } ?? ""
            return stated + held + "; libsndfile reads no audio when offset + size pass \(AUHeader.largestEnd) bytes "
                + "(set the size, bytes 8-11, to ffffffff, 'unknown', to read what is there)"
        case .wavTooLarge(let data, let limit):
            return "writing output failed: \(data) bytes of audio pass the \(limit) bytes a WAV header can state, and this "
                + "file's header has no room for RF64; write --out-type raw, or pipe the output on (| sox -t wav - out.w64)"
        case .headerFieldOverflow(let field, let value):
            return "a WAV header cannot hold \(field) \(value): it is past 32 bits"
        case .outputIsDirectory(let path):
            return "output '\(path)' is a folder; name a file in it"
        case .outputIsInput(let path):
            return "output '\(path)' is the input file: writing it would destroy the input; name another file"
        case .outputFolderMissing(let path, let folder):
            return "cannot write '\(path)': folder '\(folder)' does not exist"
        case .notFromAPipe(let format):
            return "\(format) cannot be read exactly from a pipe (libsndfile misreads its header there); "
                + "give the file with -i FILE, or pipe WAV instead (sox … -t wav -)"
        case .unwrittenContainer(let path, let container):
            let ext = (path as NSString).pathExtension
            if let named = OutputContainer(extension: ext), named.isAvailable {
                return container == .raw
                    ? "cannot write raw PCM under '\(path)': a .\(ext) name promises a header (\(named.displayName)); "
                        + "name it .raw (or .pcm), or give --out-type \(named.rawValue)"
                    : "cannot write \(container.displayName) under '\(path)': a .\(ext) name promises \(named.displayName); "
                        + "give --out-type \(named.rawValue), or name it .\(container.rawValue)"
            }
            let written = OutputContainer.available.filter { $0 != .raw }.map(\.rawValue).joined(separator: ", ")
            return "cannot write '\(path)': this tool writes \(written) (or raw PCM), not .\(ext); write one of those and "
                + "convert on the way: audiosep-stream … | ffmpeg -i - '\(path)'"
        case .cannotHold(let container, let value):
            return "\(container.displayName) cannot hold \(value) (it holds \(container.holds))"
        case .opusRate(let hz):
            return "Opus cannot be written at \(hz) hz (it encodes at 8, 12, 16, 24 and 48 khz only); give --out-rate 48k"
        case .containerUnavailable(let container):
            let written = OutputContainer.available.map(\.rawValue).joined(separator: ", ")
            return "this build's libsndfile (\(String(cString: sf_version_string()))) cannot write \(container.displayName); "
                + "it writes \(written)"
        case .notToAPipe(let container):
            return "\(container.displayName) cannot be written to a pipe: its header needs the length, which only a file "
                + "can be patched with; give -o FILE, or use wav or flac on a pipe"
        case .encoderFailed(let container, let reason):
            return "writing \(container.displayName) failed: libsndfile says: \(reason)"
        case .windowTooLong(let seconds, let hz):
            let longest = Double(ChunkPlan.longestWindowFrames) / Double(hz)
            return String(format: "a %g s window is more than %d frames at the engine's %d hz; give --chunk %@ or less",
                          seconds, ChunkPlan.longestWindowFrames, hz, Self.seconds(min(longest, RunLimits.chunkSeconds.highest)))
        case .runTooLarge(let channels, let chunk, let needed, let usable, let addressSpace, let fitting, let fittingChunk):
            let limit = addressSpace ? "its address-space limit, ulimit -v" : "the machine's memory"
            var text = String(format: "%d channel%@ of %@ s windows need about %.1f GB at once and this process can have %.1f GB (%@): ",
                              channels, channels == 1 ? "" : "s", Self.seconds(chunk), Double(needed) / 1e9, Double(usable) / 1e9, limit)
            if fitting >= 1 { text += "at most \(fitting) channel\(fitting == 1 ? "" : "s") fit with these windows; " }
            text += fittingChunk > 0 ? "give --chunk \(Self.seconds(fittingChunk)) or less" : "give a shorter --chunk"
            return text + (channels > 1 ? ", or --downmix" : "")
        }
    }

    /// Seconds as a person writes them: 0.5, 10, 2.125.
    static func seconds(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
