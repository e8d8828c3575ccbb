import Testing

@Test func placeholderSBOM() {}
