import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A private `docker-registry` (distribution v2) on 127.0.0.1 for tests: filesystem storage in a temporary
/// directory, no authentication, stopped by its process id.
public struct RegistryDaemon: Sendable {
    /// Debian's binary.
    public static let executable = "/usr/bin/docker-registry"
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executable) }
    public static let unavailableReason = "docker-registry not installed (apt-get install docker-registry)"

    public let process: DaemonProcess
    public let port: Int
    /// `127.0.0.1:PORT`: the registry part of references to it.
    public var address: String { "127.0.0.1:\(port)" }

    /// Writes a config under `directory`, starts the registry and waits (up to 30 s) until it accepts connections.
    /// - Throws: `TestSupportError` when it does not come up (its log tail is in the message).
    public static func start(in directory: String) throws -> RegistryDaemon {
        let port = try freeLocalPort()
        let storage = directory + "/storage"
        try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
        let config = """
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: \(storage)
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
            """
        let configPath = directory + "/registry.yml"
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        let process = try DaemonProcess.spawn(
            executable, ["serve", configPath], logPath: directory + "/registry.log",
            environment: ["PATH": "/usr/bin:/bin", "HOME": directory])
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.isRunning { break }
            if canConnect(port: port) { return RegistryDaemon(process: process, port: port) }
            usleep(100_000)
        }
        process.stop()
        throw TestSupportError(message: "docker-registry did not start on port \(port):\n\(process.logTail())")
    }

    /// Stops the registry (SIGTERM, then SIGKILL). Returns true when it ended on SIGTERM.
    @discardableResult
    public func stop() -> Bool { process.stop(timeout: .seconds(10)) }
}

/// An error of the test support code itself.
public struct TestSupportError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (bound to port 0, read back, closed).
public func freeLocalPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError(message: "socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestSupportError(message: "bind() failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestSupportError(message: "getsockname() failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
