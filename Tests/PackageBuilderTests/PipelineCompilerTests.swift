import Config
import LaminaCore
import Testing

@testable import PackageBuilder

/// Compiles small hand-written configurations and checks the exact steps.
struct PipelineCompilerTests {
    static let x86 = BuildContext(architecture: try! Architecture("x86_64"), sourceDateEpoch: 1_700_000_000)

    /// A pipeline directory held in memory: `greet` declares inputs and nests a built-in.
    static let greet = """
        name: Greet someone
        needs:
          packages: [busybox, "${{inputs.tool}}"]
        inputs:
          who:
            description: who to greet
            required: true
          greeting:
            default: hello
          tool:
            default: figlet
        pipeline:
          - runs: echo "${{inputs.greeting}}, ${{inputs.who}}" > ${{targets.contextdir}}/greeting
          - uses: autoconf/make
            with:
              opts: WHO=${{inputs.who}}
        """

    static func compile(
        _ yaml: String, context: BuildContext = x86, files: [String: String] = ["/pipes/greet.yaml": greet]
    ) throws -> BuildPlan {
        let (configuration, sourceMap) = try BuildConfiguration.prepare(yaml: yaml, file: "melange.yaml")
        var context = context
        context.pipelineDirectories = ["/pipes"]
        return try PipelineCompiler(
            configuration: configuration, sourceMap: sourceMap, context: context,
            loader: .inMemory(files)
        ).compile()
    }

    static func runScripts(_ steps: [CompiledStep]) -> [String] {
        steps.map { step in
            switch step.action {
            case .run(let script): return script
            case .fetch(let action): return "FETCH \(action.uri)"
            }
        }
    }

    static let demo = """
        package:
          name: demo
          version: 1.2.3
          epoch: 4
          description: a demo
        environment:
          contents:
            packages: [busybox, make]
          environment:
            CFLAGS: -O2
        data:
          - name: flavours
            items:
              b: Beta
              a: Alpha
        pipeline:
          - uses: greet
            with:
              who: world
          - name: nested
            working-directory: src
            environment:
              A: "1"
            pipeline:
              - runs: echo ${{package.full-version}} > out
              - if: ${{build.arch}} == 'aarch64'
                runs: echo never
              - working-directory: /tmp/abs/../abs2
                environment:
                  A: "2"
                runs: echo ${{targets.destdir}} ${{targets.contextdir}} ${{build.goarch}} ${{host.triplet.gnu}}
        subpackages:
          - range: flavours
            name: demo-${{range.key}}
            description: demo ${{range.value}}
            pipeline:
              - runs: echo ${{range.value}} ${{targets.subpkgdir}} ${{targets.contextdir}} ${{context.name}}
          - name: demo-never
            if: ${{build.arch}} == 'aarch64'
            pipeline:
              - uses: split/dev
        """

    @Test func demoMainSteps() throws {
        let plan = try Self.compile(Self.demo)
        #expect(plan.main.name == "demo")
        #expect(plan.main.outputDirectory == "/home/build/melange-out/demo")
        #expect(
            plan.main.steps.map(\.name) == [
                "greet", "autoconf/make", "echo 1.2.3-r4 > out",
                "echo /home/build/melange-out/demo /home/build/melange-out/demo amd64 x86_64-p...",
            ])
        #expect(
            Self.runScripts(plan.main.steps) == [
                "echo \"hello, world\" > /home/build/melange-out/demo/greeting",
                "make -C '.' -j\"$(nproc)\" V=1 WHO=world \n",
                "echo 1.2.3-r4 > out",
                "echo /home/build/melange-out/demo /home/build/melange-out/demo amd64 x86_64-pc-linux-gnu",
            ])
        #expect(
            plan.main.steps.map(\.workingDirectory) == ["/home/build", "/home/build", "/home/build/src", "/tmp/abs2"])
        #expect(plan.main.steps.map { $0.environment["A"] } == [nil, nil, "1", "2"])
        for step in plan.main.steps {
            #expect(step.environment["CFLAGS"] == "-O2")
            #expect(step.environment["HOME"] == "/home/build")
            #expect(step.environment["SOURCE_DATE_EPOCH"] == "1700000000")
            #expect(step.environment["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin")
        }
        // Declared packages first, then `needs` of the pipelines that ran (greet, then autoconf/make), no repeats.
        #expect(plan.environmentPackages == ["busybox", "make", "figlet"])
        #expect(plan.neededPackages == ["busybox", "figlet", "make"])
        #expect(plan.declaredEnvironmentPackages == ["busybox", "make"])
    }

    @Test func demoSubpackages() throws {
        let plan = try Self.compile(Self.demo)
        // `range` items in key order; `demo-never` is left out by its `if:`.
        #expect(plan.subpackages.map(\.name) == ["demo-a", "demo-b"])
        #expect(plan.subpackages.map(\.description) == ["demo Alpha", "demo Beta"])
        #expect(
            Self.runScripts(plan.subpackages.flatMap(\.steps)) == [
                "echo Alpha /home/build/melange-out/demo-a /home/build/melange-out/demo-a demo-a",
                "echo Beta /home/build/melange-out/demo-b /home/build/melange-out/demo-b demo-b",
            ])
        #expect(
            plan.subpackages.map(\.outputDirectory) == [
                "/home/build/melange-out/demo-a", "/home/build/melange-out/demo-b",
            ])
        #expect(plan.packagePlans.count == 3)
    }

    @Test func otherArchitecture() throws {
        let plan = try Self.compile(Self.demo, context: BuildContext(architecture: try Architecture("arm64")))
        #expect(plan.main.steps.count == 5)
        #expect(plan.main.steps[3].name == "echo never")
        #expect(plan.subpackages.map(\.name) == ["demo-a", "demo-b", "demo-never"])
        // split/dev needs busybox, already there.
        #expect(plan.environmentPackages == ["busybox", "make", "figlet"])
        let split = try #require(plan.subpackages.last?.steps.first)
        guard case .run(let script) = split.action else {
            Issue.record("not a run step")
            return
        }
        #expect(script.contains("from='/home/build/melange-out/demo'"))
        #expect(script.contains("to='/home/build/melange-out/demo-never'"))
    }

    /// Parses `file:line:col` out of an error's subject.
    static func line(of error: LaminaError) -> Int? {
        guard let subject = error.subject else { return nil }
        let parts = subject.split(separator: ":")
        return parts.count >= 2 ? Int(parts[1]) : nil
    }

    static func failure(_ yaml: String, files: [String: String] = ["/pipes/greet.yaml": greet]) -> LaminaError? {
        do {
            _ = try compile(yaml, files: files)
            return nil
        } catch let error as LaminaError {
            return error
        } catch {
            return nil
        }
    }

    static let header = """
        package:
          name: bad
          version: 1.0.0
        pipeline:

        """

    @Test func unknownInputNamesKeyAndLine() throws {
        let error = try #require(
            Self.failure(
                Self.header + """
                      - uses: greet
                        with:
                          who: you
                          colour: red
                    """))
        #expect(error.message.contains("pipeline 'greet' has no input 'colour'"))
        #expect(error.message.contains("greeting, tool, who"))
        #expect(error.subject?.hasPrefix("melange.yaml:") == true)
        #expect(Self.line(of: error) == 8)
    }

    @Test func missingRequiredInput() throws {
        let error = try #require(
            Self.failure(
                Self.header + """
                      - uses: greet
                    """))
        #expect(error.message.contains("pipeline 'greet': required input \"who\" for pipeline is missing"))
        #expect(Self.line(of: error) == 5)
    }

    @Test func unknownVariableNamesItAndLine() throws {
        let error = try #require(
            Self.failure(
                Self.header + """
                      - runs: echo ok
                      - runs: |
                          echo ${{vars.nope}}
                    """))
        #expect(error.message.contains("unknown variable '${{vars.nope}}'"))
        #expect(error.message.contains("pipeline[1].runs"))
        #expect(Self.line(of: error) == 6)
    }

    @Test func unknownVariableInsideUsedPipeline() throws {
        let bad = """
            name: bad
            pipeline:
              - runs: echo ok
              - runs: echo ${{inputs.undeclared}}
            """
        let error = try #require(
            Self.failure(
                Self.header + """
                      - runs: echo first
                      - uses: bad
                    """, files: ["/pipes/bad.yaml": bad]))
        #expect(
            error.message.contains("in /pipes/bad.yaml at pipeline[1].runs: unknown variable '${{inputs.undeclared}}'"))
        #expect(Self.line(of: error) == 6)
    }

    @Test func subpackageDirectoryIsUnknownInMainPipeline() throws {
        let error = try #require(
            Self.failure(
                Self.header + """
                      - runs: mkdir ${{targets.subpkgdir}}
                    """))
        #expect(error.message.contains("'${{targets.subpkgdir}}'"))
    }

    @Test func missingPipeline() throws {
        let error = try #require(
            Self.failure(
                Self.header + """
                      - uses: test/tw/ldd-check
                    """))
        #expect(error.code == .notFound)
        #expect(error.message.contains("no pipeline named 'test/tw/ldd-check'"))
        #expect(Self.line(of: error) == 5)
    }

    @Test func usesOutsidePipelineDirectoryIsRefused() throws {
        let error = try #require(
            Self.failure(
                Self.header + """
                      - uses: ../etc/passwd
                    """))
        #expect(error.message.contains("must not contain '..'"))
    }

    @Test func falseConditionSkipsNestedStepsAndNeeds() throws {
        let plan = try Self.compile(
            Self.header + """
                  - if: ${{package.name}} == 'other'
                    pipeline:
                      - uses: greet
                        with:
                          who: nobody
                  - runs: echo done
                """)
        #expect(Self.runScripts(plan.main.steps) == ["echo done"])
        #expect(plan.environmentPackages.isEmpty)
    }

    @Test func requiredStepsAssertion() throws {
        let config =
            Self.header + """
                  - assertions:
                      required-steps: 1
                    pipeline:
                      - if: ${{build.arch}} == 'x86_64'
                        runs: echo x86
                      - if: ${{build.arch}} == 'aarch64'
                        runs: echo arm
                """
        #expect(Self.runScripts(try Self.compile(config).main.steps) == ["echo x86"])
        let context = BuildContext(architecture: try Architecture("s390x"))
        #expect(throws: LaminaError.self) { try Self.compile(config, context: context) }
    }

    @Test func pipelineDirectoryOverridesBuiltin() throws {
        let custom = """
            name: my fetch
            inputs:
              uri:
                required: true
            pipeline:
              - runs: wget ${{inputs.uri}}
            """
        let plan = try Self.compile(
            Self.header + """
                  - uses: fetch
                    with:
                      uri: https://example.com/x.tgz
                """, files: ["/pipes/fetch.yaml": custom])
        #expect(
            plan.main.steps == [
                CompiledStep(
                    name: "fetch", action: .run(script: "wget https://example.com/x.tgz"),
                    workingDirectory: "/home/build",
                    environment: plan.environment)
            ])
    }

    @Test func fetchActionShape() throws {
        let sha = String(repeating: "ab", count: 32)
        let plan = try Self.compile(
            """
            package:
              name: hello
              version: 2.12
            pipeline:
              - uses: fetch
                working-directory: src
                with:
                  uri: https://example.com/gnu/hello-${{package.version}}.tar.gz?download=1
                  expected-sha256: \(sha.uppercased())
                  strip-components: 2
                  delete: true
            """)
        let expectedAction = FetchAction(
            uri: "https://example.com/gnu/hello-2.12.tar.gz?download=1", expectedSHA256: sha, expectedSHA512: nil,
            destination: "src/hello-2.12.tar.gz", extract: true, stripComponents: 2, purgeArchive: true,
            purlName: "hello", purlVersion: "2.12")
        #expect(
            plan.main.steps.map(\.action) == [
                .fetch(expectedAction),
                .run(
                    script: """
                        mkdir -p '.'
                        tar -x --strip-components='2' --no-same-owner -C '.' -f 'hello-2.12.tar.gz'

                        """),
                .run(script: "rm -f 'hello-2.12.tar.gz'\n"),
            ])
        #expect(Set(plan.main.steps.map(\.workingDirectory)) == ["/home/build/src"])
        #expect(plan.main.steps.map(\.name) == ["fetch", "fetch", "fetch"])
        #expect(plan.neededPackages == ["busybox"])
    }

    @Test func fetchWithoutExtracting() throws {
        let plan = try Self.compile(
            Self.header + """
                  - uses: fetch
                    with:
                      uri: https://example.com/data.bin
                      expected-sha512: \(String(repeating: "0", count: 128))
                      extract: false
                """)
        #expect(plan.main.steps.count == 1)
        guard case .fetch(let action) = plan.main.steps.first?.action else {
            Issue.record("expected a fetch action")
            return
        }
        #expect(action.destination == "data.bin")
        #expect(action.expectedSHA512 == String(repeating: "0", count: 128))
        #expect(action.expectedSHA256 == nil)
        #expect(action.extract == false)
    }

    /// Without a checksum the configuration still compiles (melange's fetch fails when it runs: see
    /// PackageBuildTests.fetch); a malformed checksum is a compile error.
    @Test func fetchChecksumIsCheckedWhenRunning() throws {
        let plan = try Self.compile(
            Self.header + """
                  - uses: fetch
                    with:
                      uri: https://example.com/x.tar.gz
                """)
        guard case .fetch(let action) = plan.main.steps.first?.action else {
            Issue.record("expected a fetch action")
            return
        }
        #expect(action.expectedSHA256 == nil && action.expectedSHA512 == nil)
        let short = try #require(
            Self.failure(
                Self.header + """
                      - uses: fetch
                        with:
                          uri: https://example.com/x.tar.gz
                          expected-sha256: abc
                    """))
        #expect(short.message.contains("expected-sha256"))
        #expect(Self.line(of: short) == 6 || Self.line(of: short) == 7)
    }

    @Test func fetchOutsideTheWorkspaceIsRefused() throws {
        let error = try #require(
            Self.failure(
                Self.header + """
                      - uses: fetch
                        working-directory: /tmp
                        with:
                          uri: https://example.com/x.tar.gz
                          expected-none: "yes"
                    """))
        #expect(error.message.contains("must be under /home/build"))
    }

    @Test func buildOptionsApply() throws {
        let yaml = """
            package:
              name: opt
              version: 1
            vars:
              flavour: plain
            environment:
              contents:
                packages: [busybox, openssl]
            options:
              fancy:
                vars:
                  flavour: fancy
                environment:
                  contents:
                    packages:
                      add: [rustls]
                      remove: [openssl]
            pipeline:
              - if: ${{options.fancy.enabled}} == 'true'
                runs: echo fancy
              - runs: echo done
            """
        let plain = try Self.compile(yaml)
        #expect(Self.runScripts(plain.main.steps) == ["echo done"])
        #expect(plain.environmentPackages == ["busybox", "openssl"])
        let fancy = try Self.compile(
            yaml, context: BuildContext(architecture: try Architecture("amd64"), buildOptions: ["fancy"]))
        #expect(Self.runScripts(fancy.main.steps) == ["echo fancy", "echo done"])
        #expect(fancy.environmentPackages == ["busybox", "rustls"])
        #expect(throws: LaminaError.self) {
            try Self.compile(
                yaml, context: BuildContext(architecture: try Architecture("amd64"), buildOptions: ["nope"]))
        }
    }

    @Test func testPipelines() throws {
        let (configuration, sourceMap) = try BuildConfiguration.prepare(
            yaml: """
                package:
                  name: tested
                  version: 1
                test:
                  environment:
                    contents:
                      packages: [busybox]
                  pipeline:
                    - runs: tested --version
                subpackages:
                  - name: tested-dev
                    pipeline:
                      - uses: split/dev
                    test:
                      pipeline:
                        - uses: greet
                          with:
                            who: dev
                """)
        let tests = try PipelineCompiler(
            configuration: configuration, sourceMap: sourceMap,
            context: BuildContext(architecture: try Architecture("aarch64"), pipelineDirectories: ["/pipes"]),
            loader: .inMemory(["/pipes/greet.yaml": Self.greet])
        ).compileTests()
        #expect(tests.main?.packageName == "tested")
        #expect(tests.main?.environmentPackages == ["busybox", "tested"])
        #expect(tests.main.map { Self.runScripts($0.steps) } == ["tested --version"])
        #expect(tests.subpackages.map(\.packageName) == ["tested-dev"])
        #expect(tests.subpackages.first?.environmentPackages == ["tested-dev", "busybox", "figlet", "make"])
        #expect(
            tests.subpackages.first.map { Self.runScripts($0.steps) }?.first
                == "echo \"hello, dev\" > /home/build/melange-out/tested-dev/greeting")
    }

    @Test func buildStepConversion() throws {
        let step = CompiledStep(
            name: "x", action: .run(script: "true"), workingDirectory: "/home/build/src", environment: ["A": "1"])
        #expect(step.buildStep?.absoluteWorkingDirectory == "/home/build/src")
        #expect(step.buildStep?.script == "true")
        let fetch = CompiledStep(
            name: "f", action: .fetch(FetchAction(uri: "u", destination: "u")), workingDirectory: "/home/build",
            environment: [:])
        #expect(fetch.buildStep == nil)
    }

    @Test(arguments: [
        ("", "/home/build"), (".", "/home/build"), ("src", "/home/build/src"), ("./src/", "/home/build/src"),
        ("/tmp/x/../y", "/tmp/y"), ("a/../../b", "/home/b"),
    ])
    func absoluteDirectories(input: String, expected: String) {
        #expect(PipelineCompiler.absoluteDirectory(input) == expected)
    }

    // MARK: - melange compile

    static func compiledConfiguration(_ yaml: String, context: BuildContext = x86) throws -> BuildConfiguration {
        let (configuration, sourceMap) = try BuildConfiguration.prepare(yaml: yaml, file: "melange.yaml")
        var context = context
        context.pipelineDirectories = ["/pipes"]
        return try PipelineCompiler(
            configuration: configuration, sourceMap: sourceMap, context: context,
            loader: .inMemory(["/pipes/greet.yaml": greet])
        ).compiledConfiguration()
    }

    /// The tree `melange compile` prints: `uses:` steps hold the used steps (nested `uses:` too), `with` keeps the
    /// values that differ from the defaults, `needs` go to the environment once, every subpackage is listed with
    /// its condition substituted, tests get the package under test.
    @Test func compiledConfigurationIsMelangesTree() throws {
        let compiled = try Self.compiledConfiguration(
            """
            package:
              name: hi
              version: 1.0.0
            environment:
              contents:
                packages: [busybox]
            pipeline:
              - name: say hello
                uses: greet
                with:
                  who: world
                  greeting: hello
                  tool: toilet
            subpackages:
              - name: hi-arm
                if: ${{build.arch}} == 'aarch64'
                pipeline:
                  - uses: greet
                    with:
                      who: arm
              - name: hi-doc
                pipeline:
                  - uses: split/manpages
                test:
                  pipeline:
                    - uses: greet
                      with:
                        who: docs
            """)
        let step = try #require(compiled.pipeline.first)
        #expect(step.name == "say hello" && step.uses == "greet")
        #expect(step.with == ["who": "world", "tool": "toilet"])
        #expect(step.inputs.isEmpty && step.needs == nil)
        #expect(step.pipeline.count == 2)
        #expect(step.pipeline[0].runs == "echo \"hello, world\" > /home/build/melange-out/hi/greeting")
        let make = step.pipeline[1]
        #expect(make.uses == "autoconf/make" && make.with == ["opts": "WHO=world"])
        #expect(make.pipeline.first?.runs.contains("WHO=world") == true)

        // Needs of the build, once each, after the declared packages; the disabled subpackage adds none.
        #expect(compiled.environment.contents.packages == ["busybox", "toilet", "make"])
        #expect(compiled.subpackages.map(\.name) == ["hi-arm", "hi-doc"])
        #expect(compiled.subpackages[0].if == #""x86_64" == 'aarch64'"#)
        #expect(compiled.subpackages[0].pipeline.first?.with == ["who": "arm"])
        let test = try #require(compiled.subpackages[1].test)
        #expect(test.environment.contents.packages == ["busybox", "figlet", "hi-doc", "make"])
        #expect(test.pipeline.first?.pipeline.first?.runs.contains("hello, docs") == true)
        #expect(compiled.package.resources == Resources())
    }
}
