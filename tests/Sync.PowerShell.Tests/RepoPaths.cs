namespace Sync.PowerShell.Tests;

public static class RepoPaths
{
    public static string Root { get; } = FindRoot();
    public static string Configuration { get; } = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
    public static string ModuleFolder => Path.Combine(Root, "out", "Sync");
    public static string LoadProbeDll => Path.Combine(Root, "tests", "Sync.LoadProbe", "bin", Configuration, "net10.0", "Sync.LoadProbe.dll");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sync.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find Sync.sln above " + AppContext.BaseDirectory);
    }
}
