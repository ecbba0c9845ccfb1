import ArgumentParser
import Batch
import DSP
import Engines
import Foundation
import Separation
import Text

struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Separate many files in one process: a manifest of jobs, or folders of audio; sharded for Slurm or GNU parallel.",
        discussion: """
            A manifest holds a job a line, as JSON (.jsonl, the default) or CSV with a header (.csv). Fields: input, \
            output, text (or embedding), and optionally rest, remove, downmix, chunk, overlap. Several queries from \
            one read: text as a list (CSV: vocals|drums) with output a list or a pattern ('out/{query}.wav'). The model is loaded once. \
            Each output is written under a temporary name and renamed when whole. A job the journal records as done, \
            with its input, settings and output unchanged since, is skipped, so a rerun does only what is left. \
            An output that is an input, or the output of an earlier job, fails that job. Every job's result goes to OUT/.audiosep-batch/shard-K.jsonl (OUT: \
            --out-dir, else the manifest's folder). Exit status 0 when every job is done or skipped, 1 when any failed.
            Shards: --shard K/N runs the jobs whose line index mod N is K; without it, a Slurm array task \
            (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT) or GNU parallel's PARALLEL_SEQ with --shard-count N picks it.
            Examples:
              audiosep-stream batch jobs.jsonl
              audiosep-stream batch --query vocals --out-dir vocals/ archive/
              sbatch --array=0-15 --wrap 'audiosep-stream batch jobs.jsonl'
              parallel -S host1,host2 audiosep-stream batch --shard {}/16 jobs.jsonl ::: $(seq 0 15)
            """)

    @Argument(help: "The manifest; with --query, the folders (or files) of audio to separate.")
    var paths: [String] = []

    @Option(name: .long, help: "Separate this from every audio file under the folders given (outputs mirror the tree in --out-dir).")
    var query: String?
    @Option(name: .long, help: "Where outputs go (folders) or relative outputs are taken from (manifest), and the journal's folder.")
    var outDir: String?
    @Option(name: .long, help: "Run shard K of N: the jobs whose index mod N is K (0/16 … 15/16).")
    var shard: String?
    @Option(name: .long, help: "The shard count when PARALLEL_SEQ (GNU parallel) picks the shard.")
    var shardCount: Int?

    @Option(name: .long, help: "Engine: auto, audiosep, dsp or identity.", transform: EngineChoice.init(parsing:))
    var engine: EngineChoice = .auto
    @OptionGroup var model: ModelOptions
    @Flag(name: .long, help: "Every job writes the mixture minus the separated source.")
    var remove = false
    @Flag(name: .long, help: "Every job separates the mono mix once and writes it to every channel.")
    var downmix = false
    @Option(name: .long, help: "Window length in seconds for jobs that give none (default: the engine's).", transform: ArgumentValues.chunk)
    var chunk: Double?
    @Option(name: .long, help: "Overlap in seconds for jobs that give none (default: 1, or a quarter of a window under 4 s).",
            transform: ArgumentValues.overlap)
    var overlap: Double?
    @Flag(name: [.customShort("q"), .long], help: "Print nothing but errors and the closing line.")
    var quiet = false

    func run() throws {
        StopSignals.installImmediate()
        signal(SIGPIPE, SIG_IGN)
        AudioSepStream.boundAllocator()
        do {
            try runBatch()
        } catch {
            AudioSepStream.fail(error)
        }
    }

    private func runBatch() throws {
        // 1. The jobs, the shard and the journal: all checked before the model is loaded.
        var jobs: [BatchJob]
        let journalFolder: String
        if let query {
            guard let outDir else { throw ValidationError("--query needs --out-dir: where the outputs go") }
            guard !paths.isEmpty else { throw ValidationError("--query needs the folders (or files) to separate") }
            jobs = try Manifest.tree(paths, query: query, outputFolder: outDir)
            journalFolder = outDir
        } else {
            guard paths.count == 1 else {
                throw ValidationError(paths.isEmpty ? "name a manifest (jobs.jsonl), or give --query Q --out-dir OUT FOLDER…"
                                      : "give one manifest (got \(paths.count) paths); folders need --query and --out-dir")
            }
            jobs = try Manifest.read(path: paths[0], outputFolder: outDir)
            journalFolder = outDir ?? (paths[0] as NSString).deletingLastPathComponent
        }
        for index in jobs.indices {
            jobs[index].remove = jobs[index].remove || remove
            jobs[index].downmix = jobs[index].downmix || downmix
            jobs[index].chunk = jobs[index].chunk ?? chunk
            jobs[index].overlap = jobs[index].overlap ?? overlap
            // --embedding stands for one query: a row that names several in words keeps them.
            if jobs[index].embedding == nil, jobs[index].texts.count <= 1, let embedding = model.embedding {
                jobs[index].embedding = embedding
            }
        }
        let chosen = try shard.map(Shard.init(parsing:))
            ?? Shard.fromEnvironment(ProcessInfo.processInfo.environment, shardCount: shardCount) ?? .whole
        let journal = try Journal(folder: journalFolder.isEmpty ? "." : journalFolder, shard: chosen)

        // 2. The engine: the model once, a separator per query over it.
        if let threads = model.threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        let files = try model.locate()
        let compute = try model.compute.options()
        let session = try EngineSession(engine, model: files,
                                        threads: model.threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                        cache: model.cache, compute: compute)
        if let note = session.note, !quiet { Console.error("audiosep-stream: \(note)\n") }
        var separators: [String: Separator] = [:]
        // One query for every job: a query the engine cannot take is refused before the first
        // job, as the filter refuses it, not once per file.
        if let query, jobs.allSatisfy({ $0.embedding == nil }) {
            let made = try session.separator(query: query, embedding: nil)
            if session.model == nil, let note = (made as? DSPEngine)?.note, !quiet { Console.error("audiosep-stream: \(note)\n") }
            separators["text:" + query] = made
        }
        // What decides a job's output besides the job: the engine, its model files as they are now, its arithmetic.
        let engineName: String
        if let loaded = session.model {
            engineName = "audiosep \(loaded.key) \(compute.convolution.rawValue)/\(compute.precision.rawValue)/\(compute.kernels.rawValue)"
        } else {
            engineName = engine == .identity ? "identity" : "dsp"
        }
        var batchFiles = (files?.inputPaths ?? []).map { (path: $0, role: "a model file") }
        if query == nil { batchFiles.append((path: paths[0], role: "the manifest")) }
        let runner = BatchRunner(jobs: jobs, shard: chosen, journal: journal, engineName: engineName, batchFiles: batchFiles,
                                 staging: StopSignals.stage) { job in
            // Several queries: one separator with a stem per query, kept by the list.
            let key = job.embedding.map { "embedding:" + $0 }
                ?? (job.texts.count > 1 ? "texts:" + job.texts.joined(separator: "\u{0}") : "text:" + (job.text ?? ""))
            if let known = separators[key] { return known }
            let made: Separator
            if job.texts.count > 1 {
                made = try session.separator(queries: job.texts, embedding: nil)
            } else {
                let embedding = try job.embedding.map(QueryEmbedding.load)
                made = try session.separator(query: job.text, embedding: embedding)
            }
            separators[key] = made
            return made
        }
        let summary = try runner.run(progress: quiet ? nil : { Console.error("audiosep-stream: \($0)\n") },
                                     failure: { Console.error("audiosep-stream: \($0)\n") })
        Console.error("audiosep-stream: \(runner.summaryLine(summary))\n")
        if summary.failed > 0 { Foundation.exit(1) }
    }
}
