// The worker's small pure pieces: the advertised endpoint (never a wildcard),
// and configuration validation.

import MQWorker
import MQProtocol
import XCTest

final class WorkerConfigurationTests: XCTestCase {
    func testAdvertisedEndpointIsNeverAWildcard() {
        let fallback = { "10.1.2.3" }
        XCTAssertEqual(advertisedEndpoint(resolved: "tcp://127.0.0.1:5601", advertiseHost: nil, fallbackHost: fallback),
                       "tcp://127.0.0.1:5601")
        XCTAssertEqual(advertisedEndpoint(resolved: "tcp://0.0.0.0:5601", advertiseHost: nil, fallbackHost: fallback),
                       "tcp://10.1.2.3:5601")
        XCTAssertEqual(advertisedEndpoint(resolved: "tcp://[::]:5601", advertiseHost: nil, fallbackHost: fallback),
                       "tcp://10.1.2.3:5601")
        XCTAssertEqual(advertisedEndpoint(resolved: "tcp://0.0.0.0:5601", advertiseHost: "gpu-7.lan", fallbackHost: fallback),
                       "tcp://gpu-7.lan:5601")
        XCTAssertEqual(advertisedEndpoint(resolved: "tcp://127.0.0.1:5601", advertiseHost: "fd00::7", fallbackHost: fallback),
                       "tcp://[fd00::7]:5601")
        XCTAssertEqual(advertisedEndpoint(resolved: "ipc:///tmp/w1.sock", advertiseHost: "10.0.0.1", fallbackHost: fallback),
                       "ipc:///tmp/w1.sock")
        // The real fallback resolves this host to some concrete address.
        let real = advertisedEndpoint(resolved: "tcp://0.0.0.0:5601", advertiseHost: nil)
        XCTAssertFalse(real.contains("0.0.0.0") || real.contains("*"), real)
    }

    func testConfigurationValidationNamesTheField() {
        var configuration = WorkerConfiguration(coordinatorEndpoint: "tcp://127.0.0.1:1")
        XCTAssertNoThrow(try configuration.validate())
        XCTAssertFalse(configuration.workerID.isEmpty)
        configuration.kvMemoryBytes = 0
        XCTAssertThrowsError(try configuration.validate()) { error in
            guard case .invalidConfiguration(field: "kvMemoryBytes", _)? = error as? WorkerServiceError else {
                return XCTFail("\(error)")
            }
        }
        configuration = WorkerConfiguration(coordinatorEndpoint: "")
        XCTAssertThrowsError(try WorkerService(configuration: configuration))
        configuration = WorkerConfiguration(coordinatorEndpoint: "tcp://127.0.0.1:1", advertiseHost: "*")
        XCTAssertThrowsError(try configuration.validate())
    }

    func testBindFailureIsATypedError() throws {
        let configuration = WorkerConfiguration(coordinatorEndpoint: "tcp://127.0.0.1:1", listenEndpoint: "tcp://999.1.1.1:1",
                                                logger: testLogger)
        let service = try WorkerService(configuration: configuration)
        XCTAssertThrowsError(try service.run()) { error in
            guard case let .transport(message)? = error as? WorkerServiceError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("tcp://999.1.1.1:1"), message)
        }
        let unreachable = WorkerConfiguration(coordinatorEndpoint: "nonsense://x", logger: testLogger)
        XCTAssertThrowsError(try WorkerService(configuration: unreachable).run()) { error in
            guard case .transport? = error as? WorkerServiceError else { return XCTFail("\(error)") }
        }
    }
}
