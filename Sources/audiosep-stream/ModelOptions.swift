import ArgumentParser
import Engines
import Foundation
import Separation
import Text
import Weights

/// The flags that say where the AudioSep model's files are (all that `convert` and `embed` need).
struct ModelLocation: ParsableArguments {
    @Option(name: .long, help: "AudioSep model: a folder with the checkpoints and roberta-base/, or a converted .safetensors (default: $AUDIOSEP_MODEL, then ~/.cache/audiosep-stream/).")
    var model: String?
    @Option(name: .long, help: "The AudioSep Lightning checkpoint (.ckpt), as the packaged worker's checkpoint_path.")
    var checkpoint: String?
    @Option(name: .long, help: "The CLAP checkpoint (.pt), as the worker's clap_checkpoint_path.")
    var clapCheckpoint: String?
    @Option(name: .long, help: "The roberta-base/ tokenizer folder, as the worker's roberta_dir.")
    var robertaDir: String?

    func locate() throws -> ModelFiles? {
        try ModelFiles.locate(model: model, checkpoint: checkpoint, clapCheckpoint: clapCheckpoint, robertaDirectory: robertaDir)
    }
}

/// The flags that say where the AudioSep model is and how to run and query it.
struct ModelOptions: ParsableArguments {
    @OptionGroup var location: ModelLocation
    var model: String? { location.model }
    var checkpoint: String? { location.checkpoint }
    var clapCheckpoint: String? { location.clapCheckpoint }
    var robertaDir: String? { location.robertaDir }
    @Option(name: .long, help: "Query embedding file (512 little-endian float32, raw or .npy), instead of the text query.")
    var embedding: String?
    @Option(name: .long, help: "Threads for the engine, 1 to 1024 (default: all cores).", transform: ArgumentValues.threadCount)
    var threads: Int?
    @OptionGroup var compute: ComputeFlags
    @Flag(name: .long, help: "Neither read nor write the query-embedding cache (~/.cache/audiosep-stream/embeddings).")
    var noCache = false

    /// The same choices as flags, for a child process of the tool.
    var arguments: [String] {
        var flags: [String] = []
        for (flag, value) in [("--model", model), ("--checkpoint", checkpoint), ("--clap-checkpoint", clapCheckpoint),
                              ("--roberta-dir", robertaDir), ("--embedding", embedding)] {
            if let value { flags += [flag, value] }
        }
        if let threads { flags += ["--threads", String(threads)] }
        flags += compute.arguments
        if noCache { flags.append("--no-cache") }
        return flags
    }

    var cache: EmbeddingCache? { noCache ? nil : EmbeddingCache() }

    func locate() throws -> ModelFiles? { try location.locate() }

    func makeEngine(_ choice: EngineChoice, queries: [String]) throws -> EngineSelection {
        if let threads {
            guard threads > 0 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        }
        let files = try locate()
        let compute = try self.compute.options()
        let embeddingValues = try embedding.map(QueryEmbedding.load)
        return try EngineFactory.select(choice, queries: queries, model: files, embedding: embeddingValues,
                                      threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, cache: cache,
                                      compute: compute)
    }
}
