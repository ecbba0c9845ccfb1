import Foundation

/// Which file a path or descriptor names, as the kernel tells them apart: device and inode.
/// Two names (a path, a symbolic link to it, a hard link, `/dev/stdin` redirected from it) are
/// the same file exactly when their identities are equal.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64
    /// True for a regular file: the only kind that can be replaced by renaming another onto it.
    public let isRegularFile: Bool
    public let isDirectory: Bool

    /// The identity `fstat` or `stat` reported.
    public init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        isRegularFile = (status.st_mode & S_IFMT) == S_IFREG
        isDirectory = (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// The file `path` names, through symbolic links; nil when there is none.
    public init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        self.init(status)
    }

    /// The file an open descriptor refers to; nil when it is not open.
    public init?(descriptor: Int32) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        self.init(status)
    }

    /// Equal as files: device and inode (the kind of file follows from them).
    public static func == (left: FileIdentity, right: FileIdentity) -> Bool {
        left.device == right.device && left.inode == right.inode
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(device)
        hasher.combine(inode)
    }
}
