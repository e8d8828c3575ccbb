import Testing

@Test func placeholderAPK() {}
