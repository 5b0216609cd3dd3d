using System.Diagnostics;

namespace Sync.PowerShell.Tests;

public sealed class ModuleLoadingTests
{
    [Fact]
    public void TheModuleFolderHasEverythingImportModuleNeeds()
    {
        var folder = RepoPaths.ModuleFolder;
        foreach (var file in new[] { "Sync.psd1", "Sync.PowerShell.dll", "Sync.Contracts.dll", "Sync.Format.ps1xml", Path.Combine("en-US", "Sync.PowerShell.dll-Help.xml"),
                     Path.Combine("dependencies", "Sync.Engine.dll"), Path.Combine("dependencies", "Npgsql.dll"), Path.Combine("dependencies", "Microsoft.Extensions.Logging.Abstractions.dll") })
            Assert.True(File.Exists(Path.Combine(folder, file)), $"{file} is missing from {folder}");
        Assert.False(File.Exists(Path.Combine(folder, "System.Management.Automation.dll")), "PowerShell's own assembly must not ship");
        Assert.False(File.Exists(Path.Combine(folder, "Sync.Engine.dll")), "the engine must load from dependencies/, not beside the cmdlets");
        Assert.False(File.Exists(Path.Combine(folder, "Npgsql.dll")));
    }

    [Fact]
    public void TheEngineLoadsInItsOwnContextBesideAnOlderCopyOfItsDependencies()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(RepoPaths.LoadProbeDll);
        start.ArgumentList.Add(RepoPaths.ModuleFolder);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000));
        Assert.True(process.ExitCode == 0, output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

        // The "PowerShell" process holds Microsoft.Extensions.Logging.Abstractions 8 in its default context...
        Assert.StartsWith("8.0.0.0;Default", lines["default-logging"]);
        // ...and the engine still gets the version it was built against, in its own context, from dependencies/.
        Assert.StartsWith("Sync.Engine;", lines["engine"]);
        Assert.Contains(Path.Combine("out", "Sync", "dependencies", "Sync.Engine.dll"), lines["engine"]);
        Assert.StartsWith("10.", lines["logging"]);
        Assert.Contains(";Sync.Engine;", lines["logging"]);
        Assert.StartsWith("10.", lines["npgsql"]);
        Assert.Contains(";Sync.Engine;", lines["npgsql"]);
        // Shared contracts come from the default context, so cmdlets and engine agree on their types.
        Assert.StartsWith("Default;", lines["contracts"]);
        Assert.Equal("localhost/probe", lines["builder"]);
        Assert.Equal("False", lines["engine-in-default"]);
        Assert.Equal("False", lines["npgsql-in-default"]);
    }
}
