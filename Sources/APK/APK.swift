// APK: see design.md.
