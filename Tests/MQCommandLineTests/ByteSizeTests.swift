// The command line's shared pieces: byte sizes (one parser for every executable).
import ArgumentParser
import MQCommandLine
import MQProtocol
import XCTest

final class ByteSizeTests: XCTestCase {
    func testByteCountParsesPlainNumbersAndBinarySuffixes() {
        XCTAssertEqual(ByteCount.parse("1048576"), 1 << 20)
        XCTAssertEqual(ByteCount.parse("512M"), 512 << 20)
        XCTAssertEqual(ByteCount.parse("512m"), 512 << 20)
        XCTAssertEqual(ByteCount.parse("2G"), 2 << 30)
        XCTAssertEqual(ByteCount.parse("2GiB"), 2 << 30)
        XCTAssertEqual(ByteCount.parse("2GB"), 2 << 30)
        XCTAssertEqual(ByteCount.parse(" 4k "), 4096)
        XCTAssertEqual(ByteCount.parse("1.5G"), 3 << 29)
        XCTAssertEqual(ByteCount.parse("1T"), 1 << 40)
        XCTAssertEqual(ByteCount.parse("100B"), 100)
    }

    func testByteCountRefusesGarbage() {
        for text in ["", "M", "-1", "1.5", "1..5G", "12X", "1 G G", "0x10", "99999999999999999999", "17179869184G", "iB", "5iB"] {
            XCTAssertNil(ByteCount.parse(text), text)
        }
    }

    func testByteCountFormats() {
        XCTAssertEqual(ByteCount.format(512 << 20), "512 MiB")
        XCTAssertEqual(ByteCount.format(3 << 29), "1.5 GiB")
        XCTAssertEqual(ByteCount.format(100), "100 B")
    }

    func testByteSizeFlagUsesTheSharedParser() {
        XCTAssertEqual(ByteSize(argument: "2G")?.bytes, 2 << 30)
        XCTAssertNil(ByteSize(argument: "99999999999T"))
        XCTAssertNil(ByteSize(argument: "lots"))
    }
}
