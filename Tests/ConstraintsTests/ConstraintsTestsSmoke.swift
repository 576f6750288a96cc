import Testing

@Test func ConstraintsTestsBuilds() {}
