// Prompt logprobs on the last stage (StepSequence.prompt_logprobs, protocol 1.4): each prefill chunk
// of such a sequence is scored as it passes, a block of rows at a time (PromptScorer), and the whole
// prompt's log probabilities go back with the token the last chunk samples. The rows' logits are
// computed into the stage's logits scratch, which sampling reuses afterwards, so a long prompt
// costs PromptScorer.rowsPerBlock × V floats of memory, not tokens × V.
//
// Shapes: T = tokens in the step, V = vocabulary; hidden[T, E] holds the step's rows in
// Step.sequences order, a sequence's rows starting at the sum of the token counts before it.
import MQModel
import MQProtocol
import MQSampling

extension Stage {
    /// Refuses, before the step changes any state, a later prefill chunk that asks for prompt
    /// logprobs on the last stage when the sequence did not start with them: its first tokens
    /// were never scored, so the result could not cover the prompt.
    func checkPromptScoring(_ seq: StepSequence, step: Step) throws(WorkerError) {
        guard identity.hasHead, seq.promptLogprobs, seq.position > 0, let state = sequences[seq.seqID],
              state.promptScorer == nil else { return }
        throw WorkerError(code: .malformedMessage,
                          message: "sequence \(seq.seqID): prompt_logprobs set on a chunk at position \(seq.position), "
                            + "but the sequence did not ask for them when it started (position 0)",
                          stepID: step.stepID, seqID: seq.seqID)
    }

    /// Scores the step's prompt chunks; returns the finished scorers of sequences whose last chunk
    /// this step samples (their SequenceResults carry them).
    func scorePrompts(_ step: Step) throws(WorkerError) -> [UInt64: PromptScorer] {
        var finished: [UInt64: PromptScorer] = [:]
        var offset = 0
        for seq in step.sequences {
            defer { offset += seq.tokenIDs.count }
            guard let state = sequences[seq.seqID] else { continue }
            guard state.promptScorer != nil else { continue }
            let V = shape.vocabSize
            ensureLogits(PromptScorer.scratchFloats(tokens: seq.tokenIDs.count, vocabSize: V))
            let rowsStart = offset
            do {
                try state.promptScorer!.score(chunk: seq.tokenIDs.map { Int($0) }, final: seq.sample, scratch: logits) { rows, into in
                    try model.logits(hidden: hidden, rows: rows.map { rowsStart + $0 }, into: into)
                }
            } catch {
                throw Self.stepError(error, step: step, seqID: seq.seqID)
            }
            if seq.sample {
                finished[seq.seqID] = state.promptScorer
                state.promptScorer = nil
            }
        }
        return finished
    }
}
