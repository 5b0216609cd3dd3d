namespace Sync.Engine.Tests.Infrastructure;

/// <summary>Paths of the repository's build outputs, found from the test assembly's location.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: the configuration these tests were built with.</summary>
    public static string Configuration { get; } =
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;

    public static string WorkerDll => Path.Combine(Root, "src", "Sync.Worker", "bin", Configuration, "net8.0", "Sync.Worker.dll");

    public static string StoreStressDll => Path.Combine(Root, "tests", "Sync.StoreStress", "bin", Configuration, "net10.0", "Sync.StoreStress.dll");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sync.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find Sync.sln above " + AppContext.BaseDirectory);
    }
}
