// A byte-size flag value shared by every executable: "512M", "2G", "1.5GiB", "1048576". Parsed by
// MQProtocol.ByteCount, so `mq`, `mq-worker` and `mq-coordinator` accept and refuse the same text.
import ArgumentParser
import MQProtocol

public struct ByteSize: ExpressibleByArgument, Sendable, Equatable {
    public var bytes: UInt64

    public init(_ bytes: UInt64) { self.bytes = bytes }

    public init?(argument: String) {
        guard let bytes = ByteCount.parse(argument) else { return nil }
        self.bytes = bytes
    }

    public var defaultValueDescription: String { ByteCount.format(bytes) }
}
