import ArgumentParser
import Foundation
import Text
import Weights

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the query embedding of TEXT (CLAP's text encoder, as AudioSep uses it).",
        discussion: """
            Examples:
              audiosep-stream embed "a dog barking" --model ~/models/AudioSep > dog.json
              audiosep-stream embed "a dog barking" --format f32 > dog.f32
              audiosep-stream --embedding dog.f32 < in.wav > out.wav
            """)

    enum Format: String, ExpressibleByArgument { case json, f32 }

    @Argument(help: "The query text.")
    var text: String
    @OptionGroup var model: ModelLocation
    @Flag(name: .long, help: "Neither read nor write the query-embedding cache (~/.cache/audiosep-stream/embeddings).")
    var noCache = false
    @Option(name: .long, help: "json (an array of 512 numbers) or f32 (raw little-endian float32, as --embedding takes).")
    var format: Format = .json

    func run() throws {
        do {
            guard let files = try model.locate(), !files.isEmpty else {
                throw ModelError.noModel(searched: ["--model", "AUDIOSEP_MODEL", ModelFiles.cacheDirectory])
            }
            let embedding = try QueryEncoder.embedding(for: text, files: files, cache: noCache ? nil : EmbeddingCache())
            switch format {
            case .json:
                let numbers = embedding.map { "\($0)" }.joined(separator: ",")
                Console.output("[\(numbers)]\n")
            case .f32:
                Console.output(embedding.withUnsafeBytes { Array($0) })
            }
        } catch {
            AudioSepStream.fail(error)
        }
    }
}
