import Foundation
import Runner

/// The shard a task of a scheduler's job array renders, from its environment: what `clipig
/// batch` and `clipig rank` use when `--shard` is absent.
public struct SchedulerShard: Sendable, Equatable {
  /// The shard.
  public var shard: Shard
  /// Where it came from, for the log (`SLURM_ARRAY_TASK_ID=3 of 1-4`).
  public var reason: String

  /// The shard given by `--shard` (`flag`), else by the environment: a Slurm job array
  /// (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_STEP` and
  /// `SLURM_ARRAY_TASK_COUNT`, or `SLURM_ARRAY_TASK_MAX`), or a Kubernetes Indexed Job
  /// (`JOB_COMPLETION_INDEX`, from 0, with `count` from `--shard-count`); nil outside a job
  /// array. `--shard-count` also overrides Slurm's count. Bad values are errors naming the
  /// variable.
  public static func resolve(flag: String?, count: Int?, environment: [String: String]) throws
    -> SchedulerShard?
  {
    if let flag {
      if count != nil { throw WorkflowError("give either --shard or --shard-count, not both") }
      return SchedulerShard(shard: try Shard(parsing: flag), reason: "--shard \(flag)")
    }
    if let count, count < 1 {
      throw WorkflowError("--shard-count must be at least 1, got \(count)")
    }
    func integer(_ name: String) throws -> Int? {
      guard let text = environment[name] else { return nil }
      let trimmed = text.trimmingCharacters(in: .whitespaces)
      guard let value = Int(trimmed), value >= 0 else {
        throw WorkflowError("\(name) must be a non-negative integer, got '\(text)'")
      }
      return value
    }
    if let id = try integer("SLURM_ARRAY_TASK_ID") {
      let first = try integer("SLURM_ARRAY_TASK_MIN") ?? 0
      let step = try integer("SLURM_ARRAY_TASK_STEP") ?? 1
      guard step >= 1 else { throw WorkflowError("SLURM_ARRAY_TASK_STEP must be at least 1") }
      let total: Int
      if let count {
        total = count
      } else if let n = try integer("SLURM_ARRAY_TASK_COUNT") {
        total = n
      } else if let last = try integer("SLURM_ARRAY_TASK_MAX") {
        guard last >= first else {
          throw WorkflowError(
            "SLURM_ARRAY_TASK_MAX (\(last)) is below SLURM_ARRAY_TASK_MIN (\(first))")
        }
        // Checked: ids near Int.max make the count overflow.
        let (n, overflow) = ((last - first) / step).addingReportingOverflow(1)
        guard !overflow else {
          throw WorkflowError(
            "SLURM_ARRAY_TASK_MIN \(first) to SLURM_ARRAY_TASK_MAX \(last) is more tasks than "
              + "this machine can count; give --shard I/N")
        }
        total = n
      } else {
        throw WorkflowError(
          "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor "
            + "SLURM_ARRAY_TASK_MAX is; give --shard I/N or --shard-count N")
      }
      guard id >= first, (id - first) % step == 0 else {
        throw WorkflowError(
          "SLURM_ARRAY_TASK_ID \(id) is not in the array \(first)-… with step \(step)")
      }
      let (index, overflow) = ((id - first) / step).addingReportingOverflow(1)
      guard !overflow, index <= total else {
        throw WorkflowError(
          "SLURM_ARRAY_TASK_ID \(id) is task \(index) of an array of \(total) "
            + "(a sparse --array such as 1,5,9 needs --shard I/N)")
      }
      return SchedulerShard(
        shard: try Shard(index: index, count: total),
        reason:
          "Slurm array task SLURM_ARRAY_TASK_ID=\(id) (min \(first), step \(step)), \(total) tasks"
          + (count != nil ? " (--shard-count)" : ""))
    }
    if let index = try integer("JOB_COMPLETION_INDEX") {
      guard let count else {
        throw WorkflowError(
          "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the number of shards is "
            + "not: give --shard-count N (the Job's completions)")
      }
      guard index < count else {
        throw WorkflowError(
          "JOB_COMPLETION_INDEX \(index) is not below --shard-count \(count)")
      }
      return SchedulerShard(
        shard: try Shard(index: index + 1, count: count),
        reason: "Kubernetes Indexed Job JOB_COMPLETION_INDEX=\(index), --shard-count \(count)")
    }
    if count != nil {
      throw WorkflowError(
        "--shard-count needs a job array: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX "
          + "is set")
    }
    return nil
  }
}
