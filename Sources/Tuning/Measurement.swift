import Foundation

/// What one separation run measured about itself; `audiosep-stream --stats FILE` writes it
/// so that the tuner, running each configuration in its own process, can read it back.
public struct RunStats: Codable, Equatable, Sendable {
    public var engine: String
    public var engineSampleRate: Int
    /// The window geometry actually used (after snapping), in seconds.
    public var chunkSeconds: Double
    public var overlapSeconds: Double
    public var snapped: Bool
    public var inputFrames: Int
    public var inputSampleRate: Int
    public var outputFrames: Int
    /// Decode to encode, model load excluded.
    public var wallSeconds: Double
    public var loadSeconds: Double
    public var windows: Int
    public var engineSeconds: Double
    public var slowestWindowSeconds: Double
    /// The process's own high-water mark (VmHWM) when the run ended: model load and all.
    public var peakResidentBytes: Int
    /// CPU time both resamplers spent (to the engine's rate and back), on the threads beside the engine's.
    public var resampleSeconds: Double
    /// The engine's shortest useful window (`Separator.shortestUsefulChunkSeconds`).
    public var shortestUsefulChunkSeconds: Double?
    /// Stems the run wrote (one per query; nil in files from before several stems).
    public var stems: Int?
    /// The computed latency (reads, resamplers, window; `PipelineLatency`), and the measured one
    /// from a frame's read to its write: the longest and the mean.
    public var latencySeconds: Double?
    public var worstLatencySeconds: Double?
    public var meanLatencySeconds: Double?
    /// A live run (`--latency`) whose engine fell behind real time.
    public var fellBehind: Bool?

    public init(engine: String, engineSampleRate: Int, chunkSeconds: Double, overlapSeconds: Double, snapped: Bool, inputFrames: Int,
                inputSampleRate: Int, outputFrames: Int, wallSeconds: Double, loadSeconds: Double, windows: Int,
                engineSeconds: Double, slowestWindowSeconds: Double, peakResidentBytes: Int, resampleSeconds: Double = 0,
                shortestUsefulChunkSeconds: Double? = nil, stems: Int? = nil, latency: Double? = nil, worstLatency: Double? = nil,
                meanLatency: Double? = nil, fellBehind: Bool? = nil) {
        self.stems = stems
        self.latencySeconds = latency
        self.worstLatencySeconds = worstLatency
        self.meanLatencySeconds = meanLatency
        self.fellBehind = fellBehind
        self.engine = engine
        self.engineSampleRate = engineSampleRate
        self.chunkSeconds = chunkSeconds
        self.overlapSeconds = overlapSeconds
        self.snapped = snapped
        self.inputFrames = inputFrames
        self.inputSampleRate = inputSampleRate
        self.outputFrames = outputFrames
        self.wallSeconds = wallSeconds
        self.loadSeconds = loadSeconds
        self.windows = windows
        self.engineSeconds = engineSeconds
        self.slowestWindowSeconds = slowestWindowSeconds
        self.peakResidentBytes = peakResidentBytes
        self.resampleSeconds = resampleSeconds
        self.shortestUsefulChunkSeconds = shortestUsefulChunkSeconds
    }

    public var inputSeconds: Double { Double(inputFrames) / Double(max(1, inputSampleRate)) }

    enum CodingKeys: String, CodingKey {
        case engine, snapped, windows
        case engineSampleRate = "engine_sample_rate"
        case chunkSeconds = "chunk_seconds", overlapSeconds = "overlap_seconds"
        case inputFrames = "input_frames", inputSampleRate = "input_sample_rate", outputFrames = "output_frames"
        case wallSeconds = "wall_seconds", loadSeconds = "load_seconds", engineSeconds = "engine_seconds"
        case slowestWindowSeconds = "slowest_window_seconds", peakResidentBytes = "peak_rss_bytes"
        case resampleSeconds = "resample_seconds"
        case shortestUsefulChunkSeconds = "shortest_useful_chunk_seconds"
        case latencySeconds = "latency_seconds", worstLatencySeconds = "worst_latency_seconds"
        case meanLatencySeconds = "mean_latency_seconds", fellBehind = "fell_behind"
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    public static func read(from path: String) throws -> RunStats {
        try JSONDecoder().decode(RunStats.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// One configuration's figures, as the tuner reports them.
public struct TunedConfiguration: Codable, Equatable, Sendable {
    /// What was asked for, and what the engine ran (snapped to a length it wastes nothing on).
    public var requestedChunkSeconds: Double
    public var chunkSeconds: Double
    public var overlapSeconds: Double
    public var snapped: Bool
    /// Input seconds per second of processing (model load excluded).
    public var realtimeFactor: Double
    /// The child process's high-water mark of resident memory (its VmHWM at the end of the run).
    public var peakRSSBytes: Int
    /// Chunk length plus the slowest full window's processing time: how far behind the input
    /// a live stream's output runs.
    public var latencySeconds: Double
    /// SNR of this run's output against one pass over the whole input, in dB; nil when the
    /// chunk covers the whole input (the run is that pass: identical by construction).
    public var boundarySNR: Double?
    public var loadSeconds: Double
    public var windows: Int
    /// True when no other usable configuration is at least as good on speed, memory, latency
    /// and SNR against the one pass, and strictly better on one (see `TuneAnalysis.dominates`).
    public var pareto = false
    public var meetsLimits = true
    /// False when the chunk is too long a share of the sample for its boundaries to be judged
    /// (see `TuneAnalysis.maxChunkShareOfSample`): measured and shown, never recommended.
    /// Also false when the chunk is shorter than the engine's shortest useful window.
    public var recommendable = true
    /// True when the chunk is shorter than the engine's shortest useful window
    /// (`Separator.shortestUsefulChunkSeconds`): measured and shown, never recommended.
    public var belowShortestUseful = false
    /// The `--latency` budget this configuration was run with (`tune --latency`); its windows are
    /// the ones the filter chose for it, and `latencySeconds` is the budget's computed worst case
    /// (reads, resamplers, window and one hop for the engine).
    public var latencyBudgetSeconds: Double?

    public init(requestedChunkSeconds: Double, chunkSeconds: Double, overlapSeconds: Double, snapped: Bool,
                realtimeFactor: Double, peakRSSBytes: Int, latencySeconds: Double, boundarySNR: Double?,
                loadSeconds: Double, windows: Int) {
        self.requestedChunkSeconds = requestedChunkSeconds
        self.chunkSeconds = chunkSeconds
        self.overlapSeconds = overlapSeconds
        self.snapped = snapped
        self.realtimeFactor = realtimeFactor
        self.peakRSSBytes = peakRSSBytes
        self.latencySeconds = latencySeconds
        self.boundarySNR = boundarySNR
        self.loadSeconds = loadSeconds
        self.windows = windows
    }

    enum CodingKeys: String, CodingKey {
        case snapped, windows, pareto
        case requestedChunkSeconds = "requested_chunk_seconds", chunkSeconds = "chunk_seconds"
        case overlapSeconds = "overlap_seconds", realtimeFactor = "realtime_factor", peakRSSBytes = "peak_rss_bytes"
        case latencySeconds = "latency_seconds", boundarySNR = "boundary_snr_db", loadSeconds = "load_seconds"
        case meetsLimits = "meets_limits", recommendable
        case belowShortestUseful = "below_shortest_useful"
        case latencyBudgetSeconds = "latency_budget_seconds"
    }

    // Encode nil SNR as an explicit null, so every object has every key.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requestedChunkSeconds, forKey: .requestedChunkSeconds)
        try container.encode(chunkSeconds, forKey: .chunkSeconds)
        try container.encode(overlapSeconds, forKey: .overlapSeconds)
        try container.encode(snapped, forKey: .snapped)
        try container.encode(realtimeFactor, forKey: .realtimeFactor)
        try container.encode(peakRSSBytes, forKey: .peakRSSBytes)
        try container.encode(latencySeconds, forKey: .latencySeconds)
        if let boundarySNR { try container.encode(boundarySNR, forKey: .boundarySNR) } else { try container.encodeNil(forKey: .boundarySNR) }
        try container.encode(loadSeconds, forKey: .loadSeconds)
        try container.encode(windows, forKey: .windows)
        try container.encode(pareto, forKey: .pareto)
        try container.encode(meetsLimits, forKey: .meetsLimits)
        try container.encode(recommendable, forKey: .recommendable)
        try container.encode(belowShortestUseful, forKey: .belowShortestUseful)
        try container.encodeIfPresent(latencyBudgetSeconds, forKey: .latencyBudgetSeconds)
    }

    /// A short name for messages: "chunk 4 s, overlap 0.4 s".
    public var label: String {
        String(format: "chunk %g s, overlap %g s", chunkSeconds, overlapSeconds)
    }
}
