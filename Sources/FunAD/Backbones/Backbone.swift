/// Output of a backbone for a batch: per image a global vector and a grid of local vectors.
public struct BackboneFeatures: Sendable {
    public var batch: Int, globalDim: Int, localDim: Int, gridHeight: Int, gridWidth: Int
    public var global: [Float]   // batch × globalDim
    public var local: [Float]    // batch × (gridHeight·gridWidth) × localDim, row-major patches
}
public protocol Backbone: Sendable {
    var name: String { get }
    var inputSize: Int { get }                 // square input side, e.g. 224
    /// Per-channel normalisation this backbone's weights were trained with (applied to [0,1] RGB).
    var mean: [Float] { get }
    var std: [Float] { get }
    var globalDim: Int { get }
    var localDim: Int { get }
    func gridSize(forInput side: Int) -> (height: Int, width: Int)
    /// images: batch × 3 × side × side, already normalised, CHW planar.
    func forward(_ images: [Float], batch: Int, side: Int) throws -> BackboneFeatures
}
