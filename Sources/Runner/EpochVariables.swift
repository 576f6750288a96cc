import ExprEval
import PipelineKit

extension Experiment {
  /// A context at `epoch` with the time and frame variables set (the others still 0).
  public func context(atEpoch epoch: Int) -> ExprContext {
    var context = ExprContext(epoch: epoch, epochs: epochs)
    context.frame = frameIndex
    context.frames = frameCount
    return context
  }

  /// The expression variables of `epoch` (CLIPig's epoch steps 2 and 4–6): time, the resolution the
  /// schedule gives (checked against ``ImageLimits``), the learning-rate scale and the effective
  /// learning rate (base rate × learnrate_scale × learnrate). The one place training, preview
  /// and `clipig schedule` compute them.
  public func variables(atEpoch epoch: Int, random: inout SeededRandom) throws(StageError)
    -> ExprContext
  {
    var context = self.context(atEpoch: epoch)
    let (w, h) = try Trainer.resolution(self, context: context, random: &random)
    context.width = Double(w)
    context.height = Double(h)
    context.learnrateScale = try learnrateScale.value(in: context, random: &random)
    context.learnrate =
      optimizer.baseLearningRate * context.learnrateScale
      * (try learnrate.value(in: context, random: &random))
    return context
  }
}
