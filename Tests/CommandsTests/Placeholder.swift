import Testing

@Test func placeholderCommands() {}
