import Foundation

extension LoadedImageConfiguration {
    /// A configuration that did not come from its own file (a melange build's `environment`).
    public init(embedded configuration: ImageConfiguration, files: [ConfigFile], sourceMap: SourceMap) {
        self.configuration = configuration
        self.files = files
        self.sourceMap = sourceMap
    }
}

extension LoadedBuildConfiguration {
    /// The build guest as an apko configuration, with a source map whose paths are relative to `environment`
    /// (errors still name lines of the melange file).
    public var environment: LoadedImageConfiguration {
        LoadedImageConfiguration(
            embedded: configuration.environment, files: [file],
            sourceMap: sourceMap.scoped(to: ConfigPath([.key("environment")])))
    }

    /// The test guest (`test.environment`), likewise.
    public var testEnvironment: LoadedImageConfiguration? {
        guard let test = configuration.test else { return nil }
        return LoadedImageConfiguration(
            embedded: test.environment, files: [file],
            sourceMap: sourceMap.scoped(to: ConfigPath([.key("test"), .key("environment")])))
    }
}
