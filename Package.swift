// swift-tools-version:6.0
// mq: distributed multi-query-attention decoding. `ls Sources/` is the architecture:
//   C*            C libraries (OpenBLAS loaded at run time by MQBench only, libzmq, protobuf-c), cache hints
//                 (CMemoryHints), the int8 SIMD kernels of 8-bit weights (CQ8) and the AVX-512 1-row and 4-row
//                 tiles of float panels (CPanel); nothing else touches C
//   MQKernels     numeric kernels over unsafe buffers (packed linear, layer norm, GELU, softmax, attention)
//   MQBench       benchmarks (decode, one linear layer vs OpenBLAS, memory bandwidth); only `mq bench` uses it
//   MQCheckpoint  Hugging Face model folders: config.json, safetensors (memory-mapped), dtypes
//   MQTokenizer   tokenizer.json: added tokens, pre-tokenizers, byte-level BPE, decoders
//   MQSampling    greedy / temperature / top-k / top-p with per-request seeds, log probabilities
//   MQModel       one file per architecture (GPTBigCode.swift), KV cache, layer-range loading
//   MQGeneration  what a generation is: request, result, finish reason, OutputTracker (text and stops);
//                 shared by MQEngine and MQCoordinator, so the coordinator needs no engine
//   MQEngine      single-process generation: tokenizer + model + sampler
//   CMQProto      protoc-c output for Protos/mq/v1/*.proto (generated, committed; tools/gen-protos.sh)
//   MQProtocol    typed Swift messages <-> protobuf-c wire bytes; the only module that sees CMQProto
//   MQTransport   ZeroMQ sockets, multipart frames, polling; the only module that sees libzmq
//   MQClient      async client library for the coordinator's gRPC-like calls (no model code)
//   MQWorker      a pipeline stage: registers, loads its layers, runs steps, forwards activations
//   MQCoordinator assigns layers to workers, schedules steps, serves client calls (reads a model's
//                 shape and tokenizer; no engine)
//   MQLocalCluster the one launcher of a local cluster (coordinator + workers from the built executables):
//                 `mq cluster up` (deploy/local-cluster.sh), `mq bench serve --start` and the cluster tests
//   MQCommandLine what the executables' command lines share (byte sizes, keys, secure defaults)
//   MQGateway     the OpenAI-compatible HTTP gateway (Hummingbird) in front of coordinators, via MQClient
//   mq, mq-worker, mq-coordinator, mq-gateway   thin executables
import PackageDescription

// Hot numeric code is built optimized even in debug builds: the test suite runs real models.
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"])]

let package = Package(
    name: "mq",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mq", targets: ["mq"]),
        .executable(name: "mq-worker", targets: ["mq-worker"]),
        .executable(name: "mq-coordinator", targets: ["mq-coordinator"]),
        .executable(name: "mq-gateway", targets: ["mq-gateway"]),
        .library(name: "MQClient", targets: ["MQClient"]),
        .library(name: "MQEngine", targets: ["MQEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // OpenBLAS is opened with dlopen after OPENBLAS_CORETYPE is chosen (see COpenBLAS/loader.c).
        .target(name: "COpenBLAS", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CZMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),

        .target(name: "CMQProto", dependencies: ["CProtobufC"]),
        .target(name: "CMemoryHints"),
        // Q8_0 int8 kernels (scalar, AVX2, AVX-512 VNNI, chosen at run time); always optimized, and no
        // FMA contraction so every path computes the same float operations.
        .target(name: "CQ8", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),

        // The batch-1 tile of the packed float products on AVX-512 (chosen at run time), same chains.
        .target(name: "CPanel", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),

        .target(name: "MQKernels", dependencies: ["CMemoryHints", "CQ8", "CPanel"], swiftSettings: kernelFlags),
        .target(name: "MQCheckpoint", swiftSettings: kernelFlags),
        .target(name: "MQTokenizer", swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "MQSampling", swiftSettings: kernelFlags),
        .target(name: "MQModel", dependencies: ["MQKernels", "MQCheckpoint"], swiftSettings: kernelFlags),
        .target(name: "MQGeneration", dependencies: ["MQTokenizer", "MQSampling"]),
        .target(name: "MQEngine", dependencies: ["MQGeneration", "MQModel", "MQTokenizer", "MQSampling", "MQCheckpoint"]),
        .target(name: "MQProtocol", dependencies: ["CMQProto", "CProtobufC"]),
        // Benchmarks apart from the libraries: decode speed, one linear layer against OpenBLAS (the
        // only user of COpenBLAS), memory bandwidth. Only the `mq bench` commands use it.
        .target(name: "MQBench", dependencies: ["MQKernels", "MQModel", "MQCheckpoint", "MQEngine", "COpenBLAS"], swiftSettings: kernelFlags),
        .target(name: "MQTransport", dependencies: ["CZMQ"]),
        .target(name: "MQClient", dependencies: ["MQProtocol", "MQTransport"]),
        .target(name: "MQWorker", dependencies: [
            "MQProtocol", "MQTransport", "MQModel", "MQCheckpoint", "MQSampling", "MQKernels",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The one local cluster launcher: starts the built mq-coordinator and mq-workers, keys, health.
        .target(name: "MQLocalCluster", dependencies: ["MQClient", "MQProtocol", "MQTransport"]),
        // What every executable's command line shares: byte sizes, key files, secure-by-default checks.
        .target(name: "MQCommandLine", dependencies: [
            "MQProtocol", "MQTransport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "MQCoordinator", dependencies: [
            "MQProtocol", "MQTransport", "MQModel", "MQCheckpoint", "MQTokenizer", "MQSampling", "MQGeneration",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: [.unsafeFlags(["-O"])]),
        // The OpenAI-compatible HTTP gateway: HTTP (Hummingbird) in front of coordinators, through MQClient.
        .target(name: "MQGateway", dependencies: [
            "MQClient", "MQTokenizer", "MQCheckpoint",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "mq-gateway", dependencies: [
            "MQGateway", "MQCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "mq", dependencies: [
            "MQEngine", "MQClient", "MQCommandLine", "MQBench", "MQLocalCluster",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "mq-worker", dependencies: [
            "MQWorker", "MQCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "mq-coordinator", dependencies: [
            "MQCoordinator", "MQCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "MQKernelsTests", dependencies: ["MQKernels"]),
        .testTarget(name: "MQBenchTests", dependencies: ["MQBench", "MQKernels"]),
        .testTarget(name: "MQCheckpointTests", dependencies: ["MQCheckpoint"]),
        .testTarget(name: "MQTokenizerTests", dependencies: ["MQTokenizer"]),
        .testTarget(name: "MQSamplingTests", dependencies: ["MQSampling"]),
        .testTarget(name: "MQModelTests", dependencies: ["MQModel", "MQCheckpoint", "MQKernels"]),
        .testTarget(name: "MQProtocolTests", dependencies: ["MQProtocol", "MQSampling"]),
        .testTarget(name: "MQTransportTests", dependencies: ["MQTransport"]),
        .testTarget(name: "MQClientTests", dependencies: ["MQClient", "MQProtocol", "MQTransport"]),
        .testTarget(name: "MQCommandLineTests", dependencies: ["MQCommandLine", "MQProtocol"]),
        .testTarget(name: "MQWorkerTests", dependencies: [
            "MQWorker", "MQProtocol", "MQTransport", "MQModel", "MQCheckpoint",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Optimized even in debug builds: its deterministic simulation runs 10,000 seeded clusters.
        .testTarget(name: "MQCoordinatorTests", dependencies: ["MQCoordinator"], swiftSettings: [.unsafeFlags(["-O"])]),
        .testTarget(name: "MQClusterTests", dependencies: ["MQClient", "MQProtocol", "MQTransport", "MQEngine", "MQLocalCluster"]),
        .testTarget(name: "MQGatewayTests", dependencies: [
            "MQGateway", "MQClient", "MQLocalCluster", "MQEngine", "MQTokenizer",
        ]),
        .testTarget(name: "MQCLITests", dependencies: ["MQEngine", "MQClient", "MQLocalCluster", "mq"]),
    ]
)

// libFuzzer targets (Fuzz/, run by tools/fuzz.sh), only when FUZZ=1: they have no `main` (libFuzzer
// supplies it), so they link only in a build with `--sanitize=fuzzer`, never in a plain `swift build`.
if Context.environment["FUZZ"] == "1" {
    // Debian's libprotobuf-c has no coverage instrumentation. With FUZZ_PROTOBUF_C=1, tools/fuzz.sh has
    // put protobuf-c's one C file (from Debian's source package of the installed version) in
    // Fuzz/CProtobufC; linked into the protocol targets, it lets the fuzzer see inside the parser.
    let protobufC: [Target.Dependency] = Context.environment["FUZZ_PROTOBUF_C"] == "1" ? ["CProtobufCInstrumented"] : []
    if !protobufC.isEmpty {
        package.targets.append(.target(
            name: "CProtobufCInstrumented", path: "Fuzz/CProtobufC", publicHeadersPath: ".",
            cSettings: [.unsafeFlags(["-I/usr/include/protobuf-c"])]))
    }
    let fuzzTargets: [(name: String, directory: String, dependencies: [Target.Dependency])] = [
        ("fuzz-client-frame", "ClientFrame", ["MQProtocol"] + protobufC),
        ("fuzz-worker-frame", "WorkerFrame", ["MQProtocol"] + protobufC),
        ("fuzz-data-frame", "DataFrame", ["MQProtocol"] + protobufC),
        ("fuzz-safetensors-header", "SafetensorsHeader", ["MQCheckpoint"]),
        ("fuzz-config-json", "ConfigJSON", ["MQCheckpoint", "MQModel"]),
        ("fuzz-tokenizer-json", "TokenizerJSON", ["MQTokenizer"]),
    ]
    for target in fuzzTargets {
        package.targets.append(.executableTarget(
            name: target.name, dependencies: target.dependencies, path: "Fuzz/\(target.directory)"))
        package.products.append(.executable(name: target.name, targets: [target.name]))
    }
}
