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

/// Runs one shard of a batch: each of its jobs in manifest order through `FileJob`, skipping
/// those whose output is already whole, recording every job in the journal. A failed job is
/// recorded with its one-line error and the others go on.
public final class BatchRunner {
    public let jobs: [BatchJob]
    public let shard: Shard
    private let journal: Journal
    private let engine: (BatchJob) throws -> Separator
    private let staging: (String?) -> Void

    /// - Parameter engine: the separator for a job (the caller loads the model once and builds
    ///   each query's separator over it).
    /// - Parameter staging: hears each job's temporary output, as `FileJob.run` does.
    public init(jobs: [BatchJob], shard: Shard, journal: Journal, staging: @escaping (String?) -> Void = { _ in },
                engine: @escaping (BatchJob) throws -> Separator) {
        self.staging = staging
        self.jobs = jobs.filter(shard.contains)
        self.shard = shard
        self.journal = journal
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
        for (position, job) in jobs.enumerated() {
            let jobStarted = Date()
            var record = JobRecord(index: job.index, input: job.input, output: job.output, status: .done, error: nil,
                                   seconds: 0, audioSeconds: 0)
            // A shard killed outright (SIGKILL, a node lost) left its temporary outputs behind;
            // each job belongs to one shard, so this run is the only one that could be writing them.
            StagedOutput.removeStaleTemporaryFiles(for: job.output)
            if FileJob.isComplete(job.output) {
                record.status = .skipped
                summary.skipped += 1
            } else {
                do {
                    if let refusal = job.refusal { throw refusal }
                    record.audioSeconds = try FileJob.run(job, engine: try engine(job), staging: staging)
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
