import Testing

@Test func placeholderOCI() {}
