using System.Diagnostics;

namespace Sync.Bench;

/// <summary>
/// Peak resident memory of a process and all its descendants, sampled every 50 ms from /proc, so that multi-process
/// tools (pgcopydb, pg_dump -j) and single-process ones are measured the same way.
/// </summary>
public sealed class ProcessTreeMemory : IDisposable
{
    private readonly int _root;
    private readonly Timer _timer;
    private long _peak;

    public ProcessTreeMemory(int rootPid)
    {
        _root = rootPid;
        _timer = new Timer(_ => Sample(), null, 0, 50);
    }

    public long PeakBytes => Interlocked.Read(ref _peak);

    private void Sample()
    {
        var parents = new Dictionary<int, int>();
        var rss = new Dictionary<int, long>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
                {
                    if (line.StartsWith("PPid:", StringComparison.Ordinal)) parents[pid] = int.Parse(line[5..].Trim());
                    else if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss[pid] = long.Parse(line[6..].Trim().Split(' ')[0]) * 1024;
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        var total = 0L;
        var frontier = new Queue<int>([_root]);
        var seen = new HashSet<int>();
        while (frontier.Count > 0)
        {
            var pid = frontier.Dequeue();
            if (!seen.Add(pid)) continue;
            total += rss.GetValueOrDefault(pid);
            foreach (var (child, parent) in parents) if (parent == pid) frontier.Enqueue(child);
        }
        long current;
        do { current = Interlocked.Read(ref _peak); } while (total > current && Interlocked.CompareExchange(ref _peak, total, current) != current);
    }

    public void Dispose() => _timer.Dispose();

    /// <summary>Runs a program to its end, returning elapsed time and the peak memory of its process tree.</summary>
    public static (TimeSpan Elapsed, long PeakBytes, string Output) Run(string program, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        using var memory = new ProcessTreeMemory(process.Id);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        var elapsed = clock.Elapsed;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} exited with {process.ExitCode}: {error.Result}{output.Result}");
        return (elapsed, memory.PeakBytes, output.Result + error.Result);
    }
}
