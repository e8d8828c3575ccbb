// Source: the `APKINDEX.json` melange writes next to `APKINDEX.tar.gz` (`pkg/index`), which is go-apk's
// `APKIndex` struct encoded by Go's `encoding/json` with a two-space indent (examples:
// apko `internal/cli/testdata/packages/*/APKINDEX.json`). No specification exists; we write the same shape.

import APK
import Foundation
import LaminaCore

/// `APKINDEX.json`: the index as JSON, for tools that do not read APKINDEX text.
///
/// ```json
/// { "Signature": null, "Description": "",
///   "Packages": [ { "Name": "hello", "Version": "1.0-r0", "Arch": "x86_64", "Description": "…",
///     "License": "MIT", "Origin": "hello", "Maintainer": "", "URL": "", "Checksum": "<base64 SHA-1>",
///     "Dependencies": ["so:libc.musl-x86_64.so.1"], "Provides": null, "InstallIf": null, "Size": 1234,
///     "InstalledSize": 5678, "ProviderPriority": 0, "BuildTime": "1970-01-01T00:00:00Z", "BuildDate": 0,
///     "RepoCommit": "", "Replaces": null, "DataHash": "<hex SHA-256>" } ] }
/// ```
///
/// Packages are in index order; `Checksum` is the base64 of the identity's SHA-1 (the `C:` value without
/// `Q1`); empty lists are `null`, as Go writes nil slices.
public enum IndexJSON {
    /// The JSON bytes of `index` (a final newline, like Go's encoder).
    public static func encode(_ index: APKIndex) -> [UInt8] {
        let packages = index.packages.map { info -> OrderedJSON in
            func list(_ atoms: [Dependency]) -> OrderedJSON {
                atoms.isEmpty ? .null : .array(atoms.map { .string($0.description) })
            }
            let buildDate = info.buildDate ?? 0
            return .object([
                ("Name", .string(info.name)),
                ("Version", .string(info.version)),
                ("Arch", .string(info.arch ?? "")),
                ("Description", .string(info.description ?? "")),
                ("License", .string(info.license ?? "")),
                ("Origin", .string(info.origin ?? "")),
                ("Maintainer", .string(info.maintainer ?? "")),
                ("URL", .string(info.url ?? "")),
                ("Checksum", info.checksum.map { .string($0.base64) } ?? .null),
                ("Dependencies", list(info.depends)),
                ("Provides", list(info.provides)),
                ("InstallIf", list(info.installIf)),
                ("Size", .int(info.fileSize ?? 0)),
                ("InstalledSize", .int(info.installedSize ?? 0)),
                ("ProviderPriority", .int(Int64(info.providerPriority ?? 0))),
                ("BuildTime", .string(BuildClock.rfc3339(buildDate))),
                ("BuildDate", .int(buildDate)),
                ("RepoCommit", .string(info.commit ?? "")),
                ("Replaces", list(info.replaces)),
                ("DataHash", .string(info.dataHash ?? "")),
            ])
        }
        let document = OrderedJSON.object([
            ("Signature", .null),
            ("Description", .string(index.description ?? "")),
            ("Packages", packages.isEmpty ? .null : .array(packages)),
        ])
        return document.rendered()
    }

    /// `DataHash` by identity (`Q1…`) from an `APKINDEX.json`, so entries carried over from an older index
    /// keep the data hash the APKINDEX text cannot hold. Unreadable input gives an empty map.
    public static func dataHashes(fromFileAt path: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path),
            let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let packages = root["Packages"] as? [[String: Any]]
        else { return [:] }
        var result: [String: String] = [:]
        for package in packages {
            guard let checksum = package["Checksum"] as? String, let hash = package["DataHash"] as? String,
                !hash.isEmpty
            else { continue }
            result["Q1" + checksum] = hash
        }
        return result
    }
}

/// A JSON value whose object members keep their order, rendered as Go's `json.MarshalIndent(v, "", "  ")`
/// does (HTML-safe escaping of `<`, `>`, `&`, and of U+2028/U+2029).
enum OrderedJSON {
    case null
    case string(String)
    case int(Int64)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    func rendered() -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out, depth: 0)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    private func write(into out: inout [UInt8], depth: Int) {
        func newline(_ depth: Int) {
            out.append(UInt8(ascii: "\n"))
            out += [UInt8](repeating: UInt8(ascii: " "), count: depth * 2)
        }
        switch self {
        case .null: out += Array("null".utf8)
        case .int(let value): out += Array(String(value).utf8)
        case .string(let text): Self.writeString(text, into: &out)
        case .array(let items):
            guard !items.isEmpty else { return out += Array("[]".utf8) }
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                item.write(into: &out, depth: depth + 1)
            }
            newline(depth)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { return out += Array("{}".utf8) }
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                Self.writeString(key, into: &out)
                out += Array(": ".utf8)
                value.write(into: &out, depth: depth + 1)
            }
            newline(depth)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ text: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += Array("\\\"".utf8)
            case "\\": out += Array("\\\\".utf8)
            case "\n": out += Array("\\n".utf8)
            case "\r": out += Array("\\r".utf8)
            case "\t": out += Array("\\t".utf8)
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                let value = scalar.value
                out += Array("\\u".utf8)
                for shift in [12, 8, 4, 0] { out.append(hex[Int(value >> UInt32(shift) & 15)]) }
            default:
                if scalar.value < 0x20 {
                    out += Array("\\u00".utf8) + [hex[Int(scalar.value >> 4)], hex[Int(scalar.value & 15)]]
                } else {
                    out += Array(String(scalar).utf8)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
