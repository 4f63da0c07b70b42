/// Partial selection of the largest scores: one pass with a small sorted buffer, O(n + k log k) in practice.
struct TopK {
    let k: Int
    private(set) var best: [VectorIndex.Hit] = []
    private var threshold = -Float.infinity

    init(k: Int) {
        self.k = k
        best.reserveCapacity(k + 1)
    }

    /// Considers `scores[i]` as the score of row `firstRow + i`.
    mutating func consider(_ scores: UnsafeBufferPointer<Float>, firstRow: Int, allowed: ((Int) -> Bool)?) {
        guard k > 0 else { return }
        for index in 0..<scores.count {
            let score = scores[index]
            // NaN compares false and is skipped.
            guard score > threshold || (best.count < k && score == score) else { continue }
            let row = firstRow + index
            if let allowed, !allowed(row) { continue }
            consider(row: row, score: score)
        }
    }

    /// Considers one row's score.
    @inline(__always)
    mutating func consider(row: Int, score: Float) {
        guard k > 0, score > threshold || (best.count < k && score == score) else { return }
        // Insert keeping `best` sorted by descending score (ties: lower row first).
        var position = best.count
        while position > 0 && best[position - 1].score < score { position -= 1 }
        best.insert(VectorIndex.Hit(row: row, score: score), at: position)
        if best.count > k { best.removeLast() }
        if best.count == k { threshold = best[k - 1].score }
    }

    static func select(_ scores: UnsafeBufferPointer<Float>, k: Int, allowed: ((Int) -> Bool)?) -> [VectorIndex.Hit] {
        var top = TopK(k: k)
        top.consider(scores, firstRow: 0, allowed: allowed)
        return top.best
    }
}
