// The melange engine: melange.yaml → pipelines → steps in a sandbox → signed .apk files and an updated APKINDEX.
//
// Layout: `Pipelines/` compiles a configuration into steps (built-in pipelines are embedded YAML resources),
// `Emit/` turns a filled destination folder into a signed package and keeps the repository index current,
// `Build/` orchestrates a whole build (environment, runner, steps, emit).
