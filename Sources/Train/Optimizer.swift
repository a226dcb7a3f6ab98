#if canImport(Glibc)
import Glibc
#endif
import Runtime

/// Adam as torch.optim.Adam (L2 weight decay added to the gradient, bias correction, eps added
/// to sqrt(v̂)), or AdamW (decoupled decay). m and v share the parameter layout, so a step is one
/// loop over the flat buffer, split only where the learning rate differs (the mlp_head group).
public final class Adam {
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public var decoupled: Bool
    /// Learning rates of the two groups: [base, mlp_head].
    public var lr: [Float]
    public private(set) var step = 0
    public let m: UnsafeMutableBufferPointer<Float>
    public let v: UnsafeMutableBufferPointer<Float>
    private let layout: ParameterLayout

    public init(layout: ParameterLayout, lr: Float, headLR: Float? = nil, betas: (Float, Float) = (0.95, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 5e-7, decoupled: Bool = false) {
        self.layout = layout
        self.lr = [lr, headLR ?? lr]
        self.beta1 = betas.0; self.beta2 = betas.1; self.eps = eps
        self.weightDecay = weightDecay; self.decoupled = decoupled
        m = .allocate(capacity: layout.total); m.initialize(repeating: 0)
        v = .allocate(capacity: layout.total); v.initialize(repeating: 0)
    }

    deinit { m.deallocate(); v.deallocate() }

    /// Restores the state saved with a checkpoint (step count and moments).
    public func restore(step: Int, m mIn: [Float], v vIn: [Float]) throws {
        guard mIn.count == m.count, vIn.count == v.count, step >= 0 else {
            throw SSASTError("optimiser state does not match the model (\(mIn.count) moments, expected \(m.count))")
        }
        self.step = step
        _ = m.update(fromContentsOf: mIn)
        _ = v.update(fromContentsOf: vIn)
    }

    /// One update of `params` from `grads`. Parameters outside the forward graph (the DeiT heads)
    /// are skipped, as PyTorch skips parameters whose grad is None.
    public func update(params: UnsafeMutableBufferPointer<Float>, grads: UnsafeMutableBufferPointer<Float>) {
        step += 1
        // Same arithmetic as torch's single-tensor Adam: step_size = lr / bc1,
        // denom = sqrt(v) / sqrt(bc2) + eps, p -= step_size * m / denom.
        let bc1 = 1 - powf(beta1, Float(step))
        let bc2Sqrt = (1 - powf(beta2, Float(step))).squareRoot()
        let p = params.baseAddress!, gr = grads.baseAddress!, mm = m.baseAddress!, vv = v.baseAddress!
        let b1 = beta1, b2 = beta2, wd = weightDecay, e = eps
        for view in layout.views where view.inGraph {
            let lr = self.lr[view.isHead ? 1 : 0]
            let stepSize = lr / bc1
            for i in view.offset..<(view.offset + view.count) {
                var gi = gr[i]
                if decoupled { p[i] *= 1 - lr * wd } else { gi += wd * p[i] }
                mm[i] = b1 * mm[i] + (1 - b1) * gi
                vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
                let denom = vv[i].squareRoot() / bc2Sqrt + e
                p[i] -= stepSize * mm[i] / denom
            }
        }
    }
}
