import Foundation

/// Everything one tuning run found: printed as a table, JSON, or an SVG chart.
public struct TuneReport: Codable, Equatable, Sendable {
    public struct Input: Codable, Equatable, Sendable {
        /// "synthetic" or the file's path.
        public var source: String
        public var seconds: Double
        public var sampleRate: Int
        public var channels: Int

        enum CodingKeys: String, CodingKey {
            case source, seconds, channels
            case sampleRate = "sample_rate"
        }
    }

    /// The one pass over the whole input every configuration's boundary SNR is measured against.
    public struct WholePass: Codable, Equatable, Sendable {
        public var chunkSeconds: Double
        public var realtimeFactor: Double
        public var peakRSSBytes: Int

        enum CodingKeys: String, CodingKey {
            case chunkSeconds = "chunk_seconds", realtimeFactor = "realtime_factor", peakRSSBytes = "peak_rss_bytes"
        }
    }

    public var engine: String
    public var query: String?
    public var threads: Int
    public var input: Input
    public var engineSampleRate: Int
    /// The engine's shortest useful window, in seconds (0: any); shorter chunks are not recommended.
    public var shortestUsefulChunkSeconds: Double
    /// Set when the engine moved chunk lengths to ones it wastes nothing on, saying how.
    public var snapNote: String?
    public var wholePass: WholePass
    public var limits: TuneLimits
    public var configurations: [TunedConfiguration]
    public var recommendation: Recommendation

    enum CodingKeys: String, CodingKey {
        case engine, query, threads, input, limits, configurations, recommendation
        case engineSampleRate = "engine_sample_rate", snapNote = "snap_note", wholePass = "whole_pass"
        case shortestUsefulChunkSeconds = "shortest_useful_chunk_seconds"
    }

    public init(engine: String, query: String?, threads: Int, input: Input, engineSampleRate: Int,
                shortestUsefulChunkSeconds: Double = 0, snapNote: String?, wholePass: WholePass, limits: TuneLimits,
                configurations: [TunedConfiguration], recommendation: Recommendation) {
        self.engine = engine
        self.query = query
        self.threads = threads
        self.input = input
        self.engineSampleRate = engineSampleRate
        self.shortestUsefulChunkSeconds = shortestUsefulChunkSeconds
        self.snapNote = snapNote
        self.wholePass = wholePass
        self.limits = limits
        self.configurations = configurations
        self.recommendation = recommendation
    }

    // MARK: text

    public static func megabytes(_ bytes: Int) -> String {
        bytes >= 10_000_000_000 ? String(format: "%.1f GB", Double(bytes) / 1e9) : String(format: "%.0f MB", Double(bytes) / 1e6)
    }

    public static func seconds(_ value: Double) -> String {
        value.rounded() == value ? String(format: "%.0f", value) : String(format: "%.2f", value)
    }

    /// The table a person reads, with the recommendation under it.
    public func table() -> String {
        var lines: [String] = []
        let source = input.source == "synthetic" ? "synthetic test mixture" : input.source
        lines.append(String(format: "engine %@%@, %d thread%@; input: %@, %.1f s, %d Hz, %d ch", engine,
                            query.map { " \"\($0)\"" } ?? "", threads, threads == 1 ? "" : "s", source,
                            input.seconds, input.sampleRate, input.channels))
        if let snapNote { lines.append(snapNote) }
        let header = ["chunk s", "overlap s", "x realtime", "peak RSS", "latency s", "SNR vs 1 pass", "pareto", "limits"]
        var rows: [[String]] = []
        for (index, configuration) in configurations.enumerated() {
            var chunk = Self.seconds(configuration.chunkSeconds)
            if configuration.snapped { chunk += "*" }
            rows.append([
                chunk,
                Self.seconds(configuration.overlapSeconds),
                String(format: "%.2f", configuration.realtimeFactor),
                Self.megabytes(configuration.peakRSSBytes),
                String(format: "%.2f", configuration.latencySeconds),
                configuration.boundarySNR.map { String(format: "%.1f dB", $0) } ?? "whole",
                configuration.pareto ? "front" : "",
                (configuration.meetsLimits ? "ok" : "no")
                    + (configuration.belowShortestUseful ? ", too short"
                        : TuneAnalysis.isJudged(chunkSeconds: configuration.requestedChunkSeconds, sampleSeconds: input.seconds) ? "" : ", too long")
                    + (recommendation.index == index ? "  <- recommended" : ""),
            ])
        }
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func render(_ cells: [String]) -> String {
            cells.indices.map { column in
                let cell = cells[column]
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == cells.count - 1 ? cell : (column >= 6 ? cell + pad : pad + cell)
            }.joined(separator: "  ")
        }
        lines.append(render(header))
        lines.append(contentsOf: rows.map(render))
        lines.append(String(format: "whole input in one pass (the SNR reference): %.2fx real time, %@ peak",
                            wholePass.realtimeFactor, Self.megabytes(wholePass.peakRSSBytes)))
        if let note = shortChunkNote { lines.append(note) }
        if let note = longChunkNote { lines.append(note) }
        if let index = recommendation.index, let budget = configurations[index].latencyBudgetSeconds {
            lines.append("recommended: --latency \(Self.seconds(budget))  (chunk \(Self.seconds(configurations[index].chunkSeconds)) s, "
                         + "overlap \(Self.seconds(configurations[index].overlapSeconds)) s; \(recommendation.reason))")
        } else if let chunk = recommendation.chunkSeconds, let overlap = recommendation.overlapSeconds {
            lines.append("recommended: --chunk \(Self.seconds(chunk)) --overlap \(Self.seconds(overlap))  (\(recommendation.reason))")
        } else {
            lines.append("recommended: none — \(recommendation.reason)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Says which chunks were left out for being shorter than the engine can use, when any were.
    public var shortChunkNote: String? {
        guard configurations.contains(where: \.belowShortestUseful) else { return nil }
        return String(format: "chunks shorter than the %@ engine's shortest useful chunk (%g s) are measured but not "
                      + "recommended: it separates worse in a shorter window", engine, shortestUsefulChunkSeconds)
    }

    /// Says which chunks were left out for being too long to judge, when any were.
    public var longChunkNote: String? {
        guard configurations.contains(where: { !TuneAnalysis.isJudged(chunkSeconds: $0.requestedChunkSeconds,
                                                                      sampleSeconds: input.seconds) }) else { return nil }
        return String(format: "chunks longer than a third of the %.3g s sample (%.3g s) are measured but not recommended: "
                      + "they have too few window boundaries to judge", input.seconds,
                      TuneAnalysis.longestJudgedChunkSeconds(sampleSeconds: input.seconds))
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}
