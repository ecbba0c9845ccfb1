import Files
import Foundation

/// An output file that appears under its name only when it is complete.
///
/// A regular file (new, or one that exists) is written under a temporary name beside its target
/// (`.NAME.audiosep-XXXXXX`, same folder, so same file system; a NAME too long for that is
/// shortened, `temporaryStem(for:)`) and renamed onto it by `commit()`;
/// until then whatever had the name keeps it, and `discard()` (or dropping the object) removes the
/// temporary file. A symbolic link is written through: its target is the file replaced. Anything
/// else that exists (a device such as /dev/null, a FIFO) cannot be replaced by a rename and is
/// written straight through, as sox and gzip do.
///
/// Refuses, before creating anything: a folder, a name in a folder that does not exist, and a
/// file that is one of `inputs` (compared by device and inode, so through links too).
///
/// **The one rule for a run that did not finish** (a read error, a full disk, a stop signal):
/// `commitPartial()` never replaces a file the user had. When the target did not exist when
/// staging began, the partial output takes its name (a valid, shorter file, as sox leaves one);
/// when it did, the old file keeps its name and the partial is kept beside it under a name of its
/// own that no existing file has (`NAME.partial.EXT`, then `NAME.partial-2.EXT`, …). Every front
/// end (the filter, the worker, batch) goes through this, so they cannot disagree.
public final class StagedOutput {
    /// Where a partial output ended up (`commitPartial()`).
    public enum PartialOutcome: Equatable, Sendable {
        /// The target did not exist: the partial is under the name the user gave (or was written
        /// straight through to a device or FIFO).
        case underName
        /// The target existed and keeps its content; the partial is at this path beside it.
        case keptBeside(String)
        /// The target existed and keeps its content; the partial could not be kept under a name
        /// of its own and was removed.
        case removed
    }
    /// What the user named.
    public let path: String
    /// The file that will hold the result: `path` with symbolic links followed.
    public let target: String
    /// The temporary name while writing a regular file; nil when writing straight through.
    public var temporaryPath: String? { staged?.temporaryPath }
    public let file: OutputFile
    /// True when a regular file had the target's name when staging began: a partial output must
    /// then never take that name (see `commitPartial()`).
    public var replacesExistingFile: Bool { staged?.replacesExistingFile ?? false }
    /// The temporary file; nil when writing straight through (a device, a FIFO).
    private let staged: StagedFile?

    public init(path: String, inputs: [FileIdentity] = []) throws {
        self.path = path
        let target = try Self.check(path: path, inputs: inputs)
        self.target = target
        if let existing = FileIdentity(path: target), !existing.isRegularFile {
            let descriptor = open(target, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw StreamError.cannotOpen(path: path, cause: .errno(errno)) }
            staged = nil
            file = OutputFile(adopting: descriptor)
            return
        }
        do {
            staged = try StagedFile(target: target)
        } catch let failure as SystemCallFailure {
            throw StreamError.cannotOpen(path: path, cause: .errno(failure.errno))
        }
        // The staged file keeps its descriptor (closed when it is settled and dropped); the
        // writer gets its own.
        file = OutputFile(adopting: dup(staged!.descriptor))
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
        do {
            try staged?.commit()
        } catch let failure as SystemCallFailure {
            throw StreamError.cannotRename(path: path, errno: failure.errno)
        }
    }

    /// Settles an output that is not whole (the run failed or was stopped) by the one rule: when
    /// no file had the target's name, the partial takes it, as `commit()` would; when one did,
    /// that file is left as it was and the partial is kept beside it under a name no file has
    /// (`partialName(for:)`), or removed when no such name can be made.
    /// - Throws: `StreamError.cannotRename` when the partial cannot take a free name.
    @discardableResult
    public func commitPartial() throws -> PartialOutcome {
        guard let staged, staged.replacesExistingFile else {
            try commit()
            return .underName
        }
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        let names = (1...100).map { (folder.isEmpty ? "" : folder + "/") + Self.partialName(for: name, attempt: $0) }
        return staged.commit(underFreeNameOf: names).map(PartialOutcome.keptBeside) ?? .removed
    }

    /// The name a partial output of `name` is kept under beside it: `.partial` before the
    /// extension (`out.wav` → `out.partial.wav`, `out` → `out.partial`), with `-N` from the
    /// second attempt on (`out.partial-2.wav`).
    public static func partialName(for name: String, attempt: Int = 1) -> String {
        let suffix = attempt > 1 ? ".partial-\(attempt)" : ".partial"
        let ext = (name as NSString).pathExtension
        let stem = (name as NSString).deletingPathExtension
        guard !ext.isEmpty, !stem.isEmpty else { return fitted(name, around: suffix.utf8.count) + suffix }
        // A long legal name keeps its partial legal too: the stem is shortened, never the extension.
        return fitted(stem, around: suffix.utf8.count + 1 + ext.utf8.count) + suffix + "." + ext
    }

    /// The temporary files that runs staging `path` left behind when they were killed before
    /// they could remove them (`.NAME.audiosep-XXXXXX` beside the target, as `init` names them).
    public static func temporaryFiles(for path: String) -> [String] {
        guard let target = try? followLinks(path) else { return [] }
        let folder = (target as NSString).deletingLastPathComponent
        let prefix = ".\(temporaryStem(for: (target as NSString).lastPathComponent)).audiosep-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder) else { return [] }
        return entries.filter { $0.hasPrefix(prefix) && $0.utf8.count == prefix.utf8.count + 6 }
            .sorted()
            .map { (folder.isEmpty ? "" : folder + "/") + $0 }
    }

    /// The longest file name the temporary name may have (`StagedFile.longestName`).
    public static var longestName: Int { StagedFile.longestName }

    /// What stands for `name` in its temporary name (`StagedFile.temporaryStem(for:)`).
    public static func temporaryStem(for name: String) -> String { StagedFile.temporaryStem(for: name) }

    static func fitted(_ name: String, around decoration: Int) -> String { StagedFile.fitted(name, around: decoration) }

    /// Removes the temporary files `temporaryFiles(for:)` finds (only regular files); returns
    /// those removed. Call it only when no other run can be writing `path`.
    @discardableResult
    public static func removeStaleTemporaryFiles(for path: String) -> [String] {
        temporaryFiles(for: path).filter { file in
            var status = stat()
            guard lstat(file, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return false }
            return unlink(file) == 0
        }
    }

    /// Removes the temporary file; whatever had the name keeps it.
    public func discard() { staged?.discard() }

    /// `path` with every symbolic link followed (a dangling link: where it points).
    static func followLinks(_ path: String) throws -> String {
        do {
            return try SymbolicLinks.follow(path)
        } catch let failure as SymbolicLinks.Failure {
            throw StreamError.cannotOpen(path: path, cause: .errno(failure.errno))
        }
    }
}
