import ArgumentParser
import Foundation
import Stream
import Worker

struct WorkerMode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Serve separations: one JSON command per stdin line, one JSON answer per stdout line (also: --worker).",
        discussion: """
            The packaged AudioSep worker's protocol (commands load_model, separate, get_status, exit); logs go \
            to stderr. See README.md, "Worker mode".
              printf '%s\\n' '{"cmd":"separate","input":"in.wav","output":"out.wav","text":"vocals"}' \\
                | audiosep-stream --worker
            """)

    @Option(name: .long, help: "Models kept loaded, least recently used evicted first (default: $AUDIOSEP_MAX_CACHED_MODELS, then 1).")
    var maxCachedModels: Int?
    @Option(name: .long, help: "Threads for the AudioSep network (default: all cores).")
    var threads: Int?
    @Option(name: .long, help: "\"use_chunk\": false on a longer input is chunked anyway, in seconds (a single window holds the whole input).")
    var maxPassSeconds: Double = 60
    @OptionGroup var compute: ComputeFlags
    @Flag(name: .long, help: "Keep query embeddings in memory only, not in ~/.cache/audiosep-stream/embeddings.")
    var noCache = false
    @Flag(name: [.customShort("q"), .long], help: "Log nothing on stderr.")
    var quiet = false

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        AudioSepStream.boundAllocator()
        var options = WorkerOptions()
        do {
            options.maxCachedModels = try WorkerOptions.maxCachedModels(flag: maxCachedModels,
                                                                        environment: ProcessInfo.processInfo.environment)
            if let threads {
                guard threads > 0 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
                options.threads = threads
            }
            options.compute = try compute.options()
            guard maxPassSeconds > 0 else { throw ValidationError("--max-pass-seconds must be above 0, got \(maxPassSeconds)") }
        } catch {
            AudioSepStream.fail(error)
        }
        options.maxPassSeconds = maxPassSeconds
        if noCache { options.embeddingCache = nil }
        let quiet = quiet
        let session = WorkerSession(options: options) { message in
            if !quiet { Console.error("audiosep-stream worker: \(message)\n") }
        }
        for answer in session.greeting { send(answer.encoded) }
        while let line = readLine(strippingNewline: true) {
            guard let reply = session.handle(line) else { continue }
            send(reply.line)
            if reply.exit { return }
        }
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
