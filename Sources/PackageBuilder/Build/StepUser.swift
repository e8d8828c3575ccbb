import Config
import LaminaCore
import Sandbox

/// Who pipeline steps run as, from melange's `environment.accounts.run-as` (the test environment's for
/// `package test`).
enum StepUser {
    /// Unset: melange's `build` user (uid/gid 1000, which the loader adds to the accounts); `root` or `0`: root;
    /// a uid or the name of a user in `accounts`: that user, with its group (else the uid as gid).
    /// - Throws: `LaminaError(.invalidInput)` naming `key` for a name no user of `accounts` has.
    static func resolve(_ accounts: ImageAccounts, key: String) throws -> SandboxConfiguration.User {
        let runAs = accounts.runAs
        switch runAs {
        case "": return .buildUser
        case "root", "0": return .root
        default: break
        }
        if let uid = UInt32(runAs) {
            let gid = accounts.users.first { $0.uid == uid }?.gid ?? uid
            return uid == SandboxConfiguration.User.buildUserID && gid == uid ? .buildUser : .mapped(uid: uid, gid: gid)
        }
        guard let user = accounts.users.first(where: { $0.username == runAs }) else {
            let known = accounts.users.map(\.username).sorted().joined(separator: ", ")
            throw LaminaError(.invalidInput, "no user named '\(runAs)' in the accounts (known: \(known.isEmpty ? "none" : known), root)", subject: key)
        }
        let gid = user.gid ?? user.uid
        return user.uid == SandboxConfiguration.User.buildUserID && gid == user.uid ? .buildUser : .mapped(uid: user.uid, gid: gid)
    }
}
