import Foundation
import Testing

/// `funad stages` with plugin stages: listed like built-ins and marked with their file;
/// a broken plugin is one warning line and the command still succeeds.
@Suite struct PluginStageCLITests {
    static let plugins = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../plugins/stages").standardizedFileURL

    func funad(_ args: [String], pluginPath: String, in dir: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = CLITests.funad
        p.arguments = args
        p.currentDirectoryURL = dir
        p.environment = ProcessInfo.processInfo.environment.merging(["FUNAD_PLUGIN_PATH": pluginPath]) { _, new in new }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func stagesListsThePluginMarkedWithItsFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-cli-plugins-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "stage = {type = 'broken', version = 1}\n".write(to: dir.appendingPathComponent("broken.lua"), atomically: true, encoding: .utf8)
        let r = try funad(["stages"], pluginPath: "\(Self.plugins.path):\(dir.path)", in: dir)
        #expect(r.status == 0)
        let file = Self.plugins.appendingPathComponent("score-ensemble.lua").path
        #expect(r.stdout.contains("\nscore-ensemble (v1) (plugin: \(file)): combines two or more scores artifacts of the same test set by rank or min-max averaging\n  consumes: scores\n  produces: scores\n"))
        #expect(r.stdout.contains("    method: one of rank|minmax, default \"rank\" — "))
        #expect(r.stderr == "funad: warning: plugin stage not loaded: broken.lua: stage.summary is missing; expected a one-line description\n")
        // Set but empty: no plugin stages at all.
        let none = try funad(["stages"], pluginPath: "", in: dir)
        #expect(none.status == 0 && !none.stdout.contains("score-ensemble") && none.stderr.isEmpty)
    }
}
