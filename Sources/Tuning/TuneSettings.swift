import Foundation

/// What went wrong while tuning; the executable prints it as one line.
public enum TuneError: Error, Equatable, CustomStringConvertible {
    case invalidValue(name: String, value: String)
    case childFailed(configuration: String, status: Int32, message: String)
    case cannotStart(path: String, errno: Int32)
    case missingStats(configuration: String)
    case wrongLength(configuration: String, got: Int, expected: Int)
    /// No chunk asked for is short enough against the sample to have boundaries worth judging.
    case noJudgedChunk(chunks: [Double], sampleSeconds: Double)
    case cannotWritePlot(path: String, reason: String)
    /// No chunk asked for is both short enough to judge and at least the engine's shortest useful window.
    case noUsefulChunk(chunks: [Double], sampleSeconds: Double, shortestUsefulSeconds: Double)

    public var description: String {
        switch self {
        case .invalidValue(let name, let value):
            return "invalid \(name): \(value)"
        case .childFailed(let configuration, let status, let message):
            let detail = message.isEmpty ? "" : ": \(message)"
            return "the run with \(configuration) failed (status \(status))\(detail)"
        case .cannotStart(let path, let code):
            return "cannot start \(path): \(String(cString: strerror(code)))"
        case .missingStats(let configuration):
            return "the run with \(configuration) wrote no measurements"
        case .wrongLength(let configuration, let got, let expected):
            return "the run with \(configuration) wrote \(got) frames, expected \(expected)"
        case .cannotWritePlot(let path, let reason):
            return "cannot write the plot '\(path)': \(reason)"
        case .noJudgedChunk(let chunks, let sampleSeconds):
            let list = chunks.map { String(format: "%g", $0) }.joined(separator: ",")
            let longest = TuneAnalysis.longestJudgedChunkSeconds(sampleSeconds: sampleSeconds)
            return String(format: "no chunk in --chunks %@ is at most a third of the %.3g s sample (%.3g s), so none has "
                          + "enough window boundaries to judge: give shorter chunks or a longer --seconds", list, sampleSeconds, longest)
        case .noUsefulChunk(let chunks, let sampleSeconds, let shortest):
            let list = chunks.map { String(format: "%g", $0) }.joined(separator: ",")
            let longest = TuneAnalysis.longestJudgedChunkSeconds(sampleSeconds: sampleSeconds)
            return String(format: "no chunk in --chunks %@ is both at least the engine's shortest useful chunk (%@ s) and at "
                          + "most a third of the %.3g s sample (%.3g s): give chunks from %@ s and a --seconds of at least %@",
                          list, String(format: "%g", shortest), sampleSeconds, longest, String(format: "%g", shortest),
                          String(format: "%g", (3 * shortest).rounded(.up)))
        }
    }
}

/// The overlap between windows: a share of the chunk (`0.1`, `10%`) or a length (`1s`, `2`).
/// Plain numbers below 1 are shares, 1 and above are seconds.
public enum OverlapSpec: Equatable, Sendable, CustomStringConvertible {
    case fraction(Double)
    case seconds(Double)

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        func number(_ body: Substring) throws -> Double {
            guard let value = Double(body), value.isFinite, value >= 0 else {
                throw TuneError.invalidValue(name: "overlap", value: text)
            }
            return value
        }
        if trimmed.hasSuffix("%") {
            let share = try number(trimmed.dropLast()) / 100
            guard share <= 0.5 else { throw TuneError.invalidValue(name: "overlap (at most 50% of the chunk)", value: text) }
            self = .fraction(share)
        } else if trimmed.hasSuffix("ms") {
            self = .seconds(try number(trimmed.dropLast(2)) / 1000)
        } else if trimmed.hasSuffix("s") {
            self = .seconds(try number(trimmed.dropLast()))
        } else {
            let value = try number(Substring(trimmed))
            if value < 1 {
                guard value <= 0.5 else { throw TuneError.invalidValue(name: "overlap (at most half the chunk)", value: text) }
                self = .fraction(value)
            } else {
                self = .seconds(value)
            }
        }
    }

    /// The overlap for a chunk of this length, never more than half of it.
    public func seconds(forChunk chunk: Double) -> Double {
        switch self {
        case .fraction(let share): return share * chunk
        case .seconds(let value): return min(value, chunk / 2)
        }
    }

    public var description: String {
        switch self {
        case .fraction(let share): return String(format: "%g%% of the chunk", share * 100)
        case .seconds(let value): return String(format: "%g s", value)
        }
    }
}

public enum Quantity {
    /// Bytes from `1G`, `512M`, `1.5GB`, `800MiB`, `1000000`: K/M/G and KB/MB/GB are decimal, as the
    /// tables print memory; KiB/MiB/GiB are binary.
    public static func bytes(_ text: String) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let upper = trimmed.uppercased()
        let units: [(String, Double)] = [
            ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("TIB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12),
            ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("B", 1),
        ]
        var scale = 1.0
        var body = Substring(upper)
        for (suffix, factor) in units where upper.hasSuffix(suffix) {
            scale = factor
            body = upper.dropLast(suffix.count)
            break
        }
        guard let value = Double(body.trimmingCharacters(in: .whitespaces)), value.isFinite, value > 0,
              value * scale < 1e18 else {
            throw TuneError.invalidValue(name: "memory limit", value: text)
        }
        return Int(value * scale)
    }

    /// Seconds from `5s`, `500ms`, `2m`, `5`.
    public static func seconds(_ text: String, name: String) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        var scale = 1.0
        var body = Substring(trimmed)
        if trimmed.hasSuffix("ms") { scale = 0.001; body = body.dropLast(2) }
        else if trimmed.hasSuffix("s") { body = body.dropLast() }
        else if trimmed.hasSuffix("m") || trimmed.hasSuffix("min") {
            scale = 60
            body = trimmed.hasSuffix("min") ? body.dropLast(3) : body.dropLast()
        }
        guard let value = Double(body), value.isFinite, value > 0 else {
            throw TuneError.invalidValue(name: name, value: text)
        }
        return value * scale
    }

    /// A comma-separated list of positive seconds: `1,2,4,8`.
    public static func secondsList(_ text: String, name: String) throws -> [Double] {
        let values = try text.split(separator: ",").map { try seconds(String($0), name: name) }
        guard !values.isEmpty else { throw TuneError.invalidValue(name: name, value: text) }
        return values
    }
}

/// The limits a recommendation must meet; nil means no limit.
public struct TuneLimits: Equatable, Sendable, Codable {
    public var maxMemoryBytes: Int?
    public var maxLatencySeconds: Double?
    public var minBoundarySNR: Double?

    public init(maxMemoryBytes: Int? = nil, maxLatencySeconds: Double? = nil, minBoundarySNR: Double? = nil) {
        self.maxMemoryBytes = maxMemoryBytes
        self.maxLatencySeconds = maxLatencySeconds
        self.minBoundarySNR = minBoundarySNR
    }

    enum CodingKeys: String, CodingKey {
        case maxMemoryBytes = "max_memory_bytes"
        case maxLatencySeconds = "max_latency_seconds"
        case minBoundarySNR = "min_boundary_snr_db"
    }
}
