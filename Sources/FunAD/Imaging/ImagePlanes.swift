/// A decoded image as planar float channels: `channels × height × width`, row-major,
/// values in [0, 1] unless a step (normalisation) says otherwise. Planar (CHW) because
/// that is what backbones consume and what convolution's im2col reads.
public struct ImagePlanes: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var data: [Float]

    public init(width: Int, height: Int, channels: Int, data: [Float]) {
        precondition(data.count == width * height * channels,
                     "ImagePlanes: \(data.count) values for \(channels)×\(height)×\(width)")
        self.width = width
        self.height = height
        self.channels = channels
        self.data = data
    }

    public init(width: Int, height: Int, channels: Int, fill: Float = 0) {
        self.init(width: width, height: height, channels: channels,
                  data: [Float](repeating: fill, count: width * height * channels))
    }

    /// Value at channel `c`, row `y`, column `x`.
    @inlinable public subscript(c: Int, y: Int, x: Int) -> Float {
        get { data[(c * height + y) * width + x] }
        set { data[(c * height + y) * width + x] = newValue }
    }
}
