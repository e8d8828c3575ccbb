import Foundation
import LaminaCore

/// Picks a runner by the names melange's `--runner` accepts.
public enum BuildRunners {
    /// Accepted names, in the order they are documented.
    public static let names = ["bubblewrap", "docker", "podman"]

    /// The runner called `name` (`bwrap` is accepted for `bubblewrap`); `host` is the daemon address for docker
    /// and podman (nil: `DOCKER_HOST` / `CONTAINER_HOST` or the engine's default).
    /// - Throws: `LaminaError(.usage)` for an unknown name, listing the valid ones, or a host given to bubblewrap.
    public static func named(_ name: String, host: String? = nil) throws -> any BuildRunner {
        switch name.lowercased() {
        case "bubblewrap", "bwrap":
            if host != nil {
                throw LaminaError(.usage, "a daemon address only applies to --runner docker or podman", subject: "--docker-host")
            }
            return BubblewrapRunner()
        case "docker": return ContainerEngineRunner.docker(host: host)
        case "podman": return ContainerEngineRunner.podman(host: host)
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
