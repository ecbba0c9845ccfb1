import Files
import Glibc

/// A file written whole and put under its name by a rename (`convert -o`), checked before any
/// work is done.
///
/// A rename can only replace a regular file or create a new name: a device (/dev/full), a FIFO
/// or a folder is refused, not turned into a regular file. A symbolic link is written through:
/// the file it points to is replaced and the link stays a link. A name in a folder that does not
/// exist, and any of `inputs` (by device and inode, so also through links), are refused. The data
/// goes to a temporary name beside the target (same folder, so same file system) that is removed
/// if anything fails.
public struct ReplacedFile: Sendable {
    /// What the user named.
    public let path: String
    /// The file that is replaced: `path` with symbolic links followed.
    public let target: String

    /// Throws `WeightsError.outputNotRegularFile`, `.outputFolderMissing`, `.outputIsInput`, or
    /// `.cannotWrite` for a loop of links.
    public init(path: String, inputs: [String] = []) throws {
        self.path = path
        let target = try Self.followLinks(path)
        self.target = target
        if let existing = FileIdentity(path: target) {
            guard existing.isRegularFile else { throw WeightsError.outputNotRegularFile(file: path) }
            if let input = inputs.first(where: { FileIdentity(path: $0) == existing }) {
                throw WeightsError.outputIsInput(file: path, input: input)
            }
        } else {
            let folder = Self.folder(of: target)
            guard let identity = FileIdentity(path: folder), identity.isDirectory else {
                throw WeightsError.outputFolderMissing(file: path, folder: folder)
            }
        }
    }

    /// Writes the file: `body` fills the descriptor of a temporary file beside the target, which is
    /// then renamed onto it. Throws `WeightsError.cannotWrite` (with the failing call and errno)
    /// or what `body` throws; the temporary file is gone either way.
    public func write(_ body: (Int32) throws -> Void) throws {
        let name = target.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? target
        var template = Array((Self.folder(of: target) + "/.\(name).audiosep-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw WeightsError.cannotWrite(file: path, call: "mkstemp", errno: errno) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            // mkstemp makes it 0600; give it what the file it replaces had, or 0666 less the umask.
            var status = stat()
            let mode: mode_t
            if stat(target, &status) == 0 {
                mode = status.st_mode & 0o7777
            } else {
                let mask = umask(0)
                umask(mask)
                mode = 0o666 & ~mask
            }
            fchmod(descriptor, mode)
            try body(descriptor)
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard close(descriptor) == 0 else {
            let code = errno
            unlink(temporary)
            throw WeightsError.cannotWrite(file: path, call: "close", errno: code)
        }
        guard rename(temporary, target) == 0 else {
            let code = errno
            unlink(temporary)
            throw WeightsError.cannotWrite(file: path, call: "rename", errno: code)
        }
    }

    /// Writes all of `bytes` to `descriptor`, retrying after signals. Throws `cannotWrite`.
    public func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        do {
            try WholeWrite.write(descriptor, bytes)
        } catch let failure as SystemCallFailure {
            throw WeightsError.cannotWrite(file: path, call: failure.call, errno: failure.errno)
        }
    }

    static func folder(of path: String) -> String { SymbolicLinks.folder(of: path) }

    static func followLinks(_ path: String) throws -> String {
        do {
            return try SymbolicLinks.follow(path)
        } catch let failure as SymbolicLinks.Failure {
            throw WeightsError.cannotWrite(file: path, call: "readlink", errno: failure.errno)
        }
    }
}
