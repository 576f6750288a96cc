import Testing

@Test func ExprEvalTestsBuilds() {}
