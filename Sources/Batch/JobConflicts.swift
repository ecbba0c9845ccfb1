import Files
import Foundation
import Stream

/// The jobs of a batch whose files collide, found before any job runs, over the whole manifest
/// (so every shard reaches the same verdict on every job, whichever shard runs it):
///
/// - a job whose output is its own input fails as the filter refuses it
///   (`StreamError.outputIsInput`);
/// - a job whose output is a file another job reads (its input or query embedding), or a file the
///   whole batch reads (the manifest, a model file), fails naming it;
/// - of two or more jobs whose outputs are one file, the first keeps it and each later one fails
///   naming the first.
///
/// Every output of a job with several (each query's, and the rest) is checked so; the job fails
/// with the first collision found among them.
///
/// Files are compared twice: by name with every symbolic link followed, folders included
/// (`SymbolicLinks.resolve`: `out/a.wav` and `link-to-out/a.wav`, also before the file exists),
/// and by device and inode where the file exists (hard links). A character device (`/dev/null`)
/// may be the output of several jobs.
public struct JobConflicts {
    /// The error each colliding job fails with, by job index.
    public let failures: [Int: Error]

    /// - Parameter batchFiles: files every job depends on, with what they are for messages
    ///   ("the manifest", "a model file").
    public init(_ jobs: [BatchJob], batchFiles: [(path: String, role: String)] = []) {
        struct Place: Hashable {
            let name: String
            let identity: FileIdentity?
        }
        func place(_ path: String) -> Place {
            Place(name: SymbolicLinks.resolve(path), identity: FileIdentity(path: path))
        }
        // What is read: each name and identity to the first reader (a job and the role, or a batch file).
        enum Reader { case job(BatchJob, role: String), batch(path: String, role: String) }
        var readByName: [String: Reader] = [:]
        var readByIdentity: [FileIdentity: Reader] = [:]
        func noteRead(_ path: String, by reader: Reader) -> Place {
            let found = place(path)
            if readByName[found.name] == nil { readByName[found.name] = reader }
            if let identity = found.identity, readByIdentity[identity] == nil { readByIdentity[identity] = reader }
            return found
        }
        for file in batchFiles { _ = noteRead(file.path, by: .batch(path: file.path, role: file.role)) }
        var inputs: [Int: Place] = [:]
        for job in jobs {
            inputs[job.index] = noteRead(job.input, by: .job(job, role: "input"))
            if let embedding = job.embedding { _ = noteRead(embedding, by: .job(job, role: "query embedding")) }
        }

        var failures: [Int: Error] = [:]
        var writtenByName: [String: BatchJob] = [:]
        var writtenByIdentity: [FileIdentity: BatchJob] = [:]
        for job in jobs {
            // Every output of the job (each query's, then the rest): the first collision fails it.
            for path in job.allOutputs {
                let output = place(path)
                // A device such as /dev/null is written straight through, by any number of jobs.
                let shared = output.identity != nil && Self.isCharacterDevice(path)
                var failure: Error?
                // Its own input first: the filter's refusal, word for word.
                if let input = inputs[job.index],
                   input.name == output.name || (output.identity != nil && input.identity == output.identity) {
                    failure = StreamError.outputIsInput(path: path)
                } else if !shared, let reader = readByName[output.name] ?? output.identity.flatMap({ readByIdentity[$0] }) {
                    switch reader {
                    case .job(let other, let role):
                        failure = BatchError.outputIsReadByJob(path: path, other: other.label, role: role)
                    case .batch(let file, let role):
                        failure = BatchError.outputIsBatchFile(path: path, file: file, role: role)
                    }
                } else if !shared, let first = writtenByName[output.name] ?? output.identity.flatMap({ writtenByIdentity[$0] }) {
                    failure = first.index == job.index ? BatchError.sameOutputInJob(path: path)
                        : BatchError.sameOutput(path: path, other: first.label)
                }
                if failures[job.index] == nil, let failure { failures[job.index] = failure }
                if writtenByName[output.name] == nil { writtenByName[output.name] = job }
                if let identity = output.identity, writtenByIdentity[identity] == nil { writtenByIdentity[identity] = job }
            }
        }
        self.failures = failures
    }

    static func isCharacterDevice(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFCHR
    }
}
