import Foundation
import Testing
import Workflows

@Suite("Shards from the scheduler's environment")
struct SchedulerShardTests {
  func shard(_ env: [String: String], flag: String? = nil, count: Int? = nil) throws -> String? {
    try SchedulerShard.resolve(flag: flag, count: count, environment: env)
      .map(\.shard.description)
  }

  func message(_ env: [String: String], flag: String? = nil, count: Int? = nil) -> String {
    do {
      _ = try SchedulerShard.resolve(flag: flag, count: count, environment: env)
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  @Test func slurmArrays() throws {
    // sbatch --array=1-4: ids 1…4, task 3 is shard 3/4.
    #expect(
      try shard([
        "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "4",
        "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_STEP": "1",
      ]) == "3/4")
    // --array=0-9: id 0 is shard 1/10.
    #expect(
      try shard([
        "SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "10",
      ]) == "1/10")
    // --array=2-10:4 (ids 2, 6, 10): MAX and STEP without COUNT.
    #expect(
      try shard([
        "SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_MAX": "10",
        "SLURM_ARRAY_TASK_STEP": "4",
      ]) == "2/3")
    // --shard-count overrides the array's count; --shard wins over everything.
    #expect(
      try shard(
        ["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2"],
        count: 5) == "2/5")
    #expect(try shard(["SLURM_ARRAY_TASK_ID": "2"], flag: "1/3") == "1/3")
    #expect(try shard([:]) == nil)
    let reason =
      try SchedulerShard.resolve(
        flag: nil, count: nil,
        environment: [
          "SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1",
          "SLURM_ARRAY_TASK_COUNT": "8",
        ])?.reason ?? ""
    #expect(reason.contains("SLURM_ARRAY_TASK_ID=5"), "\(reason)")
  }

  @Test func kubernetesIndexedJobs() throws {
    #expect(try shard(["JOB_COMPLETION_INDEX": "0"], count: 10) == "1/10")
    #expect(try shard(["JOB_COMPLETION_INDEX": "9"], count: 10) == "10/10")
    #expect(message(["JOB_COMPLETION_INDEX": "3"]).contains("--shard-count"))
    #expect(message(["JOB_COMPLETION_INDEX": "10"], count: 10).contains("not below"))
  }

  @Test func badValuesAreClearErrors() {
    #expect(
      message(["SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"])
        .contains("SLURM_ARRAY_TASK_ID must be a non-negative integer, got 'x'"))
    #expect(
      message(["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "-2"])
        .contains("SLURM_ARRAY_TASK_COUNT"))
    #expect(message(["SLURM_ARRAY_TASK_ID": "1"]).contains("SLURM_ARRAY_TASK_COUNT"))
    #expect(
      message([
        "SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4",
      ]).contains("sparse"))
    #expect(
      message([
        "SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_STEP": "2",
        "SLURM_ARRAY_TASK_COUNT": "4",
      ]).contains("step"))
    #expect(
      message([
        "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "2",
      ]).contains("below"))
    #expect(message(["JOB_COMPLETION_INDEX": "1"], count: 0).contains("at least 1"))
    #expect(message([:], count: 4).contains("needs a job array"))
    #expect(message([:], flag: "1/2", count: 4).contains("not both"))
    #expect(message([:], flag: "5/2").contains("1 ≤ I ≤ N"))
  }
}
