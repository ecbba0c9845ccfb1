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
        let staged: StagedFile
        do {
            staged = try StagedFile(target: target)
        } catch let failure as SystemCallFailure {
            throw WeightsError.cannotWrite(file: path, call: failure.call, errno: failure.errno)
        }
        // Dropping `staged` without a commit (a throw below) removes the temporary file.
        try body(staged.descriptor)
        do {
            try staged.commit()
        } catch let failure as SystemCallFailure {
            throw WeightsError.cannotWrite(file: path, call: failure.call, errno: failure.errno)
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
