// The `mq` command-line tool: thin subcommands over MQEngine (and, for cluster calls, MQClient).
import ArgumentParser
import Foundation
import MQEngine

@main
struct MQ: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mq",
        abstract: "mq: multi-query-attention decoding, in one process or across a cluster.",
        subcommands: [Run.self, Tokenize.self, PerplexityCommand.self, Bench.self, GenerateCommand.self, StreamCommand.self, InfoCommand.self, HealthCommand.self, Keygen.self, Cluster.self])
}
