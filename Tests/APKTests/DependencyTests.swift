import Foundation
import LaminaCore
import Testing
import TestSupport

@testable import APK

@Suite("Dependency atoms")
struct DependencyTests {
    struct ParseCase: Sendable, CustomTestStringConvertible {
        let text: String
        let expected: Dependency
        var testDescription: String { text }
    }

    @Test(
        "parses valid atoms and renders them back",
        arguments: [
            ParseCase(text: "name", expected: Dependency(name: "name")),
            ParseCase(text: "name>=1.2", expected: Dependency(name: "name", constraint: .init(.greaterOrEqual, "1.2"))),
            ParseCase(text: "name<2", expected: Dependency(name: "name", constraint: .init(.less, "2"))),
            ParseCase(text: "name<=2", expected: Dependency(name: "name", constraint: .init(.lessOrEqual, "2"))),
            ParseCase(text: "name>2", expected: Dependency(name: "name", constraint: .init(.greater, "2"))),
            ParseCase(text: "name=1.2-r0", expected: Dependency(name: "name", constraint: .init(.equal, "1.2-r0"))),
            ParseCase(text: "name~1.2", expected: Dependency(name: "name", constraint: .init(.fuzzy, "1.2"))),
            ParseCase(text: "name>~1.2", expected: Dependency(name: "name", constraint: .init(.greaterOrFuzzy, "1.2"))),
            ParseCase(text: "name<~1.2", expected: Dependency(name: "name", constraint: .init(.lessOrFuzzy, "1.2"))),
            ParseCase(text: "!name", expected: Dependency(name: "name", isConflict: true)),
            ParseCase(text: "!b>1", expected: Dependency(name: "b", constraint: .init(.greater, "1"), isConflict: true)),
            ParseCase(text: "so:libc.musl-x86_64.so.1", expected: Dependency(name: "so:libc.musl-x86_64.so.1")),
            ParseCase(text: "cmd:sh", expected: Dependency(name: "cmd:sh")),
            ParseCase(text: "cmd:[", expected: Dependency(name: "cmd:[")),
            ParseCase(text: "pc:zlib", expected: Dependency(name: "pc:zlib")),
            ParseCase(text: "py3.11:foo", expected: Dependency(name: "py3.11:foo")),
            ParseCase(text: "so:libstdc++.so.6", expected: Dependency(name: "so:libstdc++.so.6")),
            ParseCase(text: "so:openjdk8:libawt.so=0", expected: Dependency(name: "so:openjdk8:libawt.so", constraint: .init(.equal, "0"))),
            ParseCase(text: "name@tag", expected: Dependency(name: "name", tag: "tag")),
            ParseCase(text: "a@testing", expected: Dependency(name: "a", tag: "testing")),
            ParseCase(
                text: "name@tag>=1", expected: Dependency(name: "name", constraint: .init(.greaterOrEqual, "1"), tag: "tag")),
            ParseCase(
                text: "!name@edge-community<3",
                expected: Dependency(name: "name", constraint: .init(.less, "3"), tag: "edge-community", isConflict: true)),
            ParseCase(text: ".virtual", expected: Dependency(name: ".virtual")),
            ParseCase(
                text: "busybox><Q12l3sXjLXGo5GSzkgZ2fZyXXtvcw=",
                expected: Dependency(name: "busybox", constraint: .init(.checksum, "Q12l3sXjLXGo5GSzkgZ2fZyXXtvcw="))),
            ParseCase(text: "so:libfoo.so.1=1.2", expected: Dependency(name: "so:libfoo.so.1", constraint: .init(.equal, "1.2"))),
            ParseCase(text: "tzdata=2023c-r0", expected: Dependency(name: "tzdata", constraint: .init(.equal, "2023c-r0"))),
        ])
    func parses(_ c: ParseCase) throws {
        let parsed = try Dependency(parsing: c.text)
        #expect(parsed == c.expected)
        #expect(parsed.description == c.text)
        #expect(try Dependency(parsing: parsed.description) == parsed)
    }

    struct SpellingCase: Sendable, CustomTestStringConvertible {
        let text: String
        let canonical: String
        var testDescription: String { text }
    }

    @Test(
        "accepts alternative operator spellings and renders the canonical one",
        arguments: [
            SpellingCase(text: "foo=~1.2", canonical: "foo~1.2"),
            SpellingCase(text: "foo~=1.2", canonical: "foo~1.2"),
            SpellingCase(text: "foo<>Q1abc=", canonical: "foo><Q1abc="),
        ])
    func alternativeSpellings(_ c: SpellingCase) throws {
        let parsed = try Dependency(parsing: c.text)
        #expect(parsed.description == c.canonical)
        #expect(try Dependency(parsing: c.canonical) == parsed)
    }

    @Test(
        "rejects invalid atoms with a message quoting them",
        arguments: [
            "", "!", "@tag", "foo@", ">=1", "foo=", "foo==", "foo>=", "foo=invalid", "foo>=1@tag", "foo<<1",
            "foo=>1", "foo!", "fo o", "foo$", "foo bar", "foo@ta g", "foo>=1.0bc", "näme", "foo><", "=1",
            "!!foo", "foo=1.0~abc",
        ])
    func rejects(_ text: String) {
        do {
            let parsed = try Dependency(parsing: text)
            Issue.record("accepted '\(text)' as \(parsed)")
        } catch let error as LaminaError {
            #expect(error.code == .invalidInput)
            #expect(error.message.contains("'\(text)'"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("the tag must come before the operator, as in apk-tools 2.14")
    func tagAfterOperator() {
        #expect(throws: LaminaError.self) { try Dependency(parsing: "name>=1@tag") }
        #expect((try? Dependency(parsing: "name@tag>=1"))?.tag == "tag")
        let message = (try? Dependency(parsing: "name>=1@tag")).map { _ in "" } ?? {
            do { _ = try Dependency(parsing: "name>=1@tag") } catch let e as LaminaError { return e.message } catch {}
            return ""
        }()
        #expect(message.contains("name@tag>=version"))
    }

    @Test("parseList splits D:/p:/i: lines")
    func parseList() throws {
        let list = try Dependency.parseList("a b>=1 !c")
        #expect(list == [Dependency(name: "a"), Dependency(name: "b", constraint: .init(.greaterOrEqual, "1")),
                         Dependency(name: "c", isConflict: true)])
        #expect(try Dependency.parseList("") == [])
        #expect(try Dependency.parseList("  so:libc.musl-x86_64.so.1   cmd:sh\n pc:zlib ").map(\.name)
            == ["so:libc.musl-x86_64.so.1", "cmd:sh", "pc:zlib"])
        #expect(throws: LaminaError.self) { try Dependency.parseList("a b= c") }
    }

    @Test("matching names and versions")
    func matching() throws {
        let atLeast = try Dependency(parsing: "foo>=1.2")
        #expect(atLeast.isSatisfied(byName: "foo", version: "1.2"))
        #expect(atLeast.isSatisfied(byName: "foo", version: "1.10"))
        #expect(!atLeast.isSatisfied(byName: "foo", version: "1.1-r9"))
        #expect(!atLeast.isSatisfied(byName: "bar", version: "2"))
        // A versioned constraint is never met by an unversioned (virtual) provide.
        #expect(!atLeast.isSatisfied(byName: "foo", version: nil))
        #expect(try Dependency(parsing: "foo").isSatisfied(byName: "foo", version: nil))

        let pinned = try Dependency(parsing: "name=1.2-r0")
        #expect(pinned.isSatisfied(byName: "name", version: "1.2-r0"))
        #expect(!pinned.isSatisfied(byName: "name", version: "1.2-r1"))

        let fuzzy = try Dependency(parsing: "name~1.2")
        #expect(fuzzy.isSatisfied(byName: "name", version: "1.2.9-r3"))
        #expect(!fuzzy.isSatisfied(byName: "name", version: "1.3"))

        let conflict = try Dependency(parsing: "!b>1")
        #expect(conflict.isSatisfied(byName: "b", version: "1"))
        #expect(!conflict.isSatisfied(byName: "b", version: "2"))
    }

    @Test("matching packages by name, provides and identity")
    func matchingPackages() throws {
        let libfoo = PackageInfo(
            name: "libfoo", version: "1", provides: try Dependency.parseList("so:foo.so.1=1.0 mail-reader"),
            checksum: try Digest(apkIdentity: "Q1EyN5AdpAOBJWKMR89pp/C66o+OE="))
        #expect(try Dependency(parsing: "so:foo.so.1").matches(libfoo))
        #expect(try Dependency(parsing: "so:foo.so.1>=1").matches(libfoo))
        #expect(try !Dependency(parsing: "so:foo.so.1>1.0").matches(libfoo))
        #expect(try Dependency(parsing: "mail-reader").matches(libfoo))
        #expect(try !Dependency(parsing: "mail-reader=1").matches(libfoo))
        #expect(try Dependency(parsing: "libfoo<2").matches(libfoo))
        #expect(try !Dependency(parsing: "libfoo>1").matches(libfoo))
        #expect(try Dependency(parsing: "libfoo><Q1EyN5AdpAOBJWKMR89pp/C66o+OE=").matches(libfoo))
        #expect(try !Dependency(parsing: "libfoo><Q1eVpkasfqZAukAXFYbgwt4xAMZWU=").matches(libfoo))
        #expect(try !Dependency(parsing: "other").isRelevant(to: libfoo))
        #expect(try Dependency(parsing: "!so:foo.so.1").isRelevant(to: libfoo))
    }

    /// Every dependency, provides and install_if atom in the solver fixtures of apk-tools parses and renders
    /// back unchanged.
    @Test("all atoms of apk-tools' solver fixtures round-trip", .enabled(if: SharedTestData.isAvailable))
    func fixturesRoundTrip() throws {
        let dir = SharedTestData.path("alpinelinux+apk-tools/test")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".repo") || $0.contains(".installed") }
        #expect(files.count > 20)
        var atoms = 0
        for file in files {
            let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") where ["D:", "p:", "i:"].contains(line.prefix(2)) {
                for dep in try Dependency.parseList(String(line.dropFirst(2))) {
                    #expect(line.contains(dep.description))
                    atoms += 1
                }
            }
        }
        #expect(atoms > 50)
    }
}
