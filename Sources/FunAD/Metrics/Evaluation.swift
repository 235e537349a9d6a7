import Foundation

/// Errors of the evaluation layer; each names the image or field and what was expected.
public struct EvaluationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One test image as the evaluator sees it.
public struct EvaluationSample: Sendable {
    /// Identifier used in messages and reports (e.g. "crack/003").
    public var name: String
    /// Defect type of an anomalous image ("crack"); ignored for normal images.
    public var defectType: String
    public var isAnomalous: Bool
    /// Ground-truth mask, map-sized (224×224 after the crop), channel 0 used, > 0 ⇒ defect.
    /// nil for a normal image means all normal; nil for an anomalous image disables the
    /// pixel metrics of the subsets containing it (reported with the image's name).
    public var mask: ImagePlanes?

    public init(name: String, defectType: String, isAnomalous: Bool, mask: ImagePlanes?) {
        self.name = name; self.defectType = defectType; self.isAnomalous = isAnomalous; self.mask = mask
    }
}

/// Anything holding one anomaly map per test image.
public protocol AnomalyMapSource: Sendable {
    var count: Int { get }
    var height: Int { get }
    var width: Int { get }
    func map(_ index: Int, into buffer: UnsafeMutablePointer<Float>)
}

extension AnomalyMapReader: AnomalyMapSource {}

/// Maps held in memory (tests, small sets).
public struct InMemoryMaps: AnomalyMapSource {
    public let count: Int
    public let height: Int
    public let width: Int
    public let values: [Float]

    public init(height: Int, width: Int, maps: [[Float]]) {
        precondition(maps.allSatisfy { $0.count == height * width }, "InMemoryMaps: every map must hold \(height)×\(width) values")
        self.count = maps.count; self.height = height; self.width = width
        self.values = maps.flatMap { $0 }
    }

    public func map(_ index: Int, into buffer: UnsafeMutablePointer<Float>) {
        let n = height * width
        values.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + index * n, count: n) }
    }
}

public struct EvaluationOptions: Sendable {
    /// AUPRO integrates the PRO curve over FPR ∈ [0, fprLimit] (0.3, METHOD.md step 6).
    public var fprLimit: Double = 0.3
    /// Most points kept per ROC curve written out.
    public var rocPoints: Int = 1000
    public init(fprLimit: Double = 0.3, rocPoints: Int = 1000) {
        self.fprLimit = fprLimit; self.rocPoints = rocPoints
    }
}

/// Metrics of one subset: "overall" (every test image) or one defect type (that type's
/// anomalous images + all normal test images, the usual per-type protocol).
public struct SubsetMetrics: Sendable {
    public var name: String
    public var normalImages: Int
    public var anomalousImages: Int
    public var imageAUROC: MetricValue
    public var pixelAUROC: MetricValue
    public var aupro: MetricValue
    public var imageF1Max: ThresholdedMetric
    public var pixelF1Max: ThresholdedMetric
}

public struct EvaluationResult: Sendable {
    public var overall: SubsetMetrics
    /// Sorted by defect type name.
    public var perDefectType: [SubsetMetrics]
    public var imageROC: [ROCPoint]
    public var pixelROC: [ROCPoint]
    /// The overall PRO curve up to `fprLimit` (empty when AUPRO is undefined).
    public var proCurve: [PROPoint] = []
    public var fprLimit: Double
}

/// The `evaluate` step (METHOD.md step 6): image AUROC, pixel AUROC, AUPRO, F1-max.
public enum Evaluation {
    public static func evaluate(samples: [EvaluationSample], imageScores: [Float],
                                maps: (any AnomalyMapSource)?, options: EvaluationOptions = .init()) throws -> EvaluationResult {
        guard imageScores.count == samples.count else {
            throw EvaluationError("evaluate: \(imageScores.count) image scores for \(samples.count) test images")
        }
        for (i, s) in imageScores.enumerated() where !s.isFinite {
            throw EvaluationError("evaluate: image '\(samples[i].name)' has score \(s); expected a finite number")
        }
        if let maps, maps.count != samples.count {
            throw EvaluationError("evaluate: the map file holds \(maps.count) maps for \(samples.count) test images")
        }
        let normal = samples.indices.filter { !samples[$0].isAnomalous }
        let types = Set(samples.filter(\.isAnomalous).map(\.defectType)).sorted()

        let normalImage = imageRanked(normal, scores: imageScores, samples: samples)
        let normalPixels = try maps.map { try PixelGroup(indices: normal, samples: samples, maps: $0) }

        var rows = [SubsetMetrics]()
        var allImage = normalImage
        var allPixels = normalPixels
        for t in types {
            let idx = samples.indices.filter { samples[$0].isAnomalous && samples[$0].defectType == t }
            let typeImage = RankedScores.merge(normalImage, imageRanked(idx, scores: imageScores, samples: samples))
            let typePixels = try maps.map { try PixelGroup(indices: idx, samples: samples, maps: $0) }
            let merged = typePixels.flatMap { tp in normalPixels.map { PixelGroup.merge($0, tp) } }
            rows.append(subset(name: t, normal: normal.count, anomalous: idx.count, image: typeImage, pixels: merged,
                               hasMaps: maps != nil, options: options))
            allImage = RankedScores.merge(allImage, imageRanked(idx, scores: imageScores, samples: samples))
            if let tp = typePixels, let ap = allPixels { allPixels = PixelGroup.merge(ap, tp) }
        }
        let anomalousCount = samples.count - normal.count
        let overall = subset(name: "overall", normal: normal.count, anomalous: anomalousCount, image: allImage,
                             pixels: allPixels, hasMaps: maps != nil, options: options)
        let pixelROC = allPixels.flatMap { $0.missingMask == nil ? BinaryMetrics.rocCurve($0.ranked, maxPoints: options.rocPoints) : nil } ?? []
        let proCurve = allPixels.flatMap {
            $0.missingMask == nil ? BinaryMetrics.proCurve($0.ranked, fprLimit: options.fprLimit, maxPoints: options.rocPoints) : nil
        } ?? []
        return EvaluationResult(overall: overall, perDefectType: rows,
                                imageROC: BinaryMetrics.rocCurve(allImage, maxPoints: options.rocPoints),
                                pixelROC: pixelROC, proCurve: proCurve, fprLimit: options.fprLimit)
    }

    static func imageRanked(_ idx: [Int], scores: [Float], samples: [EvaluationSample]) -> RankedScores {
        RankedScores(scores: idx.map { scores[$0] }, labels: idx.map { samples[$0].isAnomalous })
    }

    static func subset(name: String, normal: Int, anomalous: Int, image: RankedScores, pixels: PixelGroup?,
                       hasMaps: Bool, options: EvaluationOptions) -> SubsetMetrics {
        let pixelAUROC: MetricValue, aupro: MetricValue, pixelF1: ThresholdedMetric
        if let pixels, pixels.missingMask == nil {
            pixelAUROC = BinaryMetrics.auroc(pixels.ranked, what: "pixels")
            aupro = BinaryMetrics.aupro(pixels.ranked, fprLimit: options.fprLimit)
            pixelF1 = BinaryMetrics.f1Max(pixels.ranked, what: "pixels")
        } else {
            let reason = pixels?.missingMask.map { "anomalous image '\($0)' has no ground-truth mask" }
                ?? "no anomaly maps were given"
            pixelAUROC = .undefined(reason); aupro = .undefined(reason)
            pixelF1 = ThresholdedMetric(metric: .undefined(reason), threshold: nil)
        }
        return SubsetMetrics(name: name, normalImages: normal, anomalousImages: anomalous,
                             imageAUROC: BinaryMetrics.auroc(image, what: "images"),
                             pixelAUROC: pixelAUROC, aupro: aupro,
                             imageF1Max: BinaryMetrics.f1Max(image, what: "images"), pixelF1Max: pixelF1)
    }
}

/// The ranked pixel scores of a set of images, with each ground-truth region's pixels
/// weighted 1/|region| for AUPRO.
struct PixelGroup {
    var ranked: RankedScores
    /// Name of the first anomalous image without a mask, if any.
    var missingMask: String?

    init(indices: [Int], samples: [EvaluationSample], maps: any AnomalyMapSource) throws {
        let h = maps.height, w = maps.width, n = h * w
        var negKeys = [UInt32](), posKeys = [UInt32](), posWeights = [Double]()
        negKeys.reserveCapacity(indices.count * n)
        var regions = 0
        var map = [Float](repeating: 0, count: n)
        var zeros: [Float]? = nil
        for i in indices {
            let s = samples[i]
            let mask: [Float]
            if let m = s.mask {
                guard m.width == w, m.height == h else {
                    throw EvaluationError("evaluate: mask of image '\(s.name)' is \(m.width)×\(m.height); its anomaly map is \(w)×\(h)")
                }
                mask = Array(m.data[0..<n])
            } else if s.isAnomalous {
                missingMask = missingMask ?? s.name
                continue
            } else {
                if zeros == nil { zeros = [Float](repeating: 0, count: n) }
                mask = zeros!
            }
            map.withUnsafeMutableBufferPointer { maps.map(i, into: $0.baseAddress!) }
            let cc = mask.withUnsafeBufferPointer { ConnectedComponents(mask: $0, height: h, width: w) }
            regions += cc.count
            for p in 0..<n {
                let v = map[p]
                guard !v.isNaN else { throw EvaluationError("evaluate: anomaly map of image '\(s.name)' has NaN at pixel \(p)") }
                let label = Int(cc.labels[p])
                if label == 0 { negKeys.append(ScoreKeys.key(v)) } else {
                    posKeys.append(ScoreKeys.key(v)); posWeights.append(1 / Double(cc.sizes[label - 1]))
                }
            }
        }
        ranked = RankedScores(negativeKeys: negKeys, positiveKeys: posKeys, positiveWeights: posWeights, regionCount: regions)
    }

    init(ranked: RankedScores, missingMask: String?) { self.ranked = ranked; self.missingMask = missingMask }

    static func merge(_ a: PixelGroup, _ b: PixelGroup) -> PixelGroup {
        PixelGroup(ranked: RankedScores.merge(a.ranked, b.ranked), missingMask: a.missingMask ?? b.missingMask)
    }
}
