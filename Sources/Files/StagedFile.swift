import Foundation

/// A regular file written under a temporary name beside its target and renamed onto it when
/// whole: the one mechanism behind every output that replaces a file (`StagedOutput` for audio,
/// `ReplacedFile` for `convert`). The temporary name is `.NAME.audiosep-XXXXXX` in the target's
/// folder (same file system, so the rename is atomic; a NAME too long for that is shortened,
/// `temporaryStem(for:)`); it has the permissions the target had, or 0666 less the umask for a
/// new file. Until `commit()`, whatever had the name keeps it; `discard()` (or dropping the
/// object) removes the temporary file.
public final class StagedFile {
    /// The file replaced: the caller follows symbolic links first.
    public let target: String
    public let temporaryPath: String
    /// Open for writing; closed when the file is committed or discarded.
    public let descriptor: Int32
    /// True when a file had the target's name when staging began.
    public let replacesExistingFile: Bool
    private var settled = false
    private var closed = false

    /// - Throws: `SystemCallFailure` of `mkstemp`.
    public init(target: String) throws {
        self.target = target
        var status = stat()
        let exists = stat(target, &status) == 0
        replacesExistingFile = exists
        let pattern = Self.folderPrefix(of: target) + ".\(Self.temporaryStem(for: (target as NSString).lastPathComponent)).audiosep-XXXXXX"
        var template = Array(pattern.utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw SystemCallFailure(call: "mkstemp", errno: errno) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        // mkstemp makes it 0600; the finished file gets what a plain open would have given it.
        let mask = umask(0)
        umask(mask)
        fchmod(descriptor, exists ? status.st_mode & 0o7777 : 0o666 & ~mask)
        self.descriptor = descriptor
        temporaryPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        discard()
        if !closed { close(descriptor) }
    }

    /// Closes the descriptor (a delayed write error, as NFS reports at close, fails the commit)
    /// and renames the temporary file onto the target. On failure the temporary file is removed.
    /// - Throws: `SystemCallFailure` of `close` or `rename`.
    public func commit() throws {
        guard !settled else { return }
        settled = true
        closed = true
        guard close(descriptor) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw SystemCallFailure(call: "close", errno: code)
        }
        guard rename(temporaryPath, target) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw SystemCallFailure(call: "rename", errno: code)
        }
    }

    /// Links the temporary file under the first of `names` no file has (link(2) never replaces a
    /// name, unlike rename(2)) and removes the temporary name; nil, and the file removed, when
    /// none can be taken.
    public func commit(underFreeNameOf names: [String]) -> String? {
        guard !settled else { return nil }
        settled = true
        defer { unlink(temporaryPath) }
        for candidate in names {
            if link(temporaryPath, candidate) == 0 { return candidate }
            if errno != EEXIST { break }
        }
        return nil
    }

    /// Removes the temporary file; whatever had the name keeps it.
    public func discard() {
        guard !settled else { return }
        settled = true
        unlink(temporaryPath)
    }

    /// The longest file name the temporary name may have: NAME_MAX on Linux and macOS.
    public static let longestName = 255

    /// What stands for `name` in its temporary name `.STEM.audiosep-XXXXXX`: the name itself when
    /// that fits in `longestName` bytes; for a longer name (a legal name of more than 238 bytes),
    /// its first bytes (cut on a character) and `~` with 8 hex digits of a hash of the whole name,
    /// so that the temporary name is legal, still shows whose it is, and is told apart from that
    /// of another long name with the same beginning.
    public static func temporaryStem(for name: String) -> String {
        fitted(name, around: ".".utf8.count + ".audiosep-XXXXXX".utf8.count)
    }

    /// `name`, or when `name` and `decoration` more bytes would not fit in `longestName`, its first
    /// bytes (cut on a character) and `~` with 8 hex digits of a hash of the whole name.
    public static func fitted(_ name: String, around decoration: Int) -> String {
        guard name.utf8.count + decoration > longestName else { return name }
        // FNV-1a, 32 bits: stable across runs and builds (Hasher is seeded per process).
        var hash: UInt32 = 0x811c_9dc5
        for byte in name.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        let tag = "~" + String(format: "%08x", hash)
        let room = max(0, longestName - decoration - tag.utf8.count)
        var kept = ""
        for character in name {
            guard kept.utf8.count + String(character).utf8.count <= room else { break }
            kept.append(character)
        }
        return kept + tag
    }

    /// `path`'s folder with a trailing slash, or "" for a bare name.
    static func folderPrefix(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "" : folder + "/"
    }
}
