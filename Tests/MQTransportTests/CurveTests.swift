// CURVE over real sockets: a ZAP handler admits exactly the listed keys, every accepted message
// names its sender's key, and clients that lack a listed key, the right server key or CURVE at
// all deliver nothing. Key files: mode 0600 enforced, round trip through keygen's format.
import Foundation
import MQTransport
import XCTest

final class CurveTests: XCTestCase {
    func testOnlyListedKeysGetThroughAndMessagesNameTheirSender() throws {
        let context = try ZMQContext()
        let server = try CurveKeyPair.generate()
        let good = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let zap = try ZAPHandler(context: context, policies: ["workers": .keys([good.publicKey])])
        defer { zap.stop() }
        let router = try ZMQSocket(context, type: .router, name: "server")
        try router.secure(.curveServer(server, domain: "workers"))
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        func client(_ security: SocketSecurity) throws -> ZMQSocket {
            let s = try ZMQSocket(context, type: .dealer)
            try s.setLinger(.zero)
            try s.secure(security)
            try s.connect(endpoint)
            return s
        }
        let authorized = try client(.curveClient(good, server: server.publicKey))
        let unlisted = try client(.curveClient(stranger, server: server.publicKey))
        let wrongServer = try client(.curveClient(good, server: stranger.publicKey))
        let plain = try client(.none)
        for s in [unlisted, wrongServer, plain] { try s.send(frames: [Array("forged".utf8)]) }
        try authorized.send(frames: [Array("hello".utf8)])

        let m = try XCTUnwrap(router.receiveRouted(timeout: .seconds(5)))
        XCTAssertEqual(m.frames, [Array("hello".utf8)])
        XCTAssertEqual(m.userID, good.publicKey.z85)
        // Nothing else arrives, however long we wait.
        XCTAssertNil(try router.receiveRouted(timeout: .milliseconds(500)))
        XCTAssertGreaterThanOrEqual(zap.counts.refused, 1)
        // The policy can change: the stranger is admitted on its next connection.
        zap.setPolicy(.keys([good.publicKey, stranger.publicKey]), for: "workers")
        let admitted = try client(.curveClient(stranger, server: server.publicKey))
        try admitted.send(frames: [Array("late".utf8)])
        let late = try XCTUnwrap(router.receiveRouted(timeout: .seconds(5)))
        XCTAssertEqual(late.userID, stranger.publicKey.z85)
        for s in [authorized, unlisted, wrongServer, plain, admitted] { s.close() }
        router.close()
    }

    func testACurveServerNeedsAZAPHandler() throws {
        let context = try ZMQContext()
        let s = try ZMQSocket(context, type: .router)
        XCTAssertThrowsError(try s.secure(.curveServer(try CurveKeyPair.generate(), domain: "x")))
    }

    func testKeyFilesRoundTripAndSecretsMustBePrivate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mq-keys-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = dir.appendingPathComponent("w1").path
        let pair = try CurveKeyPair.generate()
        try pair.write(base: base)
        let attributes = try FileManager.default.attributesOfItem(atPath: base + ".key")
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(try CurveKeyPair.load(secretKeyFile: base + ".key"), pair)
        XCTAssertEqual(try CurvePublicKey.load(file: base + ".pub"), pair.publicKey)
        XCTAssertThrowsError(try pair.write(base: base)) { XCTAssert("\($0)".contains("exists")) }
        chmod(base + ".key", 0o644)
        XCTAssertThrowsError(try CurveKeyPair.load(secretKeyFile: base + ".key")) { XCTAssert("\($0)".contains("chmod 600")) }

        let list = dir.appendingPathComponent("authorized").path
        let other = try CurveKeyPair.generate()
        try "# workers\n\(pair.publicKey.z85) w1\n\n\(other.publicKey.z85)\n".write(toFile: list, atomically: true, encoding: .utf8)
        let keys = try AuthorizedKeys.load(file: list)
        XCTAssertEqual(keys.keys, [pair.publicKey, other.publicKey])
        XCTAssertEqual(keys.names[pair.publicKey], "w1")
        try "# nothing\n\(pair.publicKey.z85)\nnot-a-key\n".write(toFile: list, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AuthorizedKeys.load(file: list)) { XCTAssert("\($0)".contains("line 3")) }
        XCTAssertThrowsError(try CurvePublicKey(z85: "short"))
    }
}
