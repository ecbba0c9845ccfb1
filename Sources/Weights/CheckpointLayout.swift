/// Where each part of AudioSep lives among a Lightning checkpoint's keys.
public enum CheckpointLayout {
    /// Key prefix of the separation network.
    public static let networkPrefix = "ss_model."
    /// Key prefix of CLAP's text path.
    public static let textPrefix = "query_encoder.model."
    /// Key prefix of CLAP's RoBERTa text branch, under which roberta-base's own tensors are read.
    public static let textBranchPrefix = textPrefix + "text_branch."
}
