// Architecture registry: config.json's model_type → the file that implements it.
import Foundation
import MQCheckpoint
import MQKernels

public enum ModelRegistry {
    /// model_type values mq loads. "gpt2" covers SantaCoder's original multi-query layout and plain GPT-2;
    /// "RefinedWeb"/"RefinedWebModel" are Falcon's configs from before transformers shipped it.
    public static let supported = ["gpt_bigcode", "falcon", "RefinedWeb", "RefinedWebModel", "gpt2"]

    /// Loads the model in `checkpoint`, limited to `layers` and to the embedding/head if asked; its
    /// steps split their work as `compute` says; matrices are held as `weights` says.
    public static func load(_ checkpoint: Checkpoint, layers: Range<Int>? = nil,
                            embedding: Bool = true, head: Bool = true, compute: ComputeContext,
                            weights: WeightPrecision = .stored) throws -> any DecoderModel {
        let type = try checkpoint.config.string("model_type", default: "")
        // The models pack their matrices into memory of their own; the file pages they read to do so
        // are then dropped so resident memory shows what the model keeps.
        defer { checkpoint.releaseMappedPages() }
        switch type {
        case "gpt_bigcode":
            return try GPTBigCode(checkpoint: checkpoint, layers: layers, embedding: embedding, head: head, compute: compute, weights: weights)
        case _ where FalconConfig.modelTypes.contains(type):
            return try Falcon(checkpoint: checkpoint, layers: layers, embedding: embedding, head: head, compute: compute, weights: weights)
        case "gpt2":
            return try GPT2(checkpoint: checkpoint, layers: layers, embedding: embedding, head: head, compute: compute, weights: weights)
        default:
            throw CheckpointError.unsupportedModel(
                file: checkpoint.config.path,
                reason: "model_type \"\(type)\" is not supported (supported: \(supported.joined(separator: ", ")))")
        }
    }

    /// The shape of the model in `checkpoint` without loading any weights.
    public static func shape(of checkpoint: Checkpoint) throws -> ModelShape {
        let type = try checkpoint.config.string("model_type", default: "")
        switch type {
        case "gpt_bigcode": return try GPTBigCodeConfig(checkpoint.config).shape
        case _ where FalconConfig.modelTypes.contains(type): return try FalconConfig(checkpoint.config).shape
        case "gpt2": return try GPT2Config(checkpoint.config).shape
        default:
            throw CheckpointError.unsupportedModel(
                file: checkpoint.config.path,
                reason: "model_type \"\(type)\" is not supported (supported: \(supported.joined(separator: ", ")))")
        }
    }
}
