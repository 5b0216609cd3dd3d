using System.Reflection;
using System.Runtime.Loader;

namespace Sync.PowerShell.Loading;

/// <summary>
/// The load context of the engine and its dependencies (Npgsql, Microsoft.Extensions.Logging, ...), read from the
/// module's dependencies/ folder. PowerShell 7.4 runs on .NET 8 and holds its own, older copies of some of these;
/// loading ours into the default context would fail or break PowerShell. An assembly the default context already
/// has (or the runtime ships) is shared only when its version satisfies the request; Sync.Contracts is always
/// shared, because the cmdlets and the engine must agree on its types (docs/architecture.md, "Loading").
/// </summary>
public sealed class EngineLoadContext : AssemblyLoadContext
{
    public const string EngineAssemblyName = "Sync.Engine";
    public const string ContractsAssemblyName = "Sync.Contracts";
    private static readonly object Gate = new();
    private static EngineLoadContext? _instance;
    private readonly string _dependencyFolder;
    private readonly string _moduleFolder;
    private readonly Dictionary<string, Version?> _platformVersions;

    private EngineLoadContext(string moduleFolder) : base("Sync.Engine", isCollectible: false)
    {
        _moduleFolder = moduleFolder;
        _dependencyFolder = Path.Combine(moduleFolder, "dependencies");
        _platformVersions = ReadPlatformVersions();
    }

    public string DependencyFolder => _dependencyFolder;

    /// <summary>
    /// Installs the context for the module in <paramref name="moduleFolder"/> and hooks the default context so that
    /// requests for Sync.Engine (from the cmdlet assembly) are answered from it. Safe to call more than once.
    /// </summary>
    public static EngineLoadContext Install(string moduleFolder)
    {
        lock (Gate)
        {
            if (_instance is not null) return _instance;
            _instance = new EngineLoadContext(Path.GetFullPath(moduleFolder));
            Default.Resolving += _instance.ResolveFromDefault;
            return _instance;
        }
    }

    public static void Uninstall()
    {
        lock (Gate)
        {
            if (_instance is null) return;
            Default.Resolving -= _instance.ResolveFromDefault;
        }
    }

    private Assembly? ResolveFromDefault(AssemblyLoadContext context, AssemblyName name)
    {
        if (string.Equals(name.Name, EngineAssemblyName, StringComparison.Ordinal))
            return LoadFromAssemblyName(name);
        if (string.Equals(name.Name, ContractsAssemblyName, StringComparison.Ordinal))
            return LoadContracts();
        return null;
    }

    protected override Assembly? Load(AssemblyName name)
    {
        if (string.Equals(name.Name, ContractsAssemblyName, StringComparison.Ordinal))
            return LoadContracts();
        var candidate = Path.Combine(_dependencyFolder, name.Name + ".dll");
        if (!File.Exists(candidate)) return null; // a runtime assembly we do not ship: the default context has it
        if (SatisfiedByDefault(name)) return null;
        return LoadFromAssemblyPath(candidate);
    }

    /// <summary>True when the default context holds, or the runtime ships, this assembly at the requested version or later.</summary>
    private bool SatisfiedByDefault(AssemblyName name)
    {
        var requested = name.Version ?? new Version(0, 0);
        var loaded = Default.Assemblies.FirstOrDefault(a => string.Equals(a.GetName().Name, name.Name, StringComparison.Ordinal));
        if (loaded is not null) return loaded.GetName().Version >= requested;
        return _platformVersions.TryGetValue(name.Name!, out var platform) && platform is not null && platform >= requested;
    }

    private Assembly LoadContracts()
    {
        var loaded = Default.Assemblies.FirstOrDefault(a => string.Equals(a.GetName().Name, ContractsAssemblyName, StringComparison.Ordinal));
        return loaded ?? Default.LoadFromAssemblyPath(Path.Combine(_moduleFolder, ContractsAssemblyName + ".dll"));
    }

    private static Dictionary<string, Version?> ReadPlatformVersions()
    {
        var result = new Dictionary<string, Version?>(StringComparer.Ordinal);
        if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is not string list) return result;
        foreach (var path in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var file = Path.GetFileNameWithoutExtension(path);
            if (result.ContainsKey(file)) continue;
            try { result[file] = AssemblyName.GetAssemblyName(path).Version; }
            catch (Exception e) when (e is BadImageFormatException or IOException) { result[file] = null; }
        }
        return result;
    }
}
