using System.Globalization;

namespace Sync.Bench;

/// <summary>
/// Context switches of each thread of a process, from /proc/PID/task/*/status, grouped by thread name. On a small
/// machine the follower's CPU goes mostly into the kernel switching threads (docs/benchmarks.md), so which threads wake
/// how often is the figure that says where a change helps. Threads that end between two readings lose their count.
/// </summary>
internal sealed class ThreadSwitches
{
    private readonly Dictionary<int, (string Name, long Switches)> _threads;

    /// <summary>No reading: for a process started within the phase measured, all its switches are the phase's.</summary>
    public static ThreadSwitches None { get; } = new([]);

    private ThreadSwitches(Dictionary<int, (string Name, long Switches)> threads) => _threads = threads;

    public static ThreadSwitches Read(int pid)
    {
        var threads = new Dictionary<int, (string, long)>();
        if (pid <= 0) return new ThreadSwitches(threads);
        try
        {
            foreach (var dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var tid)) continue;
                try
                {
                    // .NET names its threads ".NET TP Worker", ".NET Sockets", ...; numbered kernel-side names lose the number.
                    var name = File.ReadAllText(Path.Combine(dir, "comm")).Trim().TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9').TrimEnd();
                    long switches = 0;
                    foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
                        if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                            switches += long.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
                    threads[tid] = (name, switches);
                }
                catch (IOException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return new ThreadSwitches(threads);
    }

    /// <summary>Switches since <paramref name="before"/> per thread name, with how many threads of that name switched, most first.</summary>
    public IReadOnlyList<(string Name, int Threads, long Switches)> Since(ThreadSwitches before) =>
        _threads.Select(t => (t.Value.Name, Delta: t.Value.Switches - (before._threads.TryGetValue(t.Key, out var old) && old.Name == t.Value.Name ? old.Switches : 0)))
            .Where(t => t.Delta > 0)
            .GroupBy(t => t.Name)
            .Select(g => (g.Key, g.Count(), g.Sum(t => t.Delta)))
            .OrderByDescending(g => g.Item3)
            .ToList();

    /// <summary>One line: total switches per 1000 transactions, then the busiest thread names.</summary>
    public static string Describe(IReadOnlyList<(string Name, int Threads, long Switches)> switches, long transactions)
    {
        double Per(long n) => 1000.0 * n / Math.Max(1, transactions);
        var parts = switches.Take(6).Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Name} x{s.Threads}: {Per(s.Switches):0}"));
        return string.Create(CultureInfo.InvariantCulture, $"{Per(switches.Sum(s => s.Switches)):0} per 1000 transactions ({string.Join(", ", parts)})");
    }
}
