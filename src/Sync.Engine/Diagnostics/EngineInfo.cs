using System.Runtime.Loader;
using Npgsql;

namespace Sync.Engine.Diagnostics;

/// <summary>Where the engine and its driver were loaded from: for diagnostics and the load-isolation test.</summary>
public static class EngineInfo
{
    public static string Describe()
    {
        var builder = new NpgsqlConnectionStringBuilder { Host = "localhost", Database = "probe" };
        var npgsql = typeof(NpgsqlConnection).Assembly;
        var logging = typeof(Microsoft.Extensions.Logging.ILogger).Assembly;
        return string.Join(Environment.NewLine,
            $"engine={Context(typeof(EngineInfo).Assembly)}",
            $"npgsql={npgsql.GetName().Version};{Context(npgsql)}",
            $"logging={logging.GetName().Version};{Context(logging)}",
            $"contracts={Context(typeof(SyncLsn).Assembly)}",
            $"builder={builder.Host}/{builder.Database}");
    }

    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000",
        Justification = "Diagnostics only: a natively compiled worker has no assembly files, and says so with an empty location.")]
    private static string Context(System.Reflection.Assembly assembly) =>
        (AssemblyLoadContext.GetLoadContext(assembly)?.Name ?? "?") + ";" + assembly.Location;
}
