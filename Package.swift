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
    .library(name: "Formats", targets: ["Formats"]),
    .library(name: "CLIP", targets: ["CLIP"]),
    .library(name: "ModelStore", targets: ["ModelStore"]),
    .library(name: "Runner", targets: ["Runner"]),
    .library(name: "Workflows", targets: ["Workflows"]),
    .library(name: "Parametrizations", targets: ["Parametrizations"]),
    .library(name: "Studio", targets: ["Studio"]),
    // The command line as a library: a plugin's executable is `ClipigMain.main(plugins: […])`.
    .library(name: "ClipigCLI", targets: ["ClipigCLI"]),
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
      name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f",
      providers: [.apt(["libfftw3-dev"])]),
    .systemLibrary(
      name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
    .systemLibrary(
      name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
      providers: [.apt(["libyaml-dev"])]),
    .systemLibrary(
      name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(
      name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
      providers: [.apt(["libturbojpeg0-dev"])]),
    .systemLibrary(
      name: "CWebP", path: "Sources/CWebP", pkgConfig: "libwebp", providers: [.apt(["libwebp-dev"])]
    ),
    .systemLibrary(
      name: "CWebPMux", path: "Sources/CWebPMux", pkgConfig: "libwebpmux",
      providers: [.apt(["libwebp-dev"])]),

    // bf16 GEMM (AVX512_BF16 microkernel chosen at run time, portable emulation); plain C.
    .target(name: "CBF16", path: "Sources/CBF16"),
    // The expression language of parameters; no dependencies.
    .target(name: "ExprEval"),
    // Tensor, stage protocol and registries, parameters, configuration tree, primitives, BLAS.
    .target(name: "PipelineKit", dependencies: ["ExprEval", "COpenBLAS"]),
    // File formats and file primitives: YAML, PNG/JPEG/WebP, JSON, gzip/deflate, atomic writes.
    .target(
      name: "Formats",
      dependencies: [
        "PipelineKit", "CYAML", "CPNG", "CZlib", "CTurboJPEG", "CWebP", "CWebPMux",
      ]),
    .target(name: "PipelineKitTesting", dependencies: ["PipelineKit", "Formats"]),
    .target(name: "Transforms", dependencies: ["PipelineKit"]),
    .target(name: "Constraints", dependencies: ["PipelineKit"]),
    // Image parametrizations (pixels, Fourier spectrum, colour basis, value mapping); FFTW.
    .target(name: "Parametrizations", dependencies: ["PipelineKit", "CFFTW"]),
    // The network: tokenizer, text and image towers, kernels, backward pass to the pixels.
    .target(
      name: "CLIP", dependencies: ["PipelineKit", "Formats", "CBF16"],
      resources: [.copy("Resources/bpe_simple_vocab_16e6.txt.gz")]),
    // Weights: known models, download, cache, checkpoint readers (safetensors, .pt, config files).
    .target(name: "ModelStore", dependencies: ["CLIP", "PipelineKit", "Formats"]),
    // The training engine: experiment loading, view sampler, objective, optimizers, sessions.
    .target(
      name: "Runner",
      dependencies: [
        "ExprEval", "PipelineKit", "Formats", "Transforms", "Constraints", "CLIP", "ModelStore",
        "Parametrizations",
      ]),
    // Many renders: batch grids, ranking, galleries, job claiming.
    .target(name: "Workflows", dependencies: ["Runner", "PipelineKit", "Formats"]),
    // `clipig studio`: the local web app (Hummingbird server, training queue, page).
    .target(
      name: "Studio",
      dependencies: [
        "Runner", "CLIP", "PipelineKit", "Formats", "ExprEval",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    // The commands (argument parsing only), plugin loading and the plugin scaffold.
    .target(
      name: "ClipigCLI",
      dependencies: [
        "Runner", "Workflows", "Studio", "PipelineKit", "Formats", "Transforms", "Constraints",
        "CLIP", "ModelStore", "ExprEval", "Parametrizations",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // The stock executable: the command line with no plugins.
    .executableTarget(name: "clipig", dependencies: ["ClipigCLI"]),
    .executableTarget(
      name: "CustomTransform",
      dependencies: ["PipelineKit", "Transforms", "PipelineKitTesting", "Runner", "Formats"],
      path: "Examples/CustomTransform"),

    // What the test suites share: the built `clipig` executable and the one way they run a
    // program, scratch folders, the repository's shared fixtures.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    .testTarget(
      name: "ExprEvalTests", dependencies: ["ExprEval", "PipelineKit"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "PipelineKitTests",
      dependencies: ["PipelineKit", "PipelineKitTesting", "ExprEval", "Formats"]),
    .testTarget(
      name: "FormatsTests",
      dependencies: ["Formats", "PipelineKit", "PipelineKitTesting", "TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "TransformsTests", dependencies: ["Transforms", "PipelineKit", "PipelineKitTesting"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "ConstraintsTests", dependencies: ["Constraints", "PipelineKit", "PipelineKitTesting"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "ParametrizationsTests",
      dependencies: ["Parametrizations", "PipelineKit", "PipelineKitTesting", "Formats"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "CLIPTests",
      dependencies: ["CLIP", "ModelStore", "PipelineKit", "PipelineKitTesting", "TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "ModelStoreTests",
      dependencies: ["ModelStore", "CLIP", "PipelineKit", "Formats", "TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "RunnerTests",
      dependencies: [
        "Runner", "PipelineKit", "PipelineKitTesting", "Formats", "CLIP", "ModelStore",
        "Transforms", "Constraints", "Parametrizations", "TestSupport",
      ],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "PluginTests", dependencies: ["Runner", "PipelineKit", "TestSupport"]),
    .testTarget(
      name: "WorkflowsTests",
      dependencies: ["Workflows", "Runner", "CLIP", "PipelineKit", "Formats", "TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "StudioTests",
      dependencies: ["Studio", "PipelineKit", "Formats", "TestSupport"],
      resources: [.copy("Fixtures")]),
  ]
)
