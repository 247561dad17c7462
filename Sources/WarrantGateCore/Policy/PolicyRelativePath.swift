import Foundation

/// A file a policy names beside itself (`include:`, `profiles:`): a relative path to a `.yaml` file inside the policy's
/// folder, without `.` or `..`, that stays inside that folder once symbolic links are resolved (a link to a file or a
/// folder elsewhere would bring in a file no one reviewed with the policy). The policy's folder is the one its file is
/// really in: a policy put in place as a link (`live.yaml` → `releases/v2/county.yaml`) includes what lies beside
/// `county.yaml`, as `policy check releases/v2/county.yaml` showed, not a file of the same name beside the link.
public enum PolicyRelativePath {
    /// The path `text` names beside `policyFile`; `what` names the key in errors.
    static func resolve(_ text: String, besides policyFile: String, at node: YAMLNode, what: String) throws -> String {
        let components = text.split(separator: "/", omittingEmptySubsequences: false)
        guard !text.hasPrefix("/"), text.hasSuffix(".yaml"), !components.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
            throw node.error("\(what): '\(text)' must be a relative path to a .yaml file inside the policy's folder")
        }
        let folder = URL(fileURLWithPath: realPath(policyFile) ?? policyFile).deletingLastPathComponent()
        let path = folder.appendingPathComponent(text).standardizedFileURL.path
        // A file that does not exist fails when it is read, with its own error.
        if let real = realPath(path), let realFolder = realPath(folder.path), !real.hasPrefix(realFolder.hasSuffix("/") ? realFolder : realFolder + "/") {
            throw node.error("\(what): '\(text)' leads, through a symbolic link, to \(real), outside the policy's folder")
        }
        return path
    }

    /// The path with every symbolic link resolved, or nil if it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
