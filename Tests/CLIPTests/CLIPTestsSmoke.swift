import Testing

@Test func CLIPTestsBuilds() {}
