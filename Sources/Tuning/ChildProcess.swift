import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion and reports its exit status and what it said on stderr.
///
/// Peak memory is not taken from wait4's ru_maxrss: posix_spawn starts the child in the
/// parent's address space (vfork), and Linux carries that address space's high-water mark
/// across execve, so ru_maxrss would report the tuner's own peak whenever it is the larger.
/// Each run reports its own VmHWM instead (see `RunStats.peakResidentBytes`).
public struct ChildProcess {
    public struct Outcome: Sendable {
        public var status: Int32
        public var stderr: String
    }

    /// This executable, so each configuration runs in a fresh copy of the tool itself.
    public static var currentExecutable: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 { return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments[0]
    }

    /// Starts `path` with `arguments`, stdin from /dev/null, stdout discarded, stderr captured
    /// to `stderrPath`; waits for it.
    public static func run(_ path: String, _ arguments: [String], stderrPath: String) throws -> Outcome {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let started = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard started == 0 else { throw TuneError.cannotStart(path: path, errno: started) }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw TuneError.cannotStart(path: path, errno: errno) }
        }
        let exitStatus: Int32
        if status & 0x7f == 0 {
            exitStatus = (status >> 8) & 0xff  // exited
        } else {
            exitStatus = 128 + (status & 0x7f)  // killed by a signal, as shells report it
        }
        let message = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return Outcome(status: exitStatus, stderr: message)
    }
}
