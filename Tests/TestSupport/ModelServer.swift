import Foundation

/// `Tests/Servers/model_server.py`: a Python standard-library HTTP server on 127.0.0.1 serving a
/// folder, which stops by itself after `lifetime` seconds. Its behaviour per path (drops,
/// wrong bytes, errors, redirects) is described in the script.
public final class ModelServer {
    /// The server printed no port: python3 is missing, or the script failed.
    public struct DidNotStart: Error {}

    public let port: Int
    public let log: String
    private let process = Process()

    public init(root: String, log: String, lifetime: Int) throws {
        self.log = log
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Fixtures.tests.appendingPathComponent("Servers/model_server.py").path, root, log,
                             String(lifetime)]
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw DidNotStart()
        }
        self.port = port
    }

    public var base: String { "http://127.0.0.1:\(port)" }

    /// One request the server logged: its path and Range header.
    public struct Request: Decodable, Equatable {
        public var path: String
        public var range: String?
        public init(path: String, range: String?) {
            self.path = path
            self.range = range
        }
    }

    /// Every request so far, in order.
    public func requests() -> [Request] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }

    /// A loopback port nothing listens on: bound, then closed. Nil when no socket can be had.
    public static func closedPort() -> Int? {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { return nil }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(socketFD, pointer, length) == 0 else { return -1 }
                return getsockname(socketFD, pointer, &length)
            }
        }
        guard bound == 0 else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public var isRunning: Bool { process.isRunning }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
