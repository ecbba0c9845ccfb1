import ArgumentParser
import Engine

/// How AudioSep's network computes, for the filter, the tuner's children and the worker.
struct ComputeFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("How AudioSep's 3×3 convolutions compute: winograd (fast, equal to float32 rounding) or im2col (the plain form).",
                                            valueName: "winograd|im2col"))
    var convolution: String = ComputeOptions.standard.convolution.rawValue

    /// The same choices as flags, for a child process of the tool.
    var arguments: [String] { ["--convolution", convolution] }

    func options() throws -> ComputeOptions {
        guard let algorithm = ComputeOptions.Convolution(rawValue: convolution) else {
            throw ValidationError("--convolution must be winograd or im2col, got \(convolution)")
        }
        return ComputeOptions(convolution: algorithm)
    }
}
