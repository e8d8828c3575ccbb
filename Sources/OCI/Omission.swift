// Go's `omitempty`: OCI JSON written by ggcr, containerd and docker leaves out empty strings, arrays and
// maps. Our types decode such values as nil and never encode them, so a value and its re-encoding agree.

extension Optional where Wrapped: Collection {
    /// nil for nil or an empty collection.
    var nonEmpty: Wrapped? {
        switch self {
        case .some(let value) where !value.isEmpty: return value
        default: return nil
        }
    }
}
