import Foundation

/// Following symbolic links to the file a write should replace.
public enum SymbolicLinks {
    /// A link that cannot be read, or a loop of links: `errno` says which.
    public struct Failure: Error, Equatable {
        public let errno: Int32
    }

    /// `path` with every symbolic link followed, also one whose target does not exist yet (the
    /// file is then created where the link points). A path that is no link is returned as it is.
    public static func follow(_ path: String) throws -> String {
        var current = path
        for _ in 0..<40 {
            var status = stat()
            guard lstat(current, &status) == 0, (status.st_mode & S_IFMT) == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, buffer.count - 1)
            guard length >= 0 else { throw Failure(errno: errno) }
            let link = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = link.hasPrefix("/") ? link : folder(of: current) + "/" + link
        }
        throw Failure(errno: ELOOP)
    }

    /// `path` as one absolute name with every symbolic link followed, in its folders too (as
    /// `realpath(3)`), also when the file does not exist yet: a dangling link is followed to
    /// where it points and a missing name is resolved through its nearest existing folder. Two
    /// paths that would write the same file resolve to the same name (`out/a.wav` and
    /// `link-to-out/a.wav`). A relative path is taken from the current folder; a loop of links
    /// is returned as far as it was followed.
    public static func resolve(_ path: String) -> String {
        var current = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        for _ in 0..<40 {
            if let real = realpath(current, nil) {
                defer { free(real) }
                return String(cString: real)
            }
            var status = stat()
            if lstat(current, &status) == 0, (status.st_mode & S_IFMT) == S_IFLNK {
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlink(current, &buffer, buffer.count - 1)
                guard length >= 0 else { return current }
                let link = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                current = link.hasPrefix("/") ? link : folder(of: current) + "/" + link
                continue
            }
            // Nothing has this name yet: resolve the folder that will hold it.
            let trimmed = current.hasSuffix("/") && current.count > 1 ? String(current.dropLast()) : current
            let parent = folder(of: trimmed)
            guard parent != trimmed, let slash = trimmed.lastIndex(of: "/") else { return current }
            let name = String(trimmed[trimmed.index(after: slash)...])
            let base = resolve(parent)
            return (base == "/" ? "" : base) + "/" + name
        }
        return current
    }

    /// The folder holding `path` ("." for a bare name).
    public static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
