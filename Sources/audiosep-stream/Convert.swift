import ArgumentParser
import AudioSep
import Foundation
import Weights

extension ModelConverter.Precision: ExpressibleByArgument {}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the model as one .safetensors file that loads with a memory map.",
        discussion: """
            Examples:
              cd ~/.cache/audiosep-stream
              audiosep-stream convert --model ~/models/audiosep -o audiosep.safetensors
            """)

    @OptionGroup var model: ModelLocation
    @Option(name: [.customShort("o"), .customLong("output")], help: "The .safetensors file to write.")
    var output: String
    @Option(name: .long, help: "Precision of the stored tensors: f32 or bf16.")
    var dtype: ModelConverter.Precision = .f32

    func run() throws {
        do {
            guard let files = try ModelFiles.locate(model: model.model, checkpoint: model.checkpoint,
                                                    clapCheckpoint: model.clapCheckpoint, robertaDirectory: model.robertaDir),
                  !files.isEmpty else {
                throw ModelError.noModel(searched: ["--model", "AUDIOSEP_MODEL", ModelFiles.cacheDirectory])
            }
            let summary = try ModelConverter.convert(files, to: output, precision: dtype)
            Console.error(String(format: "audiosep-stream: wrote %@: %d tensors, %.1f M parameters, %.1f MB\n",
                                 output, summary.tensors, Double(summary.parameters) / 1e6, Double(summary.bytes) / 1e6))
        } catch {
            AudioSepStream.fail(error)
        }
    }
}
