import Foundation
import Overlap
import Separation
import Synchronization

/// Settings of one streaming run. Times are in seconds, rates in hz.
public struct PipelineConfiguration: Sendable {
    /// Length of each analysis window.
    public var chunkSeconds: Double = 10
    /// Length of the cross-faded overlap between consecutive windows.
    public var overlapSeconds: Double = 1
    public var fade: FadeShape = .raisedCosine
    public var resampleQuality: ResampleQuality = .standard
    /// Separate the mono mix once and write it to every output channel (with `.rest`, each
    /// channel minus the separated mix).
    public var downmix = false
    /// What each stem's output holds: the separated source, or the rest of the input (`--remove`).
    public var output: PipelineOutput = .separated
    /// Frames read from the input at a time.
    public var blockFrames = 4096
    /// Windows waiting between two threads; bounds memory at a few chunks.
    public var queueCapacity = 2
    /// Seconds between two progress reports.
    public var progressInterval: Double = 0.5
    /// Ends the input where reading got to when requested (the run's `RunControl` passes its own).
    public var cancellation = Cancellation()
    /// A live run (`--latency`): the engine separates a window of silence while the first window
    /// fills (so the first real one is not slowed by memory being made), and its time per window
    /// is watched against the hop.
    public var live = false
    /// Hears, once, that the engine takes longer per window than the hop: it is not keeping up
    /// with real time (live runs only; called on the engine's thread).
    public var onFallingBehind: (@Sendable (FallingBehind) -> Void)?

    public init() {}
}

/// What a run writes.
public enum PipelineOutput: String, Sendable {
    /// The part of the input the engine returns.
    case separated
    /// The input minus the separated part, computed at the input's own rate: the separated part
    /// is brought back to that rate and subtracted from the input itself, so that the two sum to
    /// the input at every rate, above the engine's band too.
    case rest
}

/// One of a run's outputs: what it holds, and the encoder it goes to.
public struct PipelineSink {
    public enum Content: Equatable, Sendable {
        /// The engine's stem for its query at this index (or, with `--remove` or a query that asks
        /// for the rest, the input minus that stem).
        case stem(Int)
        /// The input minus the sum of every stem as written: at the input's rate, the stems and
        /// the rest add up to the input.
        case rest
    }

    public let content: Content
    public let sink: AudioSink

    public init(_ content: Content, _ sink: AudioSink) {
        self.content = content
        self.sink = sink
    }
}

/// The window geometry a run uses, in frames at the engine's rate.
public struct ChunkPlan: Sendable, Equatable {
    public let layout: WindowLayout
    public let engineRate: Int
    /// True when the engine moved the requested chunk length to one it wastes nothing on, or
    /// the overlap to one that keeps its windows on the grid of one pass.
    public let snapped: Bool
    public var chunkSeconds: Double { Double(layout.chunkFrames) / Double(engineRate) }
    public var overlapSeconds: Double { Double(layout.overlapFrames) / Double(engineRate) }
    /// The most frames a window may have: a channel of it is one array of at most 8 GB, and frame
    /// counts times channels and bytes stay far from overflowing.
    public static let longestWindowFrames = Int(Int32.max)

    public init(configuration: PipelineConfiguration, engine: Separator) throws {
        guard configuration.chunkSeconds.isFinite, configuration.chunkSeconds > 0 else {
            throw StreamError.invalidValue(name: "chunk length", value: "\(configuration.chunkSeconds) s")
        }
        guard configuration.overlapSeconds.isFinite, configuration.overlapSeconds >= 0 else {
            throw StreamError.invalidValue(name: "overlap", value: "\(configuration.overlapSeconds) s")
        }
        // Said in the user's seconds: the frames below are at the engine's rate, which they never named.
        guard configuration.overlapSeconds <= configuration.chunkSeconds / 2 else {
            throw StreamError.overlapTooLong(overlapSeconds: configuration.overlapSeconds, chunkSeconds: configuration.chunkSeconds)
        }
        // Frame counts are integers from here on: a window too long for them is refused, not trapped on.
        guard configuration.chunkSeconds * Double(engine.sampleRate) <= Double(Self.longestWindowFrames) else {
            throw StreamError.windowTooLong(seconds: configuration.chunkSeconds, engineHz: engine.sampleRate)
        }
        let requested = max(1, Int((configuration.chunkSeconds * Double(engine.sampleRate)).rounded()))
        let chunk = engine.preferredChunkFrames(near: requested) ?? requested
        let requestedOverlap = Int((configuration.overlapSeconds * Double(engine.sampleRate)).rounded())
        // An overlap longer than half the chunk is the user's error to hear about, not to snap.
        let overlap = requestedOverlap <= chunk / 2
            ? engine.preferredOverlapFrames(near: requestedOverlap, chunkFrames: chunk) ?? requestedOverlap
            : requestedOverlap
        guard overlap <= chunk / 2 else {
            throw StreamError.overlapTooLong(overlapSeconds: configuration.overlapSeconds,
                                             chunkSeconds: Double(chunk) / Double(engine.sampleRate))
        }
        try engine.checkWindow(frames: chunk)
        layout = try WindowLayout(chunkFrames: chunk, overlapFrames: overlap)
        engineRate = engine.sampleRate
        snapped = chunk != requested || overlap != requestedOverlap
    }
}

/// Progress of a run, as handed to the progress callback.
public struct ProgressReport: Sendable {
    /// Audio written so far, in seconds of output.
    public var secondsDone: Double
    /// Audio seconds processed per wall-clock second.
    public var realtimeFactor: Double
    public var residentBytes: Int
    /// Input length in seconds, when the input is a file whose length is known.
    public var totalSeconds: Double?
    public var etaSeconds: Double? {
        guard let total = totalSeconds, realtimeFactor > 0 else { return nil }
        return max(0, total - secondsDone) / realtimeFactor
    }
}

/// An engine slower than real time at a live run's windows: each hop of audio took longer to separate.
public struct FallingBehind: Sendable, Equatable {
    /// Audio each window adds.
    public let hopSeconds: Double
    /// The engine's mean time per window over the windows measured.
    public let windowSeconds: Double
    public let windows: Int
    public var realtimeFactor: Double { hopSeconds / max(windowSeconds, 1e-9) }
}

/// What a finished run counted.
public struct PipelineSummary: Sendable {
    public var inputFrames = 0
    public var outputFrames = 0
    /// NaN and ±Inf input samples, replaced by 0 before anything else saw them.
    public var nonFiniteSamples = 0
    /// NaN and ±Inf samples the engine returned (weights or input it could not compute with),
    /// replaced by 0 before the cross-fade.
    public var nonFiniteEngineSamples = 0
    public var clampedSamples = 0
    public var droppedTrailingBytes = 0
    public var wallSeconds = 0.0
    public var peakResidentBytes = 0
    /// Windows the engine separated, and the time it spent on them.
    public var windows = 0
    public var engineSeconds = 0.0
    /// The longest the engine took over one full-length window (over any window when none
    /// was full-length): with the chunk length, the latency a live stream sees.
    public var slowestWindowSeconds = 0.0
    /// CPU time the two resamplers spent (to the engine's rate on the reader's thread, back on
    /// the writer's): zero when the rates are equal.
    public var resampleSeconds = 0.0
    /// From a frame's read to its write, the longest and the mean over every write (seconds); for
    /// a file read faster than the engine runs, this includes the time frames waited in the queues.
    public var worstLatencySeconds = 0.0
    public var meanLatencySeconds = 0.0
    /// Set when a live run's engine fell behind real time.
    public var fellBehind: FallingBehind?
}

/// stdin → decode → resample to the engine's rate → chunk → separate → cross-fade →
/// resample to the output rate → encode → stdout, on three threads joined by bounded queues.
///
/// The reader thread decodes, resamples and cuts windows; the engine thread separates them;
/// the calling thread cross-fades, resamples and writes. Memory is a few chunks, whatever
/// the input's length. Output is sample-aligned with the input and exactly
/// round(inputFrames · outputRate / inputRate) frames long.
public final class Pipeline {
    public let source: AudioSource
    public let engine: Separator
    /// Every output, each with its encoder.
    public let sinks: [PipelineSink]
    /// The first output's encoder (the only one of a one-query run).
    public var sink: AudioSink { sinks[0].sink }
    public let outputRate: Int
    public let configuration: PipelineConfiguration
    public let plan: ChunkPlan

    private enum Message {
        case window(Window, inputFrames: Int)
        /// One window per stem, after the engine.
        case stems([Window], inputFrames: Int)
        case end(inputFrames: Int)
        case failed(Error, inputFrames: Int)
    }

    /// The frames a run writes for `inputFrames` frames of input: round(inputFrames · outputRate /
    /// inputRate), whatever happens in between, so a header can say it before the audio is made.
    public static func outputFrames(inputFrames: Int, inputRate: Int, outputRate: Int) -> Int {
        let (product, overflow) = inputFrames.multipliedReportingOverflow(by: outputRate)
        if overflow { return Int((Double(inputFrames) * Double(outputRate) / Double(inputRate)).rounded()) }
        return (product + inputRate / 2) / inputRate
    }

    /// Refuses an input or output rate the resampler cannot reach from the engine's rate, before
    /// anything is read or written (libsamplerate converts at most 256 times up or down).
    public static func checkRates(inputHz: Int?, outputHz: Int?, engine: Separator) throws {
        let engineHz = engine.sampleRate
        func reachable(_ hz: Int) -> Bool {
            hz == engineHz || (Double(hz) >= Double(engineHz) / 256 && Double(hz) <= Double(engineHz) * 256)
        }
        if let inputHz {
            guard inputHz > 0 else { throw StreamError.invalidRate(hz: inputHz) }
            guard reachable(inputHz) else { throw StreamError.rateOutOfReach(what: "input sample rate", hz: inputHz, engineHz: engineHz) }
        }
        if let outputHz {
            guard outputHz > 0 else { throw StreamError.invalidRate(hz: outputHz) }
            guard reachable(outputHz) else { throw StreamError.rateOutOfReach(what: "output sample rate", hz: outputHz, engineHz: engineHz) }
        }
    }

    /// A run of a one-query engine into one output.
    public convenience init(source: AudioSource, engine: Separator, sink: AudioSink, outputRate: Int,
                            configuration: PipelineConfiguration) throws {
        try self.init(source: source, engine: engine, sinks: [PipelineSink(.stem(0), sink)], outputRate: outputRate,
                      configuration: configuration)
    }

    /// - Parameter sinks: at least one; a stem index must be one the engine makes.
    public init(source: AudioSource, engine: Separator, sinks: [PipelineSink], outputRate: Int,
                configuration: PipelineConfiguration) throws {
        guard outputRate > 0 else { throw StreamError.invalidRate(hz: outputRate) }
        precondition(!sinks.isEmpty, "a run writes at least one output")
        for case .stem(let index) in sinks.map(\.content) {
            precondition(index >= 0 && index < engine.stemCount, "stem \(index) of an engine of \(engine.stemCount)")
        }
        // An engine that works at any rate works at the input's: nothing is resampled for it.
        let engine = (engine as? RateAdaptable)?.adapted(toRate: source.description.sampleRate) ?? engine
        try Self.checkRates(inputHz: source.description.sampleRate, outputHz: outputRate, engine: engine)
        self.source = source
        self.engine = engine
        self.sinks = sinks
        self.outputRate = outputRate
        self.configuration = configuration
        let plan = try ChunkPlan(configuration: configuration, engine: engine)
        self.plan = plan
        // A window is never longer than the input when its length is known.
        let input = source.description
        if let known = input.knownFrames {
            let atEngineRate = Double(known) * Double(plan.engineRate) / Double(input.sampleRate) + 2
            windowFrames = atEngineRate < Double(plan.layout.chunkFrames) ? Int(atEngineRate) : plan.layout.chunkFrames
        } else {
            windowFrames = plan.layout.chunkFrames
        }
        try memory.check()
    }

    /// Frames of the longest window this run forms.
    private let windowFrames: Int

    /// This run's computed latency (`PipelineLatency`): reads, resamplers and window.
    public func latency() throws -> PipelineLatency {
        try PipelineLatency.of(layout: plan.layout, engineRate: plan.engineRate, inputRate: source.description.sampleRate,
                               outputRate: outputRate, blockFrames: configuration.blockFrames,
                               quality: configuration.resampleQuality, keepsInput: keepsInput)
    }

    /// What the run's windows cost, checked against the memory the process can have before the run.
    public var memory: RunMemory {
        RunMemory(channels: workingChannels, inputChannels: source.description.channelCount, windowFrames: windowFrames,
                  engineRate: plan.engineRate, queueCapacity: configuration.queueCapacity,
                  blockFrames: configuration.blockFrames, keepsInput: keepsInput, resampleQuality: configuration.resampleQuality,
                  stems: engine.stemCount)
    }

    /// Whether a stem's output is the input minus that stem: asked for by `--remove`, or by a
    /// query that asks for everything but what the engine separates (and `--remove` on such a
    /// query gives that part).
    public func invertsStem(_ index: Int) -> Bool { (configuration.output == .rest) != engine.stemsAskForRest[index] }

    /// Whether any output subtracts from the input, which the reader then keeps until the
    /// separation of each frame is back.
    public var keepsInput: Bool {
        Self.keepsInput(sinks.map(\.content), removes: configuration.output == .rest, stemsAskForRest: engine.stemsAskForRest)
    }

    /// Whether outputs holding `contents` subtract from the input: the rest, or a stem that
    /// `--remove` (`removes`) or its own query (`stemsAskForRest`) inverts.
    public static func keepsInput(_ contents: [PipelineSink.Content], removes: Bool, stemsAskForRest: [Bool]) -> Bool {
        contents.contains { content in
            switch content {
            case .rest: return true
            case .stem(let index): return removes != stemsAskForRest[index]
            }
        }
    }

    /// The channels the engine sees: one when downmixing, else the input's.
    private var workingChannels: Int { configuration.downmix ? 1 : source.description.channelCount }

    /// Runs to the end of the input. A read error mid-stream still ends the output
    /// validly with everything that arrived before it, then is rethrown.
    public func run(progress: ((ProgressReport) -> Void)? = nil) throws -> PipelineSummary {
        let started = Date()
        pendingFailure = nil
        readerNonFinite = 0
        readerResampleSeconds = 0
        engineTiming = EngineTiming()
        fellBehind = nil
        arrivals.withLock { $0 = [] }
        let windows = BoundedQueue<Message>(capacity: configuration.queueCapacity)
        let separated = BoundedQueue<Message>(capacity: configuration.queueCapacity)
        let history = keepsInput ? InputHistory(channelCount: source.description.channelCount) : nil
        let finished = DispatchGroup()

        readerState.withLock { $0 = .starting }
        let reader = Thread { [self] in
            readerState.withLock { $0 = .running(pthread_self()) }
            readerNonFinite = readLoop(into: windows, keeping: history)
            readerState.withLock { $0 = .finished }
            finished.leave()
        }
        let separator = Thread { [self] in
            separateLoop(from: windows, into: separated)
            finished.leave()
        }
        for thread in [reader, separator] {
            thread.stackSize = 8 << 20
            finished.enter()
            thread.start()
        }

        var summary = PipelineSummary()
        do {
            summary = try writeLoop(from: separated, history: history, started: started, progress: progress)
        } catch {
            // Stop the other threads; a reader blocked on input is left to process exit.
            windows.close()
            separated.close()
            throw error
        }
        finished.wait()
        summary.nonFiniteSamples = readerNonFinite
        summary.nonFiniteEngineSamples = engineTiming.nonFinite
        summary.windows = engineTiming.windows
        summary.engineSeconds = engineTiming.seconds
        summary.slowestWindowSeconds = engineTiming.slowestFull ?? engineTiming.slowest
        summary.fellBehind = fellBehind
        summary.resampleSeconds += readerResampleSeconds
        summary.droppedTrailingBytes = source.droppedTrailingBytes
        summary.wallSeconds = Date().timeIntervalSince(started)
        summary.peakResidentBytes = ProcessMemory.peakResidentBytes
        if let failure = pendingFailure { throw failure }
        return summary
    }

    private var pendingFailure: Error?
    /// The reader's resampling time, set by its thread before it leaves `finished`.
    private var readerResampleSeconds = 0.0
    /// The reader thread while it runs, so a stop request can interrupt a read it is blocked in.
    private let readerState = Mutex<ReaderState>(.idle)

    private enum ReaderState {
        case idle, starting, running(pthread_t), finished
    }

    /// Interrupts a read the reader thread is blocked in (call after the run's cancellation was
    /// requested, with `InputInterruption.installWakeHandler()` in place). Returns false once the reader
    /// has finished. A signal can land just before the read starts, so callers repeat it until
    /// it returns false.
    @discardableResult
    public func interruptReader() -> Bool {
        readerState.withLock { state in
            switch state {
            case .idle, .finished: return false
            case .starting: return true
            case .running(let thread):
                pthread_kill(thread, InputInterruption.wakeSignal)
                return true
            }
        }
    }
    /// Written by the reader thread, read after it has been joined.
    private var readerNonFinite = 0
    /// When each block arrived: the input frames read by then, and the time. The reader appends,
    /// the writer looks up and drops what it has written.
    private let arrivals = Mutex<[(frames: Int, nanoseconds: UInt64)]>([])
    /// Set by the engine thread once it has fallen behind (read after it has been joined).
    private var fellBehind: FallingBehind?
    /// Written by the engine thread, read after it has been joined.
    private var engineTiming = EngineTiming()

    private struct EngineTiming {
        var windows = 0
        var seconds = 0.0
        var slowest = 0.0
        var slowestFull: Double?
        var nonFinite = 0

        mutating func record(_ seconds: Double, fullLength: Bool) {
            windows += 1
            self.seconds += seconds
            slowest = max(slowest, seconds)
            if fullLength { slowestFull = max(slowestFull ?? 0, seconds) }
        }
    }

    // MARK: reader thread

    private func readLoop(into windows: BoundedQueue<Message>, keeping history: InputHistory?) -> Int {
        let channels = workingChannels
        var nonFinite = 0
        var inputFrames = 0
        do {
            let resampler = try Resampler(from: source.description.sampleRate, to: plan.engineRate,
                                          channelCount: channels, quality: configuration.resampleQuality)
            defer { readerResampleSeconds = resampler.seconds }
            var chunker = Chunker(layout: plan.layout, channelCount: channels, reservingFrames: windowFrames)
            func send(_ ready: [Window]) -> Bool {
                for window in ready where !windows.put(.window(window, inputFrames: inputFrames)) { return false }
                return true
            }
            var readError: Error?
            while !configuration.cancellation.isRequested {
                var block: [[Float]]
                do {
                    block = try source.read(maxFrames: configuration.blockFrames)
                } catch StreamError.emptyInput where inputFrames > 0 {
                    break
                } catch {
                    if inputFrames == 0 { throw error }
                    readError = error
                    break
                }
                guard let frames = block.first?.count, frames > 0 else { break }
                arrivals.withLock { $0.append((inputFrames + frames, DispatchTime.now().uptimeNanoseconds)) }
                nonFinite += Self.zeroNonFinite(&block)
                // Kept before the window that holds it is sent, so the writer always finds it.
                history?.append(block)
                if configuration.downmix { block = [Self.mix(block)] }
                inputFrames += frames
                guard send(try chunker.push(try resampler.process(block))) else { return nonFinite }
            }
            guard send(try chunker.push(try resampler.process(Array(repeating: [], count: channels), endOfInput: true))),
                  send(chunker.finish()) else { return nonFinite }
            if let readError {
                windows.put(.failed(readError, inputFrames: inputFrames))
            } else {
                windows.put(.end(inputFrames: inputFrames))
            }
        } catch {
            windows.put(.failed(error, inputFrames: inputFrames))
        }
        return nonFinite
    }

    /// Read errors after audio arrived end the output validly with what arrived, then are reported.
    static func keepsOutput(_ error: Error) -> Bool {
        switch error as? StreamError {
        case .readFailed?, .truncated?: return true
        default: return false
        }
    }

    /// Replaces NaN and ±Inf by 0 so they never reach the engine; returns how many there were.
    static func zeroNonFinite(_ planar: inout [[Float]]) -> Int {
        var count = 0
        for channel in planar.indices {
            planar[channel].withUnsafeMutableBufferPointer { samples in
                for index in samples.indices where !samples[index].isFinite {
                    samples[index] = 0
                    count += 1
                }
            }
        }
        return count
    }

    static func mix(_ planar: [[Float]]) -> [Float] {
        guard planar.count > 1 else { return planar.first ?? [] }
        var mono = planar[0]
        for channel in 1..<planar.count {
            for index in mono.indices { mono[index] += planar[channel][index] }
        }
        let scale = 1 / Float(planar.count)
        for index in mono.indices { mono[index] *= scale }
        return mono
    }

    // MARK: engine thread

    private func separateLoop(from windows: BoundedQueue<Message>, into separated: BoundedQueue<Message>) {
        if configuration.live {
            // While the first window fills: the engine's memory made and touched, its caches warm.
            let silence = [Float](repeating: 0, count: plan.layout.chunkFrames)
            _ = try? engine.separate(channels: Array(repeating: silence, count: workingChannels))
        }
        let hopSeconds = Double(plan.layout.hopFrames) / Double(plan.engineRate)
        var recent: [Double] = []
        while let message = windows.take() {
            guard case .window(var window, let inputFrames) = message else {
                separated.put(message)
                return
            }
            do {
                let windowStarted = DispatchTime.now().uptimeNanoseconds
                let stems = try engine.separate(channels: window.channels)
                guard stems.count == engine.stemCount else {
                    throw EngineError.wrongStemCount(engine: engine.name, got: stems.count, expected: engine.stemCount)
                }
                var windows: [Window] = []
                for var channels in stems {
                    guard channels.count == window.channels.count else {
                        throw EngineError.wrongChannelCount(engine: engine.name, got: channels.count, expected: window.channels.count)
                    }
                    for (channel, output) in channels.enumerated() where output.count != window.channels[channel].count {
                        throw EngineError.wrongOutputLength(engine: engine.name, got: output.count, expected: window.channels[channel].count)
                    }
                    engineTiming.nonFinite += Self.zeroNonFinite(&channels)
                    windows.append(Window(index: window.index, startFrame: window.startFrame, channels: channels))
                }
                window.channels = []
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - windowStarted) / 1e9
                let fullLength = window.frames == plan.layout.chunkFrames || windows[0].frames == plan.layout.chunkFrames
                engineTiming.record(seconds, fullLength: fullLength)
                if configuration.live, fellBehind == nil, fullLength {
                    // The mean of the last few full windows, once there are two: slower than the hop
                    // is slower than real time.
                    recent = Array((recent + [seconds]).suffix(8))
                    let mean = recent.reduce(0, +) / Double(recent.count)
                    if recent.count >= 2, mean > hopSeconds {
                        let behind = FallingBehind(hopSeconds: hopSeconds, windowSeconds: mean, windows: recent.count)
                        fellBehind = behind
                        configuration.onFallingBehind?(behind)
                    }
                }
                guard separated.put(.stems(windows, inputFrames: inputFrames)) else { return }
            } catch {
                windows.close()
                separated.put(.failed(error, inputFrames: inputFrames))
                return
            }
        }
    }

    // MARK: writer (calling thread)

    /// Resamples blocks to one rate and keeps them aligned with the input: never more frames than
    /// the input so far accounts for at that rate, and at the end exactly that many (the
    /// resampler's last fraction of a frame padded with silence).
    private struct RateStage {
        let resampler: Resampler
        let inputRate: Int
        private(set) var produced = 0

        init(from: Int, to: Int, inputRate: Int, channelCount: Int, quality: ResampleQuality) throws {
            resampler = try Resampler(from: from, to: to, channelCount: channelCount, quality: quality)
            self.inputRate = inputRate
        }

        mutating func process(_ planar: [[Float]], inputFrames: Int, end: Bool = false) throws -> [[Float]] {
            var block = try resampler.process(planar, endOfInput: end)
            let allowed = max(0, Pipeline.outputFrames(inputFrames: inputFrames, inputRate: inputRate,
                                                       outputRate: resampler.outputRate) - produced)
            let frames = block.first?.count ?? 0
            if frames > allowed { block = block.map { Array($0[0..<allowed]) } }
            if end, frames < allowed {
                block = block.map { $0 + [Float](repeating: 0, count: allowed - frames) }
            }
            produced += block.first?.count ?? 0
            return block
        }
    }

    /// Turns the cross-faded stems (at the engine's rate) into what each output holds: a stem at
    /// the output rate; or, for an output that subtracts, the stems back at the input's rate, the
    /// input minus them there, then that at the output rate.
    private struct Finisher {
        let contents: [PipelineSink.Content]
        /// Per stem: whether its output is the input minus it.
        let inverts: [Bool]
        /// Per stem: straight to the output rate, when an output holds the stem as separated.
        var direct: [RateStage?]
        /// Per stem: back to the input's rate, when anything subtracts it.
        var atInput: [RateStage?]
        /// Per output that subtracts: from the input's rate to the output rate.
        var toOutput: [RateStage?]
        let history: InputHistory?

        init(contents: [PipelineSink.Content], inverts: [Bool], history: InputHistory?, engineRate: Int, inputRate: Int,
             outputRate: Int, workingChannels: Int, inputChannels: Int, quality: ResampleQuality) throws {
            self.contents = contents
            self.inverts = inverts
            self.history = history
            let hasRest = contents.contains(.rest)
            direct = try inverts.indices.map { stem in
                contents.contains(.stem(stem)) && !inverts[stem]
                    ? try RateStage(from: engineRate, to: outputRate, inputRate: inputRate, channelCount: workingChannels,
                                    quality: quality) : nil
            }
            atInput = try inverts.indices.map { stem in
                hasRest || (contents.contains(.stem(stem)) && inverts[stem])
                    ? try RateStage(from: engineRate, to: inputRate, inputRate: inputRate, channelCount: workingChannels,
                                    quality: quality) : nil
            }
            toOutput = try contents.map { content in
                let subtracts = switch content {
                case .rest: true
                case .stem(let stem): inverts[stem]
                }
                return subtracts ? try RateStage(from: inputRate, to: outputRate, inputRate: inputRate,
                                                 channelCount: inputChannels, quality: quality) : nil
            }
        }

        /// One block of every output, in the order of `contents`.
        mutating func process(_ stems: [[[Float]]], inputFrames: Int, end: Bool = false) throws -> [[[Float]]] {
            var atOutput: [[[Float]]?] = []
            var atInputRate: [[[Float]]?] = []
            for stem in stems.indices {
                atOutput.append(try direct[stem]?.process(stems[stem], inputFrames: inputFrames, end: end))
                atInputRate.append(try atInput[stem]?.process(stems[stem], inputFrames: inputFrames, end: end))
            }
            // Each stem back at the input's rate as its output holds it, and the input they come from.
            var mixture: [[Float]] = []
            var written: [[[Float]]?] = atInputRate
            if let history, let frames = atInputRate.compactMap({ $0 }).first?.first?.count {
                mixture = history.take(frames)
                for stem in stems.indices {
                    guard let separated = atInputRate[stem] else { continue }
                    precondition(separated.first?.count == frames, "the stems came back at the input's rate in different lengths")
                    if inverts[stem] { written[stem] = Self.subtract(separated, from: mixture) }
                }
            }
            return try contents.indices.map { output in
                switch contents[output] {
                case .stem(let stem):
                    guard inverts[stem] else { return atOutput[stem]! }
                    return try toOutput[output]!.process(written[stem]!, inputFrames: inputFrames, end: end)
                case .rest:
                    var rest = mixture
                    for case let part? in written { rest = Self.subtract(part, from: rest) }
                    return try toOutput[output]!.process(rest, inputFrames: inputFrames, end: end)
                }
            }
        }

        /// `mixture` minus `part`, channel by channel; a downmixed run's one channel is taken
        /// from every channel of the input.
        static func subtract(_ part: [[Float]], from mixture: [[Float]]) -> [[Float]] {
            var result = mixture
            for channel in result.indices {
                let source = part[part.count == 1 ? 0 : channel]
                precondition(source.count == result[channel].count, "the input history holds fewer frames than written")
                result[channel].withUnsafeMutableBufferPointer { values in
                    for index in values.indices { values[index] -= source[index] }
                }
            }
            return result
        }

        var seconds: Double {
            (direct + atInput + toOutput).reduce(0) { $0 + ($1?.resampler.seconds ?? 0) }
        }
    }

    private func writeLoop(from separated: BoundedQueue<Message>, history: InputHistory?, started: Date,
                           progress: ((ProgressReport) -> Void)?) throws -> PipelineSummary {
        let inputRate = source.description.sampleRate
        let outputChannels = source.description.channelCount
        var finisher = try Finisher(contents: sinks.map(\.content), inverts: (0..<engine.stemCount).map(invertsStem),
                                    history: history, engineRate: plan.engineRate, inputRate: inputRate, outputRate: outputRate,
                                    workingChannels: workingChannels, inputChannels: outputChannels,
                                    quality: configuration.resampleQuality)
        var faders = (0..<engine.stemCount).map { _ in
            CrossFader(layout: plan.layout, channelCount: workingChannels, shape: configuration.fade)
        }
        var written = Array(repeating: 0, count: sinks.count)
        var lastReport = Date.distantPast
        // Input frames the first output has been written for, and the read-to-write latencies.
        var writtenInput = 0
        var worstLatency = 0.0, latencySum = 0.0, latencyCount = 0
        func measureLatency() {
            let now = DispatchTime.now().uptimeNanoseconds
            let covered = Int(Double(written[0]) * Double(inputRate) / Double(outputRate))
            guard covered > writtenInput else { return }
            // The first frame of what was just written has waited longest: from the read of its block.
            let arrived = arrivals.withLock { stamps -> UInt64? in
                let first = stamps.first { $0.frames > writtenInput }?.nanoseconds
                stamps.removeAll { $0.frames <= covered }
                return first
            }
            writtenInput = covered
            guard let arrived, now >= arrived else { return }
            let seconds = Double(now - arrived) / 1e9
            worstLatency = max(worstLatency, seconds)
            latencySum += seconds
            latencyCount += 1
        }
        let totalSeconds = source.description.knownFrames.map { Double($0) / Double(inputRate) }

        func emit(_ outputs: [[[Float]]]) throws {
            for (index, planar) in outputs.enumerated() {
                var block = planar
                if block.count < outputChannels {
                    block = Array(repeating: block[0], count: outputChannels)
                }
                guard let frames = block.first?.count, frames > 0 else { continue }
                try sinks[index].sink.write(block)
                written[index] += frames
            }
            measureLatency()
            report(force: false)
        }
        var reportedFrames = -1
        func report(force: Bool) {
            // Progress is the output every sink has: the least written.
            let done = written.min() ?? 0
            guard let progress, done != reportedFrames,
                  force || Date().timeIntervalSince(lastReport) >= configuration.progressInterval else { return }
            reportedFrames = done
            lastReport = Date()
            let seconds = Double(done) / Double(outputRate)
            let elapsed = max(1e-9, lastReport.timeIntervalSince(started))
            progress(ProgressReport(secondsDone: seconds, realtimeFactor: seconds / elapsed,
                                    residentBytes: ProcessMemory.residentBytes, totalSeconds: totalSeconds))
        }
        func finishSinks() throws {
            for output in sinks { try output.sink.finish() }
        }
        func end(inputFrames: Int) throws {
            let tails = faders.indices.map { faders[$0].finish() }
            try emit(try finisher.process(tails, inputFrames: inputFrames, end: true))
            try finishSinks()
            report(force: true)
        }
        func summary(inputFrames: Int) -> PipelineSummary {
            PipelineSummary(inputFrames: inputFrames, outputFrames: written[0],
                            clampedSamples: sinks.reduce(0) { $0 + $1.sink.clampedSamples }, resampleSeconds: finisher.seconds,
                            worstLatencySeconds: worstLatency,
                            meanLatencySeconds: latencyCount > 0 ? latencySum / Double(latencyCount) : 0)
        }

        while let message = separated.take() {
            switch message {
            case .window:
                preconditionFailure("the engine thread sends stems")
            case .stems(let windows, let inputFrames):
                let faded = try faders.indices.map { try faders[$0].add(windows[$0]) }
                try emit(try finisher.process(faded, inputFrames: inputFrames))
            case .end(let inputFrames):
                try end(inputFrames: inputFrames)
                return summary(inputFrames: inputFrames)
            case .failed(let error, let inputFrames):
                if Self.keepsOutput(error) {
                    // Keep everything that arrived: end the output validly, then report.
                    try end(inputFrames: inputFrames)
                } else {
                    try finishSinks()
                }
                pendingFailure = error
                return summary(inputFrames: inputFrames)
            }
        }
        try finishSinks()
        return summary(inputFrames: 0)
    }
}
