import Files
import Foundation

/// What the downloader reports as it goes; the executable turns these into lines on stderr.
public enum DownloadEvent: Sendable {
    /// The file is already there and checks out (`verified`: against a published SHA-256).
    case present(ManifestEntry, bytes: Int64, verified: Bool)
    /// A file under the final name that does not check out: downloaded again, replaced only when whole.
    case replacing(ManifestEntry, reason: String)
    /// A transfer starts, at `offset` when a `.part` file is resumed.
    case started(ManifestEntry, url: String, offset: Int64, total: Int64?)
    /// The server ignored the Range request and sends the whole file: the `.part` file starts over.
    case restarted(ManifestEntry, url: String)
    /// Bytes in the `.part` file so far; `sessionBytes` of them came in `seconds` of this transfer.
    case progress(ManifestEntry, done: Int64, total: Int64?, sessionBytes: Int64, seconds: Double)
    /// The file is complete under its final name. `verified`: its SHA-256 matched a published one;
    /// otherwise `sha256` is what we computed, for the user to compare.
    case finished(ManifestEntry, bytes: Int64, sha256: String, verified: Bool)
}

/// Downloads the manifest's files into a folder: each through `NAME.part` beside the target,
/// resumed with an HTTP Range request, checked (length, SHA-256) and only then renamed to `NAME`,
/// so a file under its final name is always whole. Files already present and checking out are
/// left alone. Stops at the first failure, keeping every file already complete.
public final class ModelDownloader {
    public let entries: [ManifestEntry]
    public let baseURL: String
    public let destination: String
    public let userAgent: String
    private let report: (DownloadEvent) -> Void
    /// Seconds between two `.progress` events.
    public var progressInterval = 0.25
    /// Bytes asked for per request. URLSession hands a body over faster than a disk and SHA-256
    /// may take it, keeping the difference in memory, so a file is fetched as consecutive Range
    /// requests of this size (a server that ignores Range sends the whole file in one response).
    public var requestBytes: Int64 = 32 << 20
    /// The fewest bytes per second, averaged over the last `rateWindow` seconds, a transfer may
    /// bring before it counts as stalled (a server trickling a byte every 20 s never trips the
    /// 60 s idle timeout). 1 kB/s by default.
    public var minimumRate: Int64 = 1_000
    /// Seconds the transfer rate is averaged over (60 by default); checked from then on.
    public var rateWindow: TimeInterval = 60
    /// The most bytes a file whose size the table does not give may have: a server announcing
    /// more is refused before any byte, one sending more is stopped at the first byte past it.
    /// 4 GiB by default: 8 times roberta-base's `pytorch_model.bin` (about 501 MB, the one such
    /// file in the built-in table), above the largest AudioSep file (2.35 GB).
    public var sizeCap: Int64 = ModelDownloader.defaultSizeCap
    /// `sizeCap`'s default, 4 GiB.
    public static let defaultSizeCap: Int64 = 4 << 30

    public struct Summary: Equatable, Sendable {
        /// Files that were already present.
        public var present = 0
        /// Files downloaded (or finished) now.
        public var downloaded = 0
        /// Files whose SHA-256 nobody published, so checked only for their length.
        public var unverified: [String] = []
    }

    public init(entries: [ManifestEntry], baseURL: String, destination: String, userAgent: String = "audiosep-stream",
                report: @escaping (DownloadEvent) -> Void = { _ in }) throws {
        try ModelFileTable.validate(entries, origin: "the manifest")
        _ = try ModelFileTable.url(base: baseURL, relative: entries[0].url)
        self.entries = entries
        self.baseURL = baseURL
        self.destination = destination
        self.userAgent = userAgent
        self.report = report
    }

    public func run() throws -> Summary {
        try Self.makeFolder(destination)
        var summary = Summary()
        for entry in entries {
            let url = try ModelFileTable.url(base: baseURL, relative: entry.url)
            let target = (destination as NSString).appendingPathComponent(entry.path)
            try Self.makeFolder(SymbolicLinksFolder.of(target))
            if let present = try check(entry, at: target) {
                summary.present += 1
                if entry.sha256 == nil { summary.unverified.append(entry.path) }
                report(.present(entry, bytes: present, verified: entry.sha256 != nil))
                continue
            }
            try download(entry, from: url, to: target)
            summary.downloaded += 1
            if entry.sha256 == nil { summary.unverified.append(entry.path) }
        }
        return summary
    }

    // MARK: - A file already there

    /// The length of the file at `target` when it is there and checks out; nil when it must be
    /// downloaded (absent, or failing the check: then `.replacing` is reported).
    private func check(_ entry: ManifestEntry, at target: String) throws -> Int64? {
        var status = stat()
        guard stat(target, &status) == 0 else { return nil }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw DownloadError.writeFailed(file: target, url: "(already there)", call: "not a regular file", errno: EISDIR)
        }
        let length = Int64(status.st_size)
        if let size = entry.size, size != length {
            report(.replacing(entry, reason: "\(length) bytes, expected \(size)"))
            return nil
        }
        if let sum = entry.sha256 {
            let (got, _) = try Self.hash(file: target, url: "(already there)")
            guard got.hexDigest() == sum else {
                report(.replacing(entry, reason: "SHA-256 \(got.hexDigest()), expected \(sum)"))
                return nil
            }
        }
        return length
    }

    // MARK: - Downloading one file

    private func download(_ entry: ManifestEntry, from url: URL, to target: String) throws {
        let part = target + ".part"
        let link = url.absoluteString
        var fresh = false
        while true {
            do {
                try transfer(entry, url: url, link: link, part: part, target: target, fresh: fresh)
                return
            } catch Restart.fromZero(let asked, let got) {
                // The .part holds more than the file, or a server refused its range: start over once.
                guard !fresh else { throw DownloadError.wrongRange(file: entry.path, url: link, asked: asked, got: got) }
                unlink(part)
                fresh = true
            }
        }
    }

    /// Start the file over once: the server answered the range from `asked` from `got` instead.
    private enum Restart: Error { case fromZero(asked: Int64, got: Int64) }

    private func transfer(_ entry: ManifestEntry, url: URL, link: String, part: String, target: String, fresh: Bool) throws {
        let descriptor = open(part, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw DownloadError.writeFailed(file: part, url: link, call: "open", errno: errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw DownloadError.writeFailed(file: part, url: link, call: "fstat", errno: errno) }
        var offset = Int64(status.st_size)
        if let size = entry.size, offset > size {
            try truncate(descriptor, part: part, link: link)
            offset = 0
        }
        // What is already in the .part counts towards the SHA-256.
        var hasher = SHA256()
        if offset > 0 {
            let (prefix, length) = try Self.hash(file: part, url: link)
            hasher = prefix
            offset = length
        }
        guard lseek(descriptor, off_t(offset), SEEK_SET) >= 0 else {
            throw DownloadError.writeFailed(file: part, url: link, call: "lseek", errno: errno)
        }

        var written = offset
        var expectedTotal = entry.size
        if let size = entry.size, offset == size {
            // The .part is already whole (the previous run stopped before the rename).
            try finish(entry, descriptor: descriptor, part: part, target: target, link: link, hasher: hasher, bytes: written)
            return
        }

        report(.started(entry, url: link, offset: offset, total: entry.size))
        let started = Date()
        var lastReport = Date.distantPast
        var sessionBytes: Int64 = 0
        let fetcher = HTTPFetcher()
        var wholeFile = false
        // Files the table gives no size for are capped.
        let cap: Int64? = entry.size == nil ? sizeCap : nil
        // (time, sessionBytes) samples for the minimum-rate rule, on the fetcher's queue.
        var samples: [(time: Date, bytes: Int64)] = [(started, 0)]
        let minimumRate = self.minimumRate, rateWindow = self.rateWindow
        let watchdog = {
            let now = Date()
            samples.append((now, sessionBytes))
            // The newest sample at least a window old is the base; older ones are not needed.
            guard let baseIndex = samples.lastIndex(where: { now.timeIntervalSince($0.time) >= rateWindow }) else { return }
            samples.removeFirst(baseIndex)
            let base = samples[0]
            let rate = Double(sessionBytes - base.bytes) / now.timeIntervalSince(base.time)
            if rate < Double(minimumRate) {
                throw DownloadError.tooSlow(file: entry.path, url: link, bytesPerSecond: Int64(rate.rounded()),
                                            seconds: Int(rateWindow.rounded()), minimum: minimumRate)
            }
        }
        while true {
            let from = written
            var last = from + requestBytes - 1
            if let total = expectedTotal { last = min(last, total - 1) }
            var received: Int64 = 0
            do {
                try fetcher.get(url, offset: from, last: last, userAgent: userAgent,
                                watchInterval: min(1, rateWindow / 5), watchdog: watchdog, onHead: { head in
                    if head.status == 200 { wholeFile = true }
                    if head.start != from {
                        guard head.start == 0 else { throw Restart.fromZero(asked: from, got: head.start) }
                        // Range ignored (a 200 with the whole file): the .part starts over from 0.
                        try self.truncate(descriptor, part: part, link: link)
                        hasher = SHA256()
                        written = 0
                        self.report(.restarted(entry, url: link))
                    }
                    if let total = head.total {
                        if let cap, total > cap {
                            throw DownloadError.overCap(file: entry.path, url: link, cap: cap, announced: total)
                        }
                        if let size = entry.size, size != total {
                            throw DownloadError.sizeMismatch(file: entry.path, url: link, expected: size, got: total)
                        }
                        expectedTotal = total
                    }
                }, onBody: { data in
                    // More than the file's length is refused before it is written: a server that
                    // never stops sending is stopped at its first excess byte.
                    if let total = expectedTotal, written + Int64(data.count) > total {
                        throw DownloadError.tooLong(file: entry.path, url: link, expected: total)
                    }
                    if let cap, written + Int64(data.count) > cap {
                        throw DownloadError.overCap(file: entry.path, url: link, cap: cap, announced: nil)
                    }
                    try data.withUnsafeBytes { bytes in
                        try self.writeAll(descriptor, bytes, part: part, link: link)
                        hasher.update(bytes)
                    }
                    written += Int64(data.count)
                    received += Int64(data.count)
                    sessionBytes += Int64(data.count)
                    let now = Date()
                    if now.timeIntervalSince(lastReport) >= self.progressInterval {
                        lastReport = now
                        self.report(.progress(entry, done: written, total: expectedTotal, sessionBytes: sessionBytes,
                                              seconds: now.timeIntervalSince(started)))
                    }
                })
            } catch let failure as HTTPFailure {
                switch failure {
                case .status(416) where from > 0 && !fresh:
                    throw Restart.fromZero(asked: from, got: 0)
                case .status(let code):
                    throw DownloadError.httpStatus(file: entry.path, url: link, status: code)
                case .transport(let reason):
                    throw DownloadError.connectionFailed(file: entry.path, url: link, reason: reason)
                }
            }
            if wholeFile { break }
            if let total = expectedTotal {
                if written >= total { break }
                if received == 0 { break }  // a 206 with nothing in it: report as incomplete below
            } else if received < last - from + 1 {
                break  // no length known: a short answer is the end
            }
        }
        report(.progress(entry, done: written, total: expectedTotal, sessionBytes: sessionBytes,
                         seconds: Date().timeIntervalSince(started)))
        if let total = expectedTotal, written != total {
            throw DownloadError.incomplete(file: entry.path, url: link, got: written, expected: total)
        }
        try finish(entry, descriptor: descriptor, part: part, target: target, link: link, hasher: hasher, bytes: written)
    }

    /// Checks the whole `.part` and renames it to the final name; a wrong SHA-256 removes it.
    private func finish(_ entry: ManifestEntry, descriptor: Int32, part: String, target: String, link: String,
                        hasher: SHA256, bytes: Int64) throws {
        let got = hasher.hexDigest()
        if let sum = entry.sha256, got != sum {
            unlink(part)
            throw DownloadError.checksumMismatch(file: entry.path, url: link, expected: sum, got: got)
        }
        guard fsync(descriptor) == 0 else { throw DownloadError.writeFailed(file: part, url: link, call: "fsync", errno: errno) }
        guard rename(part, target) == 0 else { throw DownloadError.writeFailed(file: target, url: link, call: "rename", errno: errno) }
        let folder = open(SymbolicLinksFolder.of(target), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
        report(.finished(entry, bytes: bytes, sha256: got, verified: entry.sha256 != nil))
    }

    private func truncate(_ descriptor: Int32, part: String, link: String) throws {
        guard ftruncate(descriptor, 0) == 0 else { throw DownloadError.writeFailed(file: part, url: link, call: "ftruncate", errno: errno) }
        guard lseek(descriptor, 0, SEEK_SET) == 0 else { throw DownloadError.writeFailed(file: part, url: link, call: "lseek", errno: errno) }
    }

    private func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, part: String, link: String) throws {
        do {
            try WholeWrite.write(descriptor, bytes)
        } catch let failure as SystemCallFailure {
            throw DownloadError.writeFailed(file: part, url: link, call: failure.call, errno: failure.errno)
        }
    }

    /// The SHA-256 state after a whole file, and its length.
    static func hash(file: String, url: String) throws -> (SHA256, Int64) {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DownloadError.writeFailed(file: file, url: url, call: "open", errno: errno) }
        defer { close(descriptor) }
        var hasher = SHA256()
        var length: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress!, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw DownloadError.writeFailed(file: file, url: url, call: "read", errno: errno)
            }
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            length += Int64(count)
        }
        return (hasher, length)
    }

    static func makeFolder(_ folder: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw DownloadError.cannotCreateFolder(folder: folder, reason: "a file of that name is in the way") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { "\($0)" } ?? (error as NSError).localizedDescription
            throw DownloadError.cannotCreateFolder(folder: folder, reason: reason)
        }
    }
}

enum SymbolicLinksFolder {
    static func of(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
