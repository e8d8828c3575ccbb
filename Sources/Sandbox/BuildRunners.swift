import Foundation
import LaminaCore

/// Picks a runner by the names melange's `--runner` accepts.
public enum BuildRunners {
    /// Accepted names, in the order they are documented.
    public static let names = ["bubblewrap", "docker", "podman"]

    /// The runner called `name` (`bwrap` is accepted for `bubblewrap`).
    /// - Throws: `LaminaError(.usage)` for an unknown name, listing the valid ones.
    public static func named(_ name: String) throws -> any BuildRunner {
        switch name.lowercased() {
        case "bubblewrap", "bwrap": return BubblewrapRunner()
        case "docker": return ContainerEngineRunner.docker()
        case "podman": return ContainerEngineRunner.podman()
        default:
            throw LaminaError(
                .usage, "unknown runner '\(name)'; valid runners: \(names.joined(separator: ", "))", subject: "--runner")
        }
    }

    /// bubblewrap on Linux, Docker elsewhere (melange's defaults).
    public static var defaultRunner: any BuildRunner {
        #if os(Linux)
            return BubblewrapRunner()
        #else
            return ContainerEngineRunner.docker()
        #endif
    }
}
