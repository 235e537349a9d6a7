// swift-tools-version:6.0
// libFuzzer harnesses for funad's readers of untrusted files (issue 13). Not part of
// `make test`: `scripts/fuzz TARGET SECONDS` builds this package with
// `--sanitize=fuzzer --sanitize=address` and runs one harness. One executable per reader;
// each exports `LLVMFuzzerTestOneInput` and libFuzzer supplies `main`.
import PackageDescription

/// libFuzzer provides `main`, so the harness files are parsed as libraries (no top-level code).
let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

func fuzzTarget(_ name: String, _ deps: [Target.Dependency]) -> Target {
    .executableTarget(name: "fuzz-\(name)", dependencies: deps, path: "Sources/\(name)", swiftSettings: harness)
}

let package = Package(
    name: "funad-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "funad", path: "../")],
    targets: [
        fuzzTarget("workflow", [.product(name: "Workflow", package: "funad"), .product(name: "Stages", package: "funad")]),
        fuzzTarget("checkpoint", [.product(name: "FunAD", package: "funad")]),
        fuzzTarget("pickle", [.product(name: "FunAD", package: "funad")]),
        fuzzTarget("safetensors", [.product(name: "FunAD", package: "funad")]),
        fuzzTarget("zip", [.product(name: "FunAD", package: "funad")]),
        fuzzTarget("png", [.product(name: "FunAD", package: "funad")]),
        fuzzTarget("jpeg", [.product(name: "FunAD", package: "funad")]),
        fuzzTarget("csv", [.product(name: "FunAD", package: "funad")]),
    ]
)
