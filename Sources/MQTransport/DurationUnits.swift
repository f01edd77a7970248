// Duration in the units the wire, libzmq, logs and reports use: the one place that converts
// (every module that needs it depends on MQTransport). Negative durations count as zero where a
// count of time units is asked for.
import Foundation

extension Duration {
    private static let attosecondsPerNanosecond: Int64 = 1_000_000_000
    private static let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000

    /// Whole nanoseconds (truncated); 0 for a negative duration. Saturates at UInt64.max.
    public var wholeNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let (scaled, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(UInt64(max(0, attoseconds / Self.attosecondsPerNanosecond)))
        return overflow2 ? .max : sum
    }

    /// Whole milliseconds (truncated); may be negative.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled + attoseconds / Self.attosecondsPerMillisecond
    }

    /// Milliseconds rounded up: a positive sub-millisecond remainder counts as one more (so a
    /// positive timeout never becomes 0, which libzmq and the wire read as "no wait"/"default");
    /// 0 for zero and negative durations.
    public var millisecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return .max }
        return scaled + attoseconds / Self.attosecondsPerMillisecond + (attoseconds % Self.attosecondsPerMillisecond > 0 ? 1 : 0)
    }

    /// Seconds as a floating-point number (for sleeps, rates and reports).
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    /// Milliseconds as a floating-point number.
    public var inMilliseconds: Double { inSeconds * 1000 }
}
