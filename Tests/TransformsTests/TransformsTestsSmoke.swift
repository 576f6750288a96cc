import Testing

@Test func TransformsTestsBuilds() {}
