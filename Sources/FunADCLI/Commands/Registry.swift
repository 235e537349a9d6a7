import Foundation
import Stages
import Workflow

/// The registry every command uses: the built-in stage types and the plugin stages of
/// the default plugin folders. A plugin that fails to load is one warning line on
/// stderr, not a failed command.
enum CommandRegistry {
    static func load() -> StageRegistry {
        let folders = PluginStageLoader.defaultDirectories(environment: ProcessInfo.processInfo.environment,
                                                           executablePath: CommandLine.arguments.first,
                                                           currentDirectory: FileManager.default.currentDirectoryPath)
        return FunADStages.registry(pluginDirectories: folders) { warning in
            FileHandle.standardError.write(Data("funad: warning: plugin stage not loaded: \(warning)\n".utf8))
        }
    }
}
