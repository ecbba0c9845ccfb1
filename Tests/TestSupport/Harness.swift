import Foundation
import Stream

/// Runs the real binary in real shell pipelines with sox, as a user would.
public enum Harness {
    /// The built `audiosep-stream`, next to the test bundle in the build folder.
    public static let binary: String = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("audiosep-stream").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("audiosep-stream").path
    }()

    public static let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audiosep-e2e-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    public static func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    public struct Result {
        public var status: Int32
        public var stdout: Data
        public var stderr: String
        public var seconds: Double

        public init(status: Int32, stdout: Data, stderr: String, seconds: Double) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
            self.seconds = seconds
        }
    }

    /// Runs `command` in bash with `$BIN` set to the binary and the working folder as cwd.
    @discardableResult
    public static func shell(_ command: String) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-o", "pipefail", "-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["BIN"] = binary
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errPath = path("stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let out = Pipe()
        process.standardOutput = out
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try errHandle.close()
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Result(status: process.terminationStatus, stdout: data, stderr: stderr,
                      seconds: Date().timeIntervalSince(started))
    }

    /// Reads a file of any libsndfile format, whole, planar.
    public static func readAudio(_ file: String) throws -> (rate: Int, channels: [[Float]], format: SampleFormat) {
        let source = try SndfileSource(.path(file))
        var channels = [[Float]](repeating: [], count: source.description.channelCount)
        while true {
            let block = try source.read(maxFrames: 65_536)
            guard let frames = block.first?.count, frames > 0 else { break }
            for channel in channels.indices { channels[channel] += block[channel] }
        }
        return (source.description.sampleRate, channels, source.description.sampleFormat)
    }

    public static func readRaw(_ file: String, channels: Int, format: SampleFormat) throws -> [[Float]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let codec = SampleCodec(format: format, channelCount: channels)
        return data.withUnsafeBytes { codec.decode($0, frames: data.count / codec.bytesPerFrame) }
    }
}
