import Files
import Foundation
import Separation
import Stream

/// What a shard did.
public struct BatchSummary: Equatable, Sendable {
    public var done = 0, skipped = 0, failed = 0
    /// Seconds of audio separated, and the wall seconds the shard took.
    public var audioSeconds = 0.0, wallSeconds = 0.0
    public var total: Int { done + skipped + failed }
}

/// Runs one shard of a batch: each of its jobs in manifest order through `FileJob`, recording
/// every job in the journal. Before any job runs, the jobs whose files collide (an output that is
/// an input, two jobs writing one file: `JobConflicts`) are failed; a job the journals record as
/// done with its input, settings and output as they are now (`DoneRecords`) is skipped; every
/// other job runs. A failed job is recorded with its one-line error and the others go on.
public final class BatchRunner {
    public let jobs: [BatchJob]
    public let shard: Shard
    private let journal: Journal
    private let engineName: String
    private let conflicts: JobConflicts
    private let engine: (BatchJob) throws -> Separator
    private let staging: @Sendable ([String]) -> Void

    /// - Parameters:
    ///   - jobs: the whole manifest (the shard's jobs are chosen here; collisions are looked for
    ///     among all of them).
    ///   - engineName: the engine and model as `JobSettings.engine` records them: a job done with
    ///     another engine is not done.
    ///   - batchFiles: files every job reads (the manifest, the model's files), which no output may be.
    ///   - staging: hears each job's temporary output, as `FileJob.run` does.
    ///   - engine: the separator for a job (the caller loads the model once and builds each
    ///     query's separator over it).
    public init(jobs: [BatchJob], shard: Shard, journal: Journal, engineName: String,
                batchFiles: [(path: String, role: String)] = [], staging: @escaping @Sendable ([String]) -> Void = { _ in },
                engine: @escaping (BatchJob) throws -> Separator) {
        self.staging = staging
        self.jobs = jobs.filter(shard.contains)
        self.shard = shard
        self.journal = journal
        self.engineName = engineName
        self.conflicts = JobConflicts(jobs, batchFiles: batchFiles)
        self.engine = engine
    }

    /// - Parameters:
    ///   - progress: hears a line after every job (shard, jobs done of total, hours of audio,
    ///     multiple of real time, time left).
    ///   - failure: hears a line for every job that failed: its input and why.
    public func run(progress: ((String) -> Void)? = nil, failure: ((String) -> Void)? = nil) throws -> BatchSummary {
        var summary = BatchSummary()
        let started = Date()
        var workSeconds = 0.0  // wall time of the jobs that ran (not the skipped)
        let done = DoneRecords(folder: journal.folder,
                               outputs: Set(jobs.filter { conflicts.failures[$0.index] == nil }.map { SymbolicLinks.resolve($0.allOutputs[0]) }))
        for (position, job) in jobs.enumerated() {
            let jobStarted = Date()
            var record = JobRecord(index: job.index, input: job.input, output: job.output, status: .done, error: nil,
                                   seconds: 0, audioSeconds: 0)
            if job.allOutputs.count > 1 { record.outputs = job.allOutputs }
            let settings = JobSettings(job, engine: engineName)
            let conflict = conflicts.failures[job.index]
            if conflict == nil {
                // A shard killed outright (SIGKILL, a node lost) left its temporary outputs behind;
                // no other job writes this output (JobConflicts) and each job belongs to one
                // shard, so this run is the only one that could be writing them.
                for output in job.allOutputs { StagedOutput.removeStaleTemporaryFiles(for: output) }
            }
            if conflict == nil, job.refusal == nil, let stamp = done.done(input: job.input, outputs: job.allOutputs, settings: settings) {
                record.status = .skipped
                record.stamp = stamp
                summary.skipped += 1
            } else {
                do {
                    if let conflict { throw conflict }
                    if let refusal = job.refusal { throw refusal }
                    // Stamped before the run: an input changed while it is read is run again next time.
                    let input = FileStamp(path: job.input)
                    record.audioSeconds = try FileJob.run(job, engine: try engine(job), staging: staging)
                    let outputs = job.allOutputs.compactMap(OutputStamp.init(path:))
                    if let input, outputs.count == job.allOutputs.count {
                        record.stamp = DoneStamp(inputFile: input, settings: settings, outputFiles: outputs)
                    }
                    summary.done += 1
                    summary.audioSeconds += record.audioSeconds
                } catch {
                    record.status = .failed
                    record.error = "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
                    summary.failed += 1
                    failure?("job \(job.index) failed (\(job.input)): \(record.error ?? "")")
                }
                record.seconds = Date().timeIntervalSince(jobStarted)
                workSeconds += record.seconds
            }
            try journal.record(record)
            if let progress {
                let ran = summary.done + summary.failed
                let left = jobs.count - position - 1
                let eta = ran > 0 ? workSeconds / Double(ran) * Double(left) : nil
                progress(Self.progressLine(shard: shard, finished: position + 1, total: jobs.count, summary: summary,
                                           workSeconds: workSeconds, eta: eta, last: record))
            }
        }
        summary.wallSeconds = Date().timeIntervalSince(started)
        return summary
    }

    static func progressLine(shard: Shard, finished: Int, total: Int, summary: BatchSummary, workSeconds: Double,
                             eta: Double?, last: JobRecord) -> String {
        var line = "shard \(shard): \(finished)/\(total) jobs"
        line += String(format: ", %.2f h of audio", summary.audioSeconds / 3600)
        if workSeconds > 0, summary.audioSeconds > 0 { line += String(format: ", %.1fx real time", summary.audioSeconds / workSeconds) }
        if let eta, finished < total { line += ", about \(Self.duration(eta)) left" }
        line += " (\(last.status.rawValue): \((last.input as NSString).lastPathComponent))"
        return line
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole >= 3600 ? String(format: "%d:%02d:%02d", whole / 3600, whole / 60 % 60, whole % 60)
            : String(format: "%d:%02d", whole / 60, whole % 60)
    }

    /// The closing line: what the shard did, and where its journal is.
    public func summaryLine(_ summary: BatchSummary) -> String {
        var line = "shard \(shard): \(summary.total) jobs: \(summary.done) done, \(summary.skipped) skipped, \(summary.failed) failed"
        line += String(format: "; %.2f h of audio in %.1f s", summary.audioSeconds / 3600, summary.wallSeconds)
        if summary.wallSeconds > 0, summary.audioSeconds > 0 { line += String(format: " (%.1fx real time)", summary.audioSeconds / summary.wallSeconds) }
        return line + "; journal \(journal.path)"
    }
}
