using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Sync.Sandbox;

/// <summary>
/// A throwaway PostgreSQL cluster (tests, demo, benchmarks): initdb into a temporary folder, a free loopback port, logical WAL, password
/// authentication over TCP (including replication). When the tests run as root (as in CI) the server runs as
/// the unprivileged postgres account, which PostgreSQL requires. Stopped and deleted on dispose; clusters left
/// by a process that was killed are removed by the next start.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    private const string FolderPrefix = "sync-sandbox-pg-";
    private static readonly bool RunningAsRoot = !OperatingSystem.IsWindows() && Environment.UserName == "root";

    private PostgresCluster(string binDirectory, string folder, int port, string password, string label)
    {
        BinDirectory = binDirectory;
        Folder = folder;
        Port = port;
        SuperuserPassword = password;
        Label = label;
    }

    public string BinDirectory { get; }
    public string Folder { get; }
    public string DataDirectory => Path.Combine(Folder, "data");
    public string LogFile => Path.Combine(Folder, "server.log");
    public int Port { get; }
    public string Host => "127.0.0.1";
    public const string Superuser = "postgres";
    public string SuperuserPassword { get; }
    public string Label { get; }
    public int MajorVersion { get; private set; }

    public static PostgresCluster Start(string label, IReadOnlyDictionary<string, string>? settings = null)
    {
        RemoveOrphans();
        var bin = FindBinDirectory();
        var folder = Path.Combine(Path.GetTempPath(), FolderPrefix + label + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "owner.pid"), Environment.ProcessId.ToString());
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();
        var pwfile = Path.Combine(folder, "pwfile");
        File.WriteAllText(pwfile, password + "\n");
        if (RunningAsRoot) Run("chown", ["-R", "postgres:postgres", folder]);
        var cluster = new PostgresCluster(bin, folder, FreePort(), password, label);
        cluster.Initialize(pwfile, settings);
        File.Delete(pwfile);
        cluster.StartServer();
        return cluster;
    }

    private void Initialize(string pwfile, IReadOnlyDictionary<string, string>? settings)
    {
        RunAsServerUser(Path.Combine(BinDirectory, "initdb"),
            ["-D", DataDirectory, "-U", Superuser, "--pwfile", pwfile, "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]);
        var conf = new StringBuilder()
            .AppendLine($"port = {Port}")
            .AppendLine("listen_addresses = '127.0.0.1'")
            .AppendLine($"unix_socket_directories = '{Folder}'")
            .AppendLine("wal_level = logical")
            // Also the number of replication origins with a recorded position the server keeps: every task that
            // streamed into it has one until the task is removed, and a test suite's stopped tasks add up (at 40 the
            // 41st stream retried "could not find free replication state slot" until its test timed out).
            .AppendLine("max_replication_slots = 100")
            .AppendLine("max_wal_senders = 40")
            .AppendLine("max_connections = 200")
            .AppendLine("fsync = off")
            .AppendLine("full_page_writes = off")
            .AppendLine("shared_buffers = 64MB")
            .AppendLine("max_worker_processes = 16")
            .AppendLine("lc_messages = 'C'")
            .AppendLine("log_min_messages = warning");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) conf.AppendLine($"{key} = {value}");
        AppendAsServerUser(Path.Combine(DataDirectory, "postgresql.auto.conf"), conf.ToString());
    }

    public void StartServer() =>
        RunAsServerUser(Path.Combine(BinDirectory, "pg_ctl"), ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "start"]);

    public void StopServer(string mode = "fast") =>
        RunAsServerUser(Path.Combine(BinDirectory, "pg_ctl"), ["-D", DataDirectory, "-m", mode, "-w", "-t", "60", "stop"]);

    /// <summary>Stops and starts the server; a fast shutdown that does not finish in 20 s (a walsender waiting on its client) becomes immediate.</summary>
    public void Restart(string mode = "fast")
    {
        try { RunAsServerUser(Path.Combine(BinDirectory, "pg_ctl"), ["-D", DataDirectory, "-m", mode, "-w", "-t", "20", "stop"]); }
        catch (InvalidOperationException) when (mode != "immediate") { StopServer("immediate"); }
        StartServer();
    }

    public string ConnectionString(string database = "postgres", string? user = null, string? password = null) =>
        new Npgsql.NpgsqlConnectionStringBuilder
        {
            Host = Host, Port = Port, Database = database, Username = user ?? Superuser, Password = password ?? SuperuserPassword,
            Pooling = false, Timeout = 30,
        }.ConnectionString;

    public void Dispose()
    {
        try { StopServer("immediate"); } catch (InvalidOperationException) { }
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public static string FindBinDirectory()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var initdb = Path.Combine(dir, "initdb");
            if (File.Exists(initdb))
            {
                var real = new FileInfo(initdb).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? initdb;
                var candidate = Path.GetDirectoryName(real)!;
                if (File.Exists(Path.Combine(candidate, "pg_ctl"))) return candidate;
            }
        }
        var installed = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(x => File.Exists(Path.Combine(x.Dir, "initdb")))
                .OrderByDescending(x => x.Version)
                .Select(x => x.Dir)
                .FirstOrDefault()
            : null;
        return installed ?? throw new InvalidOperationException(
            "No PostgreSQL server binaries found (initdb on PATH or under /usr/lib/postgresql/*/bin). Install the server: apt-get install postgresql.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops and deletes clusters whose test process is gone (it was killed before it could clean up).</summary>
    private static void RemoveOrphans()
    {
        foreach (var folder in Directory.GetDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            var ownerFile = Path.Combine(folder, "owner.pid");
            if (File.Exists(ownerFile) && int.TryParse(File.ReadAllText(ownerFile).Trim(), out var owner) && IsAlive(owner)) continue;
            var data = Path.Combine(folder, "data");
            var bin = TryFindBin();
            if (bin is not null && Directory.Exists(data))
            {
                try { RunAsServerUser(Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "stop"]); } catch (InvalidOperationException) { }
            }
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string? TryFindBin()
    {
        try { return FindBinDirectory(); } catch (InvalidOperationException) { return null; }
    }

    private static bool IsAlive(int pid)
    {
        try { using var p = Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    private static void AppendAsServerUser(string path, string text)
    {
        File.AppendAllText(path, text);
        if (RunningAsRoot) Run("chown", ["postgres:postgres", path]);
    }

    private static void RunAsServerUser(string program, IReadOnlyList<string> args)
    {
        if (RunningAsRoot) Run("runuser", ["-u", "postgres", "--", program, .. args]);
        else Run(program, args);
    }

    public static string Run(string program, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Cannot start " + program);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(true);
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} did not finish in 120 s");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}: {stderr.Result}{stdout.Result}");
        return stdout.Result;
    }
}
