import Files
import Foundation

/// Names that mean the process's own standard output: `/dev/stdout`, `/dev/fd/1`,
/// `/proc/self/fd/1`, `/proc/PID/fd/1` with this process's id, or a symbolic link that leads
/// to one of them. Such a name is not a file to stage beside and rename onto (on a pipe there is
/// no folder to stage in), but descriptor 1 itself: `-o /dev/stdout` is written as `-o -` is.
public enum StandardOutputName {
    /// True when `path` names descriptor 1 of this process, directly or through symbolic links.
    public static func matches(_ path: String) -> Bool {
        let own: Set<String> = ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "/proc/thread-self/fd/1",
                                "/proc/\(getpid())/fd/1"]
        var current = path
        for _ in 0..<40 {
            if own.contains(lexical(current)) { return true }
            var status = stat()
            guard lstat(current, &status) == 0, (status.st_mode & S_IFMT) == S_IFLNK else { return false }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, buffer.count - 1)
            guard length >= 0 else { return false }
            let link = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = link.hasPrefix("/") ? link : SymbolicLinks.folder(of: current) + "/" + link
        }
        return false
    }

    /// `path` made absolute with `.`, empty components and doubled slashes removed (`..` is left
    /// alone: it cannot be undone without following links).
    static func lexical(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let parts = absolute.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }
}
