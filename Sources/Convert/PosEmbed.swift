/// pos_embed adaptation of SSAST's ASTModel(pretrain_stage=False), quirks included:
/// the patch part is viewed as (D, pF, pT); time is centre-cut when shorter, else bilinearly resized
/// to (8, tDim) — the 8 is hard-coded in the original; then frequency is sliced when shorter (with the
/// original's slice length tDim, clamped by Python slicing), else resized to (fDim, tDim).
public enum PosEmbed {
    /// `pos`: [classTokens + pF*pT, dim] row-major. Returns [classTokens + fDim*tDim, dim].
    public static func adapt(_ pos: [Float], dim D: Int, classTokens: Int, pFDim: Int, pTDim: Int, fDim: Int, tDim: Int) -> [Float] {
        // grid[d][f][t]
        var grid = [Float](repeating: 0, count: D * pFDim * pTDim)
        for n in 0..<(pFDim * pTDim) { for d in 0..<D { grid[d * pFDim * pTDim + n] = pos[(classTokens + n) * D + d] } }
        var rows = pFDim, cols = pTDim
        if tDim < pTDim {
            let start = pTDim / 2 - tDim / 2
            grid = crop(grid, D, rows, cols, rowStart: 0, rowCount: rows, colStart: start, colCount: tDim)
            cols = tDim
        } else {
            grid = bilinear(grid, D, rows, cols, outRows: 8, outCols: tDim)
            rows = 8; cols = tDim
        }
        if fDim < pFDim {
            let start = pFDim / 2 - fDim / 2
            let end = min(start + tDim, rows)   // the original slices with tDim, not fDim
            grid = crop(grid, D, rows, cols, rowStart: start, rowCount: max(0, end - start), colStart: 0, colCount: cols)
            rows = max(0, end - start)
        } else {
            grid = bilinear(grid, D, rows, cols, outRows: fDim, outCols: tDim)
            rows = fDim
        }
        var out = Array(pos[0..<(classTokens * D)])
        out.reserveCapacity((classTokens + rows * cols) * D)
        for n in 0..<(rows * cols) { for d in 0..<D { out.append(grid[d * rows * cols + n]) } }
        return out
    }

    static func crop(_ g: [Float], _ D: Int, _ rows: Int, _ cols: Int, rowStart: Int, rowCount: Int, colStart: Int, colCount: Int) -> [Float] {
        var out = [Float](repeating: 0, count: D * rowCount * colCount)
        for d in 0..<D { for r in 0..<rowCount { for c in 0..<colCount {
            out[(d * rowCount + r) * colCount + c] = g[(d * rows + rowStart + r) * cols + colStart + c]
        } } }
        return out
    }

    /// torch.nn.functional.interpolate(mode='bilinear', align_corners=False), float32 arithmetic.
    static func bilinear(_ g: [Float], _ D: Int, _ rows: Int, _ cols: Int, outRows: Int, outCols: Int) -> [Float] {
        func taps(_ inSize: Int, _ outSize: Int) -> [(Int, Int, Float)] {
            let scale = Float(inSize) / Float(outSize)
            return (0..<outSize).map { o in
                let src = max(scale * (Float(o) + 0.5) - 0.5, 0)
                let i0 = min(Int(src), inSize - 1)
                let i1 = min(i0 + 1, inSize - 1)
                return (i0, i1, src - Float(i0))
            }
        }
        let ry = taps(rows, outRows), rx = taps(cols, outCols)
        var out = [Float](repeating: 0, count: D * outRows * outCols)
        for d in 0..<D {
            let base = d * rows * cols
            for (oy, (y0, y1, ly)) in ry.enumerated() {
                for (ox, (x0, x1, lx)) in rx.enumerated() {
                    let top = (1 - lx) * g[base + y0 * cols + x0] + lx * g[base + y0 * cols + x1]
                    let bottom = (1 - lx) * g[base + y1 * cols + x0] + lx * g[base + y1 * cols + x1]
                    out[(d * outRows + oy) * outCols + ox] = (1 - ly) * top + ly * bottom
                }
            }
        }
        return out
    }
}
