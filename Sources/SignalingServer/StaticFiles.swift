import Foundation

/// The files the server serves over HTTP, read once at start: the browser page from the
/// module's resources, then any extra directories (later ones override earlier names).
/// Only top-level file names are looked up, so no request path reaches outside them.
struct StaticFiles: Sendable {
    struct File: Sendable {
        var bytes: [UInt8]
        var contentType: String
    }

    private var files: [String: File] = [:]

    /// Loads the built-in page and every regular file at the top of `directories`.
    init(directories: [URL]) throws(SignalingServerError) {
        var all = directories
        if let page = Bundle.module.url(forResource: "Web", withExtension: nil) {
            all.insert(page, at: 0)
        }
        for directory in all {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            } catch {
                throw SignalingServerError.staticDirectory(directory.path, "\(error)")
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let url = directory.appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    let data = FileManager.default.contents(atPath: url.path)
                else { continue }
                files[name] = File(bytes: Array(data), contentType: Self.contentType(of: name))
            }
        }
    }

    /// The file with this name (`""` is `index.html`).
    func file(named name: String) -> File? {
        files[name.isEmpty ? "index.html" : name]
    }

    private static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "json": "application/json"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }
}
