import Testing

@Test func RunnerTestsBuilds() {}
