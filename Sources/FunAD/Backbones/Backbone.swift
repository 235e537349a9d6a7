/// Output of a backbone for a batch: per image a global vector and a grid of local vectors.
///
/// The global vector is the ViT class token (or a pooled CNN stage); the local vectors are
/// patch tokens (or CNN stages at a common stride). Downstream, the patch feature is
/// f_ij = [global ‖ local_j], global FIRST (METHOD.md step 2).
public struct BackboneFeatures: Sendable {
    public var batch: Int, globalDim: Int, localDim: Int, gridHeight: Int, gridWidth: Int
    public var global: [Float]   // batch × globalDim
    public var local: [Float]    // batch × (gridHeight·gridWidth) × localDim, row-major patches

    public init(batch: Int, globalDim: Int, localDim: Int, gridHeight: Int, gridWidth: Int,
                global: [Float], local: [Float]) {
        precondition(global.count == batch * globalDim, "BackboneFeatures: \(global.count) global values for \(batch)×\(globalDim)")
        precondition(local.count == batch * gridHeight * gridWidth * localDim,
                     "BackboneFeatures: \(local.count) local values for \(batch)×\(gridHeight)×\(gridWidth)×\(localDim)")
        self.batch = batch
        self.globalDim = globalDim
        self.localDim = localDim
        self.gridHeight = gridHeight
        self.gridWidth = gridWidth
        self.global = global
        self.local = local
    }
}

/// A pretrained feature extractor E (METHOD.md step 2): images in, global + local features out.
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

/// Errors from running a backbone on user data: each names the backbone and what was expected.
public struct BackboneError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
