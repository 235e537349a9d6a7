/// Buffers and arithmetic of one optimisation step over a batch of `rows` patch
/// features: clean forward, optional perturbed forward of the ambiguous rows, the
/// FUN-AD loss, one backward over clean + perturbed rows together, gradients.
/// Owned by one trainer (not shared across threads).
package final class TrainingStep {
    let shape: LocalNetShape
    private(set) var capacityRows: Int
    /// (2·capacityRows, D): clean batch rows first, then the perturbed copies.
    package private(set) var inputs: UnsafeMutablePointer<Float>
    let workspace: LocalNetWorkspace
    /// dL/dz for clean + perturbed rows.
    private(set) var gradLogits: UnsafeMutablePointer<Float>
    /// Flat parameter gradients.
    package var gradients: [Float]

    package init(shape: LocalNetShape, rows: Int) {
        self.shape = shape
        capacityRows = rows
        inputs = .allocate(capacity: 2 * rows * shape.dimension)
        gradLogits = .allocate(capacity: 2 * rows)
        workspace = LocalNetWorkspace(shape: shape, capacity: 2 * rows, withBackward: true)
        gradients = [Float](repeating: 0, count: shape.offsets.total)
    }

    deinit {
        inputs.deallocate()
        gradLogits.deallocate()
    }

    /// Use the shared global prefix of each image's rows when the data has one
    /// (`SharedPrefix`); tests switch it off to compare both paths.
    var exploitSharedPrefix = true
    /// The structure found by the last `forwardClean`.
    private(set) var prefix = SharedPrefix.none

    /// Forward of the clean rows [0, rows) of `inputs` (images of `imageRows` rows each);
    /// adapted features and scores land in the workspace's first `rows` rows.
    package func forwardClean(parameters: LocalNetParameters, rows: Int, imageRows: Int = 1) {
        prefix = exploitSharedPrefix && imageRows > 0 && rows % imageRows == 0
            ? SharedPrefix.detect(inputs, images: rows / imageRows, imageRows: imageRows, dimension: shape.dimension)
            : .none
        parameters.values.withUnsafeBufferPointer { w in
            LocalNetPass.forward(parameters: w.baseAddress!, shape: shape, x: inputs, rows: rows, into: workspace, prefix: prefix)
        }
    }

    /// Given the clean forward, the labels, the mutual pairs and the perturbed copies of
    /// the ambiguous rows (already written to `inputs` rows [rows, rows + perturbed.count)),
    /// forwards the copies, evaluates L = L_BCE + λ·L_MS and sets `gradients` to ∂L/∂θ.
    /// BCE uses the perturbed prediction for each perturbed row and the clean one
    /// otherwise; L_MS uses clean predictions (official code).
    package func lossAndGradients(parameters: LocalNetParameters, rows: Int, labels: [UInt8], perturbedRows: [Int],
                          pairs: MutualPairs, lambda: Float, reduction: MutualSmoothnessReduction) -> LossValues {
        let extra = perturbedRows.count
        let total = rows + extra
        var predictionRow = Array(0..<rows)
        for (k, r) in perturbedRows.enumerated() { predictionRow[r] = rows + k }
        gradLogits.update(repeating: 0, count: total)
        for k in gradients.indices { gradients[k] = 0 }
        return parameters.values.withUnsafeBufferPointer { w in
            LocalNetPass.forward(parameters: w.baseAddress!, shape: shape, x: inputs + rows * shape.dimension,
                                 rows: extra, into: workspace, firstRow: rows)
            let bce = FunADLoss.balancedBCE(scores: workspace.scores, labels: labels, predictionRow: predictionRow,
                                            gradLogits: gradLogits)
            let ms = FunADLoss.mutualSmoothness(scores: workspace.scores, pairs: pairs, lambda: lambda,
                                                reduction: reduction, gradLogits: gradLogits)
            gradients.withUnsafeMutableBufferPointer { g in
                LocalNetPass.backward(parameters: w.baseAddress!, gradients: g.baseAddress!, shape: shape, x: inputs,
                                      gradLogits: gradLogits, rows: total, workspace: workspace,
                                      prefix: prefix, prefixRows: rows)
            }
            return LossValues(total: bce + lambda * ms, bce: bce, mutualSmoothness: ms)
        }
    }
}
