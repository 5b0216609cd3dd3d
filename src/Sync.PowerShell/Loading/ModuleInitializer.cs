using System.Management.Automation;

namespace Sync.PowerShell.Loading;

/// <summary>Runs when Import-Module loads Sync: installs the engine's load context before any cmdlet runs.</summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    public void OnImport() => EngineLoadContext.Install(ModuleFolder());

    public void OnRemove(PSModuleInfo psModuleInfo) => EngineLoadContext.Uninstall();

    internal static string ModuleFolder() => Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!;
}
