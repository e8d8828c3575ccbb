import Testing

@Test func placeholderAPKSolver() {}
