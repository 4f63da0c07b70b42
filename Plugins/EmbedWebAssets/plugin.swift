import Foundation
import PackagePlugin

/// Embeds the files of a target's `Public/` folder (the chat page's HTML, CSS, JavaScript and icon) in its binary:
/// `embed-files` writes them as string literals into a generated `WebAssets+Files.swift`, so the page lives as real
/// files that editors, formatters and linters see, and the server still needs nothing beside its executable.
@main
struct EmbedWebAssets: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let folder = target.directoryURL.appending(path: "Public")
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "WebAssets+Files.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) files of \(target.name)/Public",
                executable: try context.tool(named: "embed-files").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
