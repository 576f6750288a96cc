import PipelineKit

extension StageError {
  /// This error as thrown by the stage at `path` (`targets[0].transforms[2].vignette`), named
  /// by that path: an error of one of the stage's parameters already names it; any other — the
  /// stage's own failure, a plugin's say — gets the path in front, so a run that stops says
  /// which stage stopped it.
  func naming(stage path: String) -> StageError {
    if parameter == path || parameter.hasPrefix(path + ".") || parameter.hasPrefix(path + "[") {
      return self
    }
    var named = self
    named.parameter = parameter.isEmpty ? path : path + ": " + parameter
    return named
  }
}

extension Stage {
  /// `forward`, with a thrown error named by `path`, the stage's place in the experiment.
  func forward(_ x: Tensor, at path: String, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    do throws(StageError) {
      return try forward(x, in: &context)
    } catch {
      throw error.naming(stage: path)
    }
  }
}
