import Foundation
import Workflow

/// The stage types funad ships, registered with the workflow engine.
public enum FunADStages {
    /// The compiled-in stage types only.
    public static var registry: StageRegistry {
        StageRegistry([DemoDataStage(), LoadStage(), SynthesizeStage(), ExtractStage(), TrainStage(), PatchCoreStage(), InferStage(), EvaluateStage(), PredictStage()])
    }

    /// The compiled-in types plus the plugin stages found in `pluginDirectories`
    /// (see `PluginStageLoader.defaultDirectories`). Each file that does not load is
    /// passed to `warn` as one line and leaves the other types usable.
    public static func registry(pluginDirectories: [URL], warn: (String) -> Void = { _ in }) -> StageRegistry {
        var registry = Self.registry
        let outcome = PluginStageLoader.load(directories: pluginDirectories, reserved: Set(registry.sortedNames))
        for type in outcome.types { registry.register(type) }
        for (name, problem) in outcome.unavailable { registry.markUnavailable(name, problem: problem) }
        outcome.warnings.forEach(warn)
        return registry
    }
}
