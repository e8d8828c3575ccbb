// NaCl secretbox (XSalsa20-Poly1305) from libsodium: `crypto_secretbox_easy` writes the 16-byte Poly1305 tag
// followed by the ciphertext, the same layout as Go's `golang.org/x/crypto/nacl/secretbox.Seal`.
import CSodium
import LaminaCore

/// Authenticated symmetric encryption with a 32-byte key and a 24-byte nonce.
public enum SecretBox {
    public static let keyBytes = 32
    public static let nonceBytes = 24
    public static let tagBytes = 16

    private static let ready: Bool = sodium_init() >= 0

    /// `tag ‖ ciphertext` of `message`.
    /// - Throws: `LaminaError(.internal)` when libsodium cannot start or the key or nonce has the wrong length.
    public static func seal(_ message: [UInt8], key: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        try check(key: key, nonce: nonce)
        var out = [UInt8](repeating: 0, count: message.count + tagBytes)
        let status = crypto_secretbox_easy(&out, message, UInt64(message.count), nonce, key)
        guard status == 0 else { throw LaminaError(.internal, "crypto_secretbox_easy failed") }
        return out
    }

    /// The message inside `box` (`tag ‖ ciphertext`).
    /// - Throws: `LaminaError(.badSignature)` when the tag does not authenticate (wrong key or altered bytes).
    public static func open(_ box: [UInt8], key: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        try check(key: key, nonce: nonce)
        guard box.count >= tagBytes else {
            throw LaminaError(.malformed, "secretbox of \(box.count) bytes is shorter than its \(tagBytes)-byte tag")
        }
        var out = [UInt8](repeating: 0, count: box.count - tagBytes)
        guard crypto_secretbox_open_easy(&out, box, UInt64(box.count), nonce, key) == 0 else {
            throw LaminaError(.badSignature, "decryption failed (wrong password, or the key file was altered)")
        }
        return out
    }

    private static func check(key: [UInt8], nonce: [UInt8]) throws {
        guard ready else { throw LaminaError(.internal, "libsodium failed to initialise") }
        guard key.count == keyBytes, nonce.count == nonceBytes else {
            throw LaminaError(.malformed, "secretbox needs a \(keyBytes)-byte key and a \(nonceBytes)-byte nonce")
        }
    }

    /// `count` random bytes from libsodium's generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        _ = ready
        var out = [UInt8](repeating: 0, count: count)
        randombytes_buf(&out, count)
        return out
    }
}
