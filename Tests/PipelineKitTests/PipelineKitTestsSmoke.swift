import Testing

@Test func PipelineKitTestsBuilds() {}
