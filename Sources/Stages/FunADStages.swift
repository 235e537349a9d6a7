import Workflow

/// The stage types funad ships, registered with the workflow engine.
public enum FunADStages {
    public static var registry: StageRegistry {
        StageRegistry([DemoDataStage(), LoadStage(), SynthesizeStage(), ExtractStage(), TrainStage(), PatchCoreStage(), InferStage(), EvaluateStage()])
    }
}
