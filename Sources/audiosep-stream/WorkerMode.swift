import ArgumentParser
import Foundation
import Run
import Stream
import Synchronization
import Worker

struct WorkerMode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Serve separations: one JSON command per stdin line, one JSON answer per stdout line (also: --worker).",
        discussion: """
            The packaged AudioSep worker's protocol (commands load_model, separate, get_status, exit); logs go \
            to stderr. See README.md, "Worker mode".
            Examples:
              J='{"cmd":"separate","input":"a.wav","output":"b.wav","text":"vocals"}'
              echo "$J" | audiosep-stream --worker
            """)

    @Option(name: .long, help: "Models kept loaded, least recently used evicted first (default: $AUDIOSEP_MAX_CACHED_MODELS, then 1).")
    var maxCachedModels: Int?
    @Option(name: .long, help: "Threads for the AudioSep network (default: all cores).")
    var threads: Int?
    @Option(name: .long, help: "\"use_chunk\": false on a longer input is chunked anyway, in seconds (a single window holds the whole input).")
    var maxPassSeconds: Double = 60
    @OptionGroup var compute: ComputeFlags
    @Option(name: .long, help: "What separate writes: packaged (the packaged AudioSep worker's WAV, 44.1 kHz 16-bit, mono made stereo; default) or input (the input's rate, channels and sample format). A command's \"output_format\" overrides it.")
    var outputFormat: String = OutputFormat.default.rawValue
    @Flag(name: .long, help: "Keep query embeddings in memory only, not in ~/.cache/audiosep-stream/embeddings.")
    var noCache = false
    @Flag(name: [.customShort("q"), .long], help: "Log nothing on stderr.")
    var quiet = false

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        AudioSepStream.boundAllocator()
        var options = WorkerOptions()
        do {
            if StandardDescriptors.outputWasClosed {
                throw StandardDescriptors.closedOutput("the answers", hint: "start the worker with its stdout on a pipe")
            }
            options.maxCachedModels = try WorkerOptions.maxCachedModels(flag: maxCachedModels,
                                                                        environment: ProcessInfo.processInfo.environment)
            if let threads {
                guard threads > 0 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
                options.threads = threads
            }
            options.compute = try compute.options()
            guard let format = OutputFormat(rawValue: outputFormat.lowercased()) else {
                throw ValidationError("--output-format must be \(OutputFormat.names.joined(separator: " or ")), got \(outputFormat)")
            }
            options.outputFormat = format
            guard maxPassSeconds > 0 else { throw ValidationError("--max-pass-seconds must be above 0, got \(maxPassSeconds)") }
        } catch {
            AudioSepStream.fail(error)
        }
        options.maxPassSeconds = maxPassSeconds
        if noCache { options.embeddingCache = nil }
        let quiet = quiet
        let log: @Sendable (String) -> Void = { message in
            if !quiet { Console.error("audiosep-stream worker: \(message)\n") }
        }
        let session = WorkerSession(options: options, log: log)
        WorkerStopSignals.install(job: session.job, log: log)
        for answer in session.greeting { send(answer.encoded) }
        let commands = CommandReader(descriptor: STDIN_FILENO, shouldStop: { WorkerStopSignals.signal != nil })
        while true {
            if let signal = WorkerStopSignals.signal { stop(signal, nil, log: log) }
            let event: CommandReader.Event
            do {
                event = try commands.next()
            } catch {
                log("cannot read commands: \(error)")
                Foundation.exit(1)
            }
            switch event {
            case .end:
                return
            case .stopped:
                continue  // the loop's first line stops
            case .tooLong:
                send(session.refuse(WorkerError.lineTooLong(limitBytes: CommandReader.maxLineBytes), receivedAt: Date()).line)
            case .line(let line):
                guard let reply = session.handle(line) else { continue }
                send(reply.line)
                if reply.exit { return }
                if let signal = WorkerStopSignals.signal { stop(signal, reply.interruption, log: log) }
            }
        }
    }

    /// One log line and the status shells expect of a process a signal stopped (130, 143, 129).
    private func stop(_ signal: Int32, _ interruption: String?, log: (String) -> Void) -> Never {
        log("stopped by \(WorkerStopSignals.name(signal)): \(interruption ?? "no separation was running")")
        Foundation.exit(128 + signal)
    }

    /// Writes one answer line straight to stdout (no buffer to flush, so an answer written is
    /// never lost); a host that closed our stdout ends the worker quietly.
    private func send(_ line: String) {
        do {
            try Console.answer(line)
        } catch StreamError.outputClosed {
            Foundation.exit(0)
        } catch {
            Foundation.exit(1)
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP stop the worker, as they stop the filter (exit 130, 143, 129).
/// Between commands it stops at once; during a separation the input stops being read (as the
/// filter stops, the run's `Cancellation`), what is in flight is written, the output is ended validly
/// and settled by `StagedOutput.commitPartial()` (never over a file the host had), the command is
/// answered, then the worker exits. A second signal removes the output still being written and
/// exits at once.
/// (The filter's StopSignals, with the worker's targets: its main thread reading commands, or
/// the running pipeline's reader.)
enum WorkerStopSignals {
    private static let received = Atomic<Int32>(0)
    /// The self-pipe: the handler writes a byte per signal, a watcher thread does the rest.
    nonisolated(unsafe) private static var wakeWrite: Int32 = -1

    /// The first signal received, if any.
    static var signal: Int32? {
        let value = received.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    static func name(_ signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : signal == SIGHUP ? "SIGHUP" : "signal \(signal)"
    }

    static func install(job: RunControl, log: @escaping @Sendable (String) -> Void) {
        InputInterruption.installWakeHandler()
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return }
        wakeWrite = descriptors[1]
        let wakeRead = descriptors[0]
        let mainThread = pthread_self()
        let watcher = Thread {
            var byte: UInt8 = 0
            while read(wakeRead, &byte, 1) < 0, errno == EINTR {}
            job.cancellation.request()
            // Keep knocking until the process ends: a signal can land just before a read starts,
            // and then only a later one interrupts it. The main thread is knocked when no
            // pipeline reader is (it may be waiting for a command, or opening an input).
            var wait = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
            while true {
                if job.interruptReader() != true { pthread_kill(mainThread, InputInterruption.wakeSignal) }
                if poll(&wait, 1, 20) > 0, read(wakeRead, &byte, 1) == 1 {
                    let first = signal ?? SIGTERM
                    job.removeTemporaryOutputs()
                    log("stopped by \(name(first)) twice: the output being written was removed")
                    _exit(128 + first)
                }
            }
        }
        watcher.start()
        StopSignals.handle([SIGINT, SIGTERM, SIGHUP]) { number in
            // Only async-signal-safe work here: atomics, write(2).
            _ = WorkerStopSignals.received.compareExchange(expected: 0, desired: number, ordering: .acquiringAndReleasing)
            var byte: UInt8 = 1
            _ = write(WorkerStopSignals.wakeWrite, &byte, 1)
        }
    }
}
