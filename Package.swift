// swift-tools-version:6.0
// clipig — a native Swift successor of CLIPig, the YAML-driven CLIP image generator.
import PackageDescription

let package = Package(
  name: "clipig",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "clipig", targets: ["clipig"]),
    .library(name: "ExprEval", targets: ["ExprEval"]),
    .library(name: "PipelineKit", targets: ["PipelineKit"]),
    .library(name: "PipelineKitTesting", targets: ["PipelineKitTesting"]),
    .library(name: "Transforms", targets: ["Transforms"]),
    .library(name: "Constraints", targets: ["Constraints"]),
    .library(name: "CLIP", targets: ["CLIP"]),
    .library(name: "Runner", targets: ["Runner"]),
    .library(name: "Studio", targets: ["Studio"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
  ],
  targets: [
    // C libraries from the system (see scripts/bootstrap). Each is imported by exactly one Swift module.
    .systemLibrary(
      name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
    .systemLibrary(
      name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
      providers: [.apt(["libyaml-dev"])]),
    .systemLibrary(
      name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

    .target(name: "ExprEval"),
    .target(name: "PipelineKit", dependencies: ["ExprEval", "COpenBLAS", "CPNG", "CYAML"]),
    .target(name: "PipelineKitTesting", dependencies: ["PipelineKit"]),
    .target(name: "Transforms", dependencies: ["PipelineKit"]),
    .target(name: "Constraints", dependencies: ["PipelineKit"]),
    .target(
      name: "CLIP", dependencies: ["PipelineKit", "CZlib"],
      resources: [.copy("Resources/bpe_simple_vocab_16e6.txt.gz")]),
    .target(
      name: "Runner",
      dependencies: ["ExprEval", "PipelineKit", "Transforms", "Constraints", "CLIP"]),
    .target(
      name: "Studio",
      dependencies: [
        "Runner", "PipelineKit", "CLIP",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    .executableTarget(
      name: "clipig",
      dependencies: [
        "Runner", "Studio", "PipelineKit", "Transforms", "Constraints", "CLIP", "ExprEval",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "CustomTransform",
      dependencies: ["PipelineKit", "Transforms", "PipelineKitTesting", "Runner"],
      path: "Examples/CustomTransform"),

    .testTarget(
      name: "ExprEvalTests", dependencies: ["ExprEval"], resources: [.copy("Fixtures")]),
    .testTarget(
      name: "PipelineKitTests", dependencies: ["PipelineKit", "PipelineKitTesting", "ExprEval"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "TransformsTests", dependencies: ["Transforms", "PipelineKit", "PipelineKitTesting"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "ConstraintsTests", dependencies: ["Constraints", "PipelineKit", "PipelineKitTesting"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "CLIPTests", dependencies: ["CLIP", "PipelineKit"], resources: [.copy("Fixtures")]),
    .testTarget(
      name: "RunnerTests", dependencies: ["Runner", "PipelineKit", "ExprEval", "CLIP"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "StudioTests",
      dependencies: [
        "Studio", "Runner", "PipelineKit",
        .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        .product(name: "Logging", package: "swift-log"),
      ],
      resources: [.copy("Fixtures")]),
  ]
)
