import CSndfile
import Foundation

/// libsndfile virtual I/O over a non-seekable descriptor (a pipe) or over bytes in memory.
///
/// libsndfile parses headers with small seeks. Over a pipe we keep the first `recordLimit`
/// bytes read, so seeks inside that prefix work; forward seeks past it read and discard;
/// anything else fails cleanly. Knowing how many bytes ever arrived also lets us tell an
/// empty input from one in an unknown format.
final class VirtualInput {
    private let fd: Int32
    private var recorded: [UInt8]
    private let recordLimit: Int
    /// Bytes taken from the descriptor so far (or the size of the in-memory data).
    private(set) var bytesArrived: Int64
    /// The logical read position.
    private var position: Int64 = 0
    /// Reads that found the input already at its end and returned nothing. A decoder that asks
    /// again after one of those and still returns audio is making it up (libsndfile's GSM and
    /// ADPCM decoders fill blocks past the end of a pipe whose header overstates its data).
    private(set) var readsAtEnd = 0
    /// True once every byte of the input has arrived (the descriptor said end of file).
    private(set) var descriptorEnded = false
    let inMemory: Bool

    /// Ends the input where reading got to when requested (nil: never).
    let cancellation: Cancellation?

    init(fd: Int32, recordLimit: Int = 1 << 20, cancellation: Cancellation? = nil) {
        self.fd = fd
        self.cancellation = cancellation
        self.recorded = []
        self.recordLimit = recordLimit
        self.bytesArrived = 0
        self.inMemory = false
    }

    /// Serves `data` as if it were a pipe's content (for tests and fuzzing).
    init(data: [UInt8]) {
        self.fd = -1
        self.cancellation = nil
        self.recorded = data
        self.recordLimit = data.count
        self.bytesArrived = Int64(data.count)
        self.inMemory = true
        self.descriptorEnded = true
    }

    /// Reads up to `count` bytes at the logical position.
    func read(into target: UnsafeMutableRawPointer, count: Int) -> Int {
        var done = 0
        // From the recorded prefix first.
        if position < Int64(recorded.count) {
            let available = min(count, recorded.count - Int(position))
            recorded.withUnsafeBytes { target.copyMemory(from: $0.baseAddress! + Int(position), byteCount: available) }
            done = available
            position += Int64(available)
        }
        while done < count, !inMemory, position == bytesArrived, cancellation?.isRequested != true {
            let got = Foundation.read(fd, target + done, count - done)
            if got < 0 {
                // Interrupted by a stop request (SIGINT/SIGTERM): the input ends here.
                if errno == EINTR, cancellation?.isRequested != true { continue }
                break
            }
            if got == 0 { descriptorEnded = true; break }
            if recorded.count == Int(bytesArrived), recorded.count + got <= recordLimit {
                recorded.append(contentsOf: UnsafeRawBufferPointer(start: target + done, count: got))
            }
            bytesArrived += Int64(got)
            position += Int64(got)
            done += got
        }
        if done == 0, count > 0 { readsAtEnd += 1 }
        return done
    }

    func seek(to offset: Int64, whence: Int32) -> Int64 {
        let target: Int64
        switch whence {
        case SEEK_SET: target = offset
        case SEEK_CUR: target = position + offset
        default: return -1  // SEEK_END: the end of a pipe is not known
        }
        if target < 0 { return -1 }
        // Back into the prefix only while it still holds every byte read, so that reading on
        // from there never meets a gap between the prefix and the descriptor's position.
        let prefixComplete = Int64(recorded.count) == bytesArrived
        if (prefixComplete && target <= bytesArrived) || target == bytesArrived {
            position = target
            return position
        }
        // A short skip ahead inside the prefix (header padding, a small chunk): read it, keep it.
        // Not a skip over a PCM or float WAV's audio (libsndfile looks past the data for trailing
        // chunks): that would wait for the whole stream before the first frame is read, which a
        // live input delivers only as it is recorded. (A small compressed WAV is still read whole
        // here: libsndfile's GSM and ADPCM decoders invent audio past the end of a pipe, and
        // knowing where it ended catches them within a block.)
        let wav = WAVFormatChunk(prefix: recorded)
        let skipsAudio = wav.map { [1, 3, 0xFFFE].contains($0.formatTag) && $0.dataStart.map { target > Int64($0) } == true } ?? false
        if prefixComplete, !inMemory, !skipsAudio, target > bytesArrived, target <= Int64(recordLimit) {
            position = bytesArrived
            var scratch = [UInt8](repeating: 0, count: Int(target - position))
            let got = scratch.withUnsafeMutableBytes { read(into: $0.baseAddress!, count: $0.count) }
            return got == scratch.count ? position : -1
        }
        // Behind us and forgotten, or far ahead (a header's "skip the data to find trailing
        // chunks"): a pipe cannot go there, and libsndfile then reads it as the pipe it is.
        return -1
    }

    /// The position, as libsndfile asks for it. Its header parsers stop at the end of the file,
    /// which a pipe's does not have: a W64 chunk shorter than its own header makes libsndfile's
    /// parser jump back and re-read the same cached bytes for ever. Once the input has ended, a
    /// parser that keeps asking where it is without moving is told it is at the end.
    func tell() -> Int64 {
        if position == lastTold { tellsInPlace += 1 } else { lastTold = position; tellsInPlace = 0 }
        if readsAtEnd > 0, tellsInPlace > Self.tellsBeforeEnd { return length }
        return position
    }

    private var lastTold: Int64 = -1
    private var tellsInPlace = 0
    /// Far more than any real header asks at one position (a handful), far fewer than a loop makes.
    static let tellsBeforeEnd = 10_000

    /// The first bytes that arrived (up to `recordLimit`), for a diagnosis after a failed open.
    var prefix: [UInt8] { recorded }

    /// A length no real stream exceeds: libsndfile's own value for pipes.
    var length: Int64 { inMemory ? bytesArrived : Int64.max / 2 }

    /// The callback table libsndfile calls, with `self` as user data.
    static let callbacks: SF_VIRTUAL_IO = SF_VIRTUAL_IO(
        get_filelen: { user in context(user).length },
        seek: { offset, whence, user in context(user).seek(to: offset, whence: whence) },
        read: { pointer, count, user in
            guard let pointer, count > 0 else { return 0 }
            return sf_count_t(context(user).read(into: pointer, count: Int(count)))
        },
        write: { _, _, _ in -1 },
        tell: { user in context(user).tell() })

    private static func context(_ user: UnsafeMutableRawPointer?) -> VirtualInput {
        Unmanaged<VirtualInput>.fromOpaque(user!).takeUnretainedValue()
    }
}
