import ArgumentParser
import CMalloc
import Foundation
import Overlap
import Separation
import Stream
import Tuning

@main
struct AudioSepStream: ParsableCommand {
    static let version = "0.6.0"

    static let configuration = CommandConfiguration(
        commandName: "audiosep-stream",
        abstract: "Separate the sound you describe from audio flowing through a pipe.",
        discussion: """
            Reads WAV (or anything libsndfile streams) or raw PCM on stdin, writes WAV or raw PCM on stdout.
            Examples:
              sox song.flac -t wav - | audiosep-stream vocals | aplay
              audiosep-stream --engine identity < in.wav > out.wav
            """,
        version: "audiosep-stream \(version)",
        subcommands: [Separate.self, BatchCommand.self, Convert.self, Embed.self, Tune.self, ModelCommand.self, WorkerMode.self],
        defaultSubcommand: Separate.self)

    /// Parses the command line and runs it; an argument error is one line and exit 1, as sox's.
    /// `--worker` anywhere on the line is the `worker` subcommand, as the packaged AudioSep
    /// worker is started (`dsu-audiosep --worker [--max-cached-models N]`).
    static func main() {
        // Before any descriptor is made: a closed 0, 1 or 2 would be given to the first one.
        StandardDescriptors.openClosed()
        var arguments = ArgumentValues.joiningNegativeNumbers(Array(CommandLine.arguments.dropFirst()))
        if let flag = arguments.firstIndex(of: "--worker") {
            arguments.remove(at: flag)
            arguments.insert("worker", at: 0)
        }
        // Bare `audiosep-stream` typed at a terminal is someone asking how to use it.
        if arguments.isEmpty, isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 {
            Console.output(helpMessage() + "\n")
            Foundation.exit(1)
        }
        helpPage = Self.helpPage(for: arguments)
        let command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            failParsing(error)
        }
        do {
            var runnable = command
            try runnable.run()
        } catch {
            failParsing(error)
        }
    }

    /// The help page that describes the flags of the command being run: the filter's flags are
    /// on `help separate`, a subcommand's on its own page.
    nonisolated(unsafe) static var helpPage = "audiosep-stream help separate"

    static func helpPage(for arguments: [String]) -> String {
        let names = configuration.subcommands.map { $0._commandName }
        if let first = arguments.first, names.contains(first) { return "audiosep-stream help \(first)" }
        return "audiosep-stream help separate"
    }

    /// Help and `--version` go to stdout with exit 0; anything else is one line on stderr, exit 1.
    static func failParsing(_ error: Error) -> Never {
        let code = exitCode(for: error)
        if code == .success {
            Console.output(fullMessage(for: error) + "\n")
            Foundation.exit(0)
        }
        let lines = message(for: error).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let text = lines.filter { !$0.isEmpty && !$0.hasPrefix("Usage:") && !$0.hasPrefix("See '") && !$0.hasPrefix("Help:") }
            .map { $0.hasPrefix("Error: ") ? String($0.dropFirst(7)) : $0 }
            .joined(separator: " ")
        Console.error("audiosep-stream: \(text.isEmpty ? "\(error)" : text) (see \(helpPage))\n")
        Foundation.exit(1)
    }

    /// Keeps resident memory flat over hours of streaming. Windows are allocated on one thread
    /// and freed on another; glibc's per-thread arenas and its self-raising mmap threshold then
    /// let freed blocks pile up as fragmentation (peak RSS crept up 20% over 3 hours). A fixed
    /// low mmap threshold returns every window-sized block to the system when it is freed.
    static func boundAllocator() {
        mallopt(M_MMAP_THRESHOLD, 32 * 1024)
        mallopt(M_TRIM_THRESHOLD, 64 * 1024)
        mallopt(M_ARENA_MAX, 1)
    }

    /// The only place that prints errors and exits: one line, non-zero status.
    static func fail(_ error: Error) -> Never {
        if case StreamError.outputClosed = error { Foundation.exit(0) }  // the reader went away: quiet
        Console.error("audiosep-stream: \(error)\n")
        if let stop = error as? Interrupted { Foundation.exit(128 + stop.signal) }
        Foundation.exit(1)
    }
}

extension EngineChoice: ExpressibleByArgument {}
extension FadeShape: ExpressibleByArgument {}
extension ResampleQuality: ExpressibleByArgument {}
extension OutputContainer: ExpressibleByArgument {}
extension SampleFormat.Endian: ExpressibleByArgument {}
