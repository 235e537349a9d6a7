// swift-tools-version:6.0
// funad: FUN-AD anomaly detection as YAML workflows. Layout and dependency direction:
// CLI → Stages → {Workflow, FunAD}; FunAD never imports Workflow or Lua.
import PackageDescription

/// Numeric kernels run plain loops over flat buffers; in release builds drop the
/// exclusivity and overflow checks that would otherwise dominate those loops.
/// Debug builds (and so the unit tests' overflow checks) keep them.
let kernelSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "funad",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "funad", targets: ["FunADCLI"]),
        .library(name: "Workflow", targets: ["Workflow"]),
        .library(name: "FunAD", targets: ["FunAD"]),
        // The funad stage types, for tools that embed them (the fuzz harnesses in Fuzz/
        // validate workflows against the real registry).
        .library(name: "Stages", targets: ["Stages"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System-library shims (installed by scripts/setup).
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),

        // The C half of the Lua host: everything Lua calls that may raise a Lua error
        // (longjmp must never cross a Swift frame). Links the system liblua5.4 via CLua.
        .target(name: "CLuaSandbox", dependencies: ["CLua"]),
        // Generic workflow engine: knows nothing of anomaly detection.
        .target(name: "Workflow", dependencies: ["CYAML", "CLua", "CLuaSandbox"]),
        // The method and its kernels.
        .target(name: "FunAD", dependencies: ["COpenBLAS", "CPNG", "CTurboJPEG"], swiftSettings: kernelSettings),
        // Stage types: adapters from Workflow to FunAD.
        .target(name: "Stages", dependencies: ["Workflow", "FunAD"]),
        // Benchmarks of the hot paths (`funad bench`), beside the libraries rather than in
        // them: the method's library holds the method. bench/ holds their references.
        .target(name: "FunADBench", dependencies: ["Stages", "Workflow", "FunAD"], swiftSettings: kernelSettings),
        // The `funad` executable.
        .executableTarget(name: "FunADCLI", dependencies: [
            "Stages", "Workflow", "FunAD", "FunADBench",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Stage types made for the engine's own tests, and a process that runs them (so a
        // test can really kill a run half-way and resume it).
        .target(name: "WorkflowTestSupport", dependencies: ["Workflow"], path: "Tests/WorkflowTestSupport"),
        .executableTarget(name: "workflow-test-worker", dependencies: ["WorkflowTestSupport", "Workflow"], path: "Tests/WorkflowTestWorker"),
        .testTarget(name: "WorkflowTests", dependencies: ["Workflow", "WorkflowTestSupport", "workflow-test-worker"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FunADTests", dependencies: ["FunAD"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "Workflow", "FunAD"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FunADCLITests", dependencies: ["FunADCLI"]),
    ]
)
