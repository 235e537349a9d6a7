/// Connected regions of a binary mask with 8-connectivity (as OpenCV's
/// `connectedComponents` default that anomalib's CPU path uses, and as
/// `scipy.ndimage.label` with a 3×3 structure of ones).
struct ConnectedComponents {
    /// Per pixel: 0 = background, 1…count = region label.
    var labels: [Int32]
    /// sizes[k − 1] = pixel count of region k.
    var sizes: [Int]
    var count: Int { sizes.count }

    /// mask is (height, width); a pixel is foreground when `foreground(value)`.
    init(mask: UnsafeBufferPointer<Float>, height: Int, width: Int) {
        labels = [Int32](repeating: 0, count: height * width)
        sizes = []
        var stack = [Int]()
        for start in 0..<(height * width) where mask[start] > 0 && labels[start] == 0 {
            let label = Int32(sizes.count + 1)
            var size = 0
            labels[start] = label
            stack.append(start)
            while let p = stack.popLast() {
                size += 1
                let y = p / width, x = p % width
                for dy in -1...1 {
                    let yy = y + dy
                    if yy < 0 || yy >= height { continue }
                    for dx in -1...1 {
                        let xx = x + dx
                        if xx < 0 || xx >= width || (dx == 0 && dy == 0) { continue }
                        let q = yy * width + xx
                        if mask[q] > 0 && labels[q] == 0 { labels[q] = label; stack.append(q) }
                    }
                }
            }
            sizes.append(size)
        }
    }
}
