import Files
import Foundation

/// An output file that appears under its name only when it is complete.
///
/// A regular file (new, or one that exists) is written under a temporary name beside its target
/// (`.NAME.audiosep-XXXXXX`, same folder, so same file system) and renamed onto it by `commit()`;
/// until then whatever had the name keeps it, and `discard()` (or dropping the object) removes the
/// temporary file. A symbolic link is written through: its target is the file replaced. Anything
/// else that exists (a device such as /dev/null, a FIFO) cannot be replaced by a rename and is
/// written straight through, as sox and gzip do.
///
/// Refuses, before creating anything: a folder, a name in a folder that does not exist, and a
/// file that is one of `inputs` (compared by device and inode, so through links too).
public final class StagedOutput {
    /// What the user named.
    public let path: String
    /// The file that will hold the result: `path` with symbolic links followed.
    public let target: String
    /// The temporary name while writing a regular file; nil when writing straight through.
    public let temporaryPath: String?
    public let file: OutputFile
    private var settled = false

    public init(path: String, inputs: [FileIdentity] = []) throws {
        self.path = path
        let target = try Self.check(path: path, inputs: inputs)
        self.target = target
        let existing = FileIdentity(path: target)
        if let existing, !existing.isRegularFile {
            let descriptor = open(target, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw StreamError.cannotOpen(path: path, cause: .errno(errno)) }
            temporaryPath = nil
            file = OutputFile(adopting: descriptor)
            return
        }
        var status = stat()
        // An existing file keeps its permissions; a new one gets the usual 0666 less the umask.
        let mode: mode_t = existing != nil && stat(target, &status) == 0 ? status.st_mode & 0o7777 : 0o666
        let (descriptor, temporary) = try Self.createTemporary(beside: target, mode: mode, naming: path)
        if existing != nil { fchmod(descriptor, mode) }
        temporaryPath = temporary
        file = OutputFile(adopting: descriptor)
    }

    /// The refusals of `init`, without creating anything: call it before reading any input, so a
    /// mistake is reported at once. Returns the path with symbolic links followed.
    @discardableResult
    public static func check(path: String, inputs: [FileIdentity] = []) throws -> String {
        let target = try followLinks(path)
        if let existing = FileIdentity(path: target) {
            if existing.isDirectory { throw StreamError.outputIsDirectory(path: path) }
            if inputs.contains(existing) { throw StreamError.outputIsInput(path: path) }
        } else {
            let folder = (target as NSString).deletingLastPathComponent
            let parent = folder.isEmpty ? "." : folder
            guard let identity = FileIdentity(path: parent), identity.isDirectory else {
                throw StreamError.outputFolderMissing(path: path, folder: parent)
            }
        }
        return target
    }

    /// Puts the complete output under its name (a no-op when writing straight through).
    public func commit() throws {
        guard !settled else { return }
        settled = true
        guard let temporaryPath else { return }
        guard rename(temporaryPath, target) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw StreamError.cannotRename(path: path, errno: code)
        }
    }

    /// Removes the temporary file; whatever had the name keeps it.
    public func discard() {
        guard !settled else { return }
        settled = true
        if let temporaryPath { unlink(temporaryPath) }
    }

    deinit { discard() }

    /// `path` with every symbolic link followed (a dangling link: where it points).
    static func followLinks(_ path: String) throws -> String {
        do {
            return try SymbolicLinks.follow(path)
        } catch let failure as SymbolicLinks.Failure {
            throw StreamError.cannotOpen(path: path, cause: .errno(failure.errno))
        }
    }

    private static func createTemporary(beside target: String, mode: mode_t, naming path: String) throws -> (Int32, String) {
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        let pattern = (folder.isEmpty ? "" : folder + "/") + ".\(name).audiosep-XXXXXX"
        var template = Array(pattern.utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw StreamError.cannotOpen(path: path, cause: .errno(errno)) }
        // mkostemp makes it 0600; the finished file gets what a plain open would have given it.
        let umaskValue = umask(0)
        umask(umaskValue)
        fchmod(descriptor, mode == 0o666 ? 0o666 & ~umaskValue : mode)
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (descriptor, temporary)
    }
}
