import CSndfile
import Foundation

/// What a source says about the audio it delivers.
public struct InputDescription: Sendable, Equatable {
    public var sampleRate: Int
    public var channelCount: Int
    /// The stored sample format, used as the default for the output.
    public var sampleFormat: SampleFormat
    /// Total frames when the input is a regular file with a trustworthy header; `nil` on pipes.
    public var knownFrames: Int?
}

/// A decoder: delivers planar float frames in [-1, 1) from an input, block by block.
public protocol AudioSource: AnyObject {
    var description: InputDescription { get }
    /// Reads up to `maxFrames` frames; an empty result means the input has ended.
    func read(maxFrames: Int) throws -> [[Float]]
    /// Bytes at the end of a raw stream that did not make a whole frame (dropped).
    var droppedTrailingBytes: Int { get }
}

/// Where input comes from: a file descriptor (stdin), a path, or a path opened already.
public enum InputLocation: Sendable, Equatable {
    case fileDescriptor(Int32)
    /// Opened once (`InputFile`) and read from that descriptor.
    case path(String)
    /// A path the caller opened (to know its identity first); the source keeps it open.
    case opened(InputFile)
}

/// Decodes any container libsndfile reads, from a pipe or a file (sf_open_fd / sf_open).
/// The header decides the format; pipes work for the formats libsndfile streams
/// (WAV, AIFF, AU, W64, …; FLAC needs a seekable file).
public final class SndfileSource: AudioSource {
    public let description: InputDescription
    public let droppedTrailingBytes = 0
    private let handle: OpaquePointer
    private var interleaved: [Float] = []
    /// Kept alive for libsndfile's callbacks while the handle is open.
    private let virtualInput: VirtualInput?
    /// The named input this source reads, kept open while it does.
    private let file: InputFile?
    /// `virtualInput.readsAtEnd` once the header was parsed.
    private let readsAtEndWhenOpened: Int
    /// Set when the decoder was caught inventing audio past the end of the input: nothing more is read.
    private var ranPastEnd = false
    /// MPEG audio, decoded by libmpg123, which prints its own notes (see `QuietStderr`).
    private let isMPEG: Bool
    /// The length a FLAC stream's STREAMINFO states (0: not stated). A FLAC stream that ends
    /// before it is truncated, whether it comes from a file or a pipe: libsndfile says "lost
    /// sync" for a file, and nothing for a pipe, whose end it takes for the stream's.
    private let flacStatedFrames: Int
    /// The frames a WAV header states (nil when it states none, or a streaming writer's
    /// placeholder): more than arrive means the input was cut short, which the caller can say.
    public let headerStatedFrames: Int?
    private var framesDelivered = 0
    /// The input's AU header, when it is one: a pipe that ends before its audio starts is named.
    private let auHeader: AUHeader?

    /// - Parameter cancellation: ends a pipe's input where reading got to when requested.
    public convenience init(_ location: InputLocation, cancellation: Cancellation? = nil) throws {
        var info = SF_INFO()
        var status = stat()
        switch location {
        case .fileDescriptor(let fd):
            let described = fstat(fd, &status) == 0
            if described, (status.st_mode & S_IFMT) == S_IFDIR { throw StreamError.inputIsFolder(descriptor: fd) }
            guard described, (status.st_mode & S_IFMT) == S_IFREG else {
                // A pipe: libsndfile reads it through our virtual I/O.
                try self.init(virtual: VirtualInput(fd: fd, cancellation: cancellation))
                return
            }
            if status.st_size == 0 { throw StreamError.emptyInput }
            // Read before opening: libsndfile 1.2.0 closes the descriptor when it fails.
            let start = max(0, lseek(fd, 0, SEEK_CUR))
            let head = Self.firstBytes(fd, at: start)
            guard let handle = QuietStderr.run({ sf_open_fd(fd, Int32(SFM_READ), &info, 0) }) else {
                throw Self.diagnose(head, otherwise: .unreadableHeader(reason: Self.openFailure(head)))
            }
            try self.init(handle: handle, info: info, isRegularFile: true, input: nil, prefix: head,
                          fileBytes: max(0, Int(status.st_size) - Int(start)))
        case .path(let path):
            try self.init(.opened(InputFile(path: path)), cancellation: cancellation)
        case .opened(let file):
            let path = file.path
            guard fstat(file.fd, &status) == 0 else { throw StreamError.cannotOpen(path: path, cause: .errno(errno)) }
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                throw StreamError.cannotOpen(path: path, cause: .errno(EISDIR))
            case S_IFREG:
                break
            default:
                // A FIFO, a character device: read as a pipe, from the one descriptor.
                try self.init(virtual: VirtualInput(fd: file.fd, cancellation: cancellation), keeping: file)
                return
            }
            if status.st_size == 0 { throw StreamError.emptyInput }
            let head = Self.firstBytes(file.fd, at: 0)
            // libsndfile closes the descriptor it is given (on failure too): give it a copy at
            // the start of the file, so `file` stays the one open of the name.
            let copy = dup(file.fd)
            guard copy >= 0 else { throw StreamError.cannotOpen(path: path, cause: .errno(errno)) }
            _ = fcntl(copy, F_SETFD, FD_CLOEXEC)
            lseek(copy, 0, SEEK_SET)
            guard let handle = QuietStderr.run({ sf_open_fd(copy, Int32(SFM_READ), &info, 1) }) else {
                throw Self.diagnose(head, otherwise: .notAudio(path: path, reason: Self.openFailure(head)))
            }
            try self.init(handle: handle, info: info, isRegularFile: true, input: nil, prefix: head, file: file,
                          fileBytes: Int(status.st_size))
        }
    }

    /// Decodes a whole file held in memory, through the same virtual I/O a pipe uses.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(virtual: VirtualInput(data: bytes))
    }

    /// Decodes through `input` (internal, so the fuzz targets can give a pipe a small prefix).
    convenience init(virtual input: VirtualInput, keeping file: InputFile? = nil) throws {
        var info = SF_INFO()
        var callbacks = VirtualInput.callbacks
        let user = Unmanaged.passUnretained(input).toOpaque()
        guard let handle = QuietStderr.run({ sf_open_virtual(&callbacks, Int32(SFM_READ), &info, user) }) else {
            if input.bytesArrived == 0 { throw StreamError.emptyInput }
            throw Self.diagnose(input.prefix, otherwise: .unreadableHeader(reason: String(cString: sf_strerror(nil))))
        }
        try self.init(handle: handle, info: info, isRegularFile: false, input: input, prefix: input.prefix, file: file)
    }

    /// The error for a header libsndfile refused: one naming the value at fault when the bytes
    /// are a WAV header whose fmt chunk says something impossible, else `failure`.
    static func diagnose(_ prefix: [UInt8], otherwise failure: StreamError) -> StreamError {
        WAVFormatChunk(prefix: prefix)?.error ?? failure
    }

    /// libsndfile's reason for refusing a regular file's header, with its false one replaced:
    /// when its MPEG probe gives up it says "File does not exist or is not a regular file
    /// (possibly a pipe?)" of a file that exists and is one.
    static func openFailure(_ prefix: [UInt8]) -> String {
        let reason = String(cString: sf_strerror(nil))
        guard reason.contains("not a regular file") else { return reason }
        return looksLikeMPEG(prefix) ? mpegFailure : "Format not recognised."
    }

    /// The reason given for bytes that begin like MPEG audio (an ID3 tag or a frame sync) and do not decode.
    static let mpegFailure = "its first bytes look like MPEG audio (an ID3 tag or a frame header), but no frame decodes"

    static func looksLikeMPEG(_ prefix: [UInt8]) -> Bool {
        prefix.starts(with: Array("ID3".utf8)) || (prefix.count >= 2 && prefix[0] == 0xFF && prefix[1] & 0xE0 == 0xE0)
    }

    /// Up to 64 KB from `offset` of a regular file, without moving its position (pread).
    static func firstBytes(_ fd: Int32, at offset: off_t) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 65_536)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
        return Array(bytes.prefix(max(0, got)))
    }

    /// Frames read at a time once a pipe has ended, so that a decoder inventing audio past the
    /// end is caught within one of its blocks (a GSM block is 320 frames).
    static let tailStepFrames = 64

    /// Takes ownership of an open handle; validates what the header says (closing it on failure).
    private init(handle: OpaquePointer, info: SF_INFO, isRegularFile: Bool, input: VirtualInput?, prefix: [UInt8],
                 file: InputFile? = nil, fileBytes: Int? = nil) throws {
        guard info.samplerate > 0 else {
            sf_close(handle)
            throw StreamError.invalidRate(hz: Int(info.samplerate))
        }
        guard info.channels > 0 else {
            sf_close(handle)
            throw StreamError.invalidChannels(count: Int(info.channels))
        }
        // A W64 stream written to a pipe by a writer that could not seek (sox's: a RIFF size of 0,
        // a data chunk shorter than its own header, the header again before the audio and once
        // more after it) is read by libsndfile with header bytes as audio: refuse it. A whole W64
        // file sent down a pipe states its sizes and reads exactly.
        if let input, !input.inMemory, info.format & Int32(SF_FORMAT_TYPEMASK) == Int32(SF_FORMAT_W64),
           prefix.count >= 24, prefix[16..<24].allSatisfy({ $0 == 0 }) {
            sf_close(handle)
            throw StreamError.notFromAPipe(format: "W64")
        }
        // An AU header whose sizes libsndfile reads no audio from (it opens as 0 frames, quietly).
        // On a pipe, libsndfile has read on to where the header says the audio starts: if the
        // input ended first, its length is known now.
        let au = AUHeader(prefix: prefix)
        let ended = input.flatMap { $0.descriptorEnded || $0.inMemory ? Int($0.bytesArrived) : nil }
        if let au, let error = au.error(inputBytes: fileBytes ?? ended) {
            sf_close(handle)
            throw error
        }
        let wav = WAVFormatChunk(prefix: prefix)
        if let error = wav?.blockAlignError {
            sf_close(handle)
            throw error
        }
        // libsndfile's frame count is trustworthy when it could see the whole file; on a pipe,
        // when a WAV header states a real length (not a streaming writer's placeholder) and
        // libsndfile read the same from it.
        // A FLAC stream written to a pipe states no length (STREAMINFO's 0): libsndfile then says
        // SF_COUNT_MAX frames, which is no length either.
        let statesFrames = info.frames >= 0 && info.frames < sf_count_t(Int64.max / 4)
        var known = isRegularFile && info.seekable != 0 && statesFrames ? Int(info.frames) : nil
        if known == nil, let stated = wav?.statedFrames, stated == Int(info.frames) { known = stated }
        self.handle = handle
        self.auHeader = au
        self.virtualInput = input
        self.file = file
        self.readsAtEndWhenOpened = input?.readsAtEnd ?? 0
        self.isMPEG = info.format & Int32(SF_FORMAT_TYPEMASK) == Int32(SF_FORMAT_MPEG)
        let isFLAC = info.format & Int32(SF_FORMAT_TYPEMASK) == Int32(SF_FORMAT_FLAC)
        self.flacStatedFrames = isFLAC && info.frames > 0 && info.frames < sf_count_t(Int64.max / 4) ? Int(info.frames) : 0
        // Frames are data bytes over the block align only for PCM and float (a GSM block is 320 frames).
        self.headerStatedFrames = [1, 3, 0xFFFE].contains(wav?.formatTag ?? 0) ? wav?.statedFrames : nil
        self.description = InputDescription(
            sampleRate: Int(info.samplerate), channelCount: Int(info.channels),
            sampleFormat: Self.storedFormat(info.format), knownFrames: known)
    }

    deinit { sf_close(handle) }

    public func read(maxFrames: Int) throws -> [[Float]] {
        let channels = description.channelCount
        if interleaved.count < maxFrames * channels { interleaved = [Float](repeating: 0, count: maxFrames * channels) }
        if ranPastEnd { return [] }
        var got = 0
        var failed = false
        interleaved.withUnsafeMutableBufferPointer { buffer in
            while got < maxFrames {
                // Once a pipe has delivered its last byte, read in small steps, so that a decoder
                // running past the end (below) is stopped within a few frames of it.
                let ended = virtualInput?.descriptorEnded ?? false
                let step = ended ? min(Self.tailStepFrames, maxFrames - got) : maxFrames - got
                let endsBefore = virtualInput?.readsAtEnd ?? 0
                let target = buffer.baseAddress! + got * channels
                let count = isMPEG ? QuietStderr.run { Int(sf_readf_float(handle, target, sf_count_t(step))) }
                                   : Int(sf_readf_float(handle, target, sf_count_t(step)))
                // The input had already ended while reading audio and the decoder went back to it
                // for more: what it returns now is invented (a header claiming more data than a
                // pipe delivered), so the audio ends here. (Ends met while the header was parsed
                // do not count: libsndfile then seeks back into the prefix for the audio.)
                if let input = virtualInput, endsBefore > readsAtEndWhenOpened, input.readsAtEnd > endsBefore {
                    ranPastEnd = true
                    break
                }
                if count <= 0 {
                    failed = sf_error(handle) != 0
                    break
                }
                got += count
                if !ended { break }
            }
        }
        if got == 0 {
            if flacStatedFrames > 0, framesDelivered < flacStatedFrames {
                throw StreamError.truncated(format: "FLAC", framesRead: framesDelivered, framesStated: flacStatedFrames,
                                            sampleRate: description.sampleRate)
            }
            // Bytes libsndfile took for MPEG that libmpg123 cannot decode fail on the first read
            // ("Unspecified internal error"): name them as the header they are.
            if failed, isMPEG, framesDelivered == 0 { throw StreamError.unreadableHeader(reason: Self.mpegFailure) }
            if failed { throw StreamError.readFailed(.message(String(cString: sf_strerror(handle)))) }
            // An AU stream that ended before the offset its header gives for the audio.
            if framesDelivered == 0, let auHeader, let input = virtualInput, input.descriptorEnded || input.inMemory,
               let error = auHeader.error(inputBytes: Int(input.bytesArrived)) {
                throw error
            }
            return []
        }
        framesDelivered += got
        let frames = got
        var planar = [[Float]](repeating: [Float](repeating: 0, count: frames), count: channels)
        interleaved.withUnsafeBufferPointer { source in
            for channel in 0..<channels {
                planar[channel].withUnsafeMutableBufferPointer { out in
                    for frame in 0..<frames { out[frame] = source[frame * channels + channel] }
                }
            }
        }
        return planar
    }

    /// The sample format a libsndfile subtype stores, for the output's default;
    /// compressed subtypes (µ-law, ADPCM, FLAC's own…) default to 16-bit.
    static func storedFormat(_ format: Int32) -> SampleFormat {
        let subtype = format & Int32(SF_FORMAT_SUBMASK)
        let endian: SampleFormat.Endian = .little
        func make(_ encoding: SampleFormat.Encoding, _ bits: Int) -> SampleFormat {
            (try? SampleFormat(encoding: encoding, bits: bits, endian: endian))!
        }
        switch subtype {
        case Int32(SF_FORMAT_PCM_S8): return make(.signedInteger, 8)
        case Int32(SF_FORMAT_PCM_U8): return make(.unsignedInteger, 8)
        case Int32(SF_FORMAT_PCM_24): return make(.signedInteger, 24)
        case Int32(SF_FORMAT_PCM_32): return make(.signedInteger, 32)
        case Int32(SF_FORMAT_FLOAT): return make(.floatingPoint, 32)
        case Int32(SF_FORMAT_DOUBLE): return make(.floatingPoint, 64)
        default: return make(.signedInteger, 16)
        }
    }
}

/// Headerless PCM described by sox's flags (-r, -c, -b, -e, --endian), read with read(2).
/// A trailing partial frame is dropped and counted in `droppedTrailingBytes`.
public final class RawPCMSource: AudioSource {
    public let description: InputDescription
    public private(set) var droppedTrailingBytes = 0
    private let codec: SampleCodec
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// The named input this source reads, kept open while it does.
    private var file: InputFile?
    private var carry: [UInt8] = []
    private var ended = false
    private var bytesRead = 0
    private let cancellation: Cancellation?

    /// - Parameter cancellation: ends the input where reading got to when requested.
    public init(_ location: InputLocation, sampleRate: Int, channelCount: Int, format: SampleFormat,
                cancellation: Cancellation? = nil) throws {
        self.cancellation = cancellation
        guard sampleRate > 0 else { throw StreamError.invalidRate(hz: sampleRate) }
        guard channelCount > 0, channelCount <= 1024 else { throw StreamError.invalidChannels(count: channelCount) }
        switch location {
        case .fileDescriptor(let descriptor):
            fd = descriptor
            ownsDescriptor = false
        case .path(let path):
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw StreamError.cannotOpen(path: path, cause: .errno(errno)) }
            fd = descriptor
            ownsDescriptor = true
        case .opened(let opened):
            file = opened
            fd = opened.fd
            ownsDescriptor = false
        }
        codec = SampleCodec(format: format, channelCount: channelCount)
        var status = stat()
        var known: Int? = nil
        if case .fileDescriptor(let descriptor) = location, fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
            throw StreamError.inputIsFolder(descriptor: descriptor)
        }
        if fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG {
            let remaining = Int(status.st_size) - Int(lseek(fd, 0, SEEK_CUR))
            known = max(0, remaining) / codec.bytesPerFrame
        }
        description = InputDescription(sampleRate: sampleRate, channelCount: channelCount, sampleFormat: format,
                                       knownFrames: known)
    }

    deinit { if ownsDescriptor { close(fd) } }

    public func read(maxFrames: Int) throws -> [[Float]] {
        let frameBytes = codec.bytesPerFrame
        let wanted = maxFrames * frameBytes
        if ended { return [] }
        var bytes = carry
        carry = []
        // Read until at least one whole frame is in hand or the input ends.
        repeat {
            if cancellation?.isRequested == true {
                ended = true  // a stop request (SIGINT/SIGTERM): the input ends here
                if bytesRead == 0 { throw StreamError.emptyInput }
                break
            }
            var chunk = [UInt8](repeating: 0, count: wanted - bytes.count)
            let got = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw StreamError.readFailed(.errno(errno))
            }
            if got == 0 {
                ended = true
                if bytesRead == 0 { throw StreamError.emptyInput }
                break
            }
            bytesRead += got
            bytes.append(contentsOf: chunk[0..<got])
        } while !ended && bytes.count < frameBytes
        let frames = bytes.count / frameBytes
        let used = frames * frameBytes
        if used < bytes.count {
            if ended { droppedTrailingBytes += bytes.count - used } else { carry = Array(bytes[used...]) }
        }
        if frames == 0 { return [] }
        return bytes.withUnsafeBytes { codec.decode($0, frames: frames) }
    }
}
