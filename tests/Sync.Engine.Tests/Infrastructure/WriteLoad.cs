using Npgsql;

namespace Sync.Engine.Tests.Infrastructure;

/// <summary>
/// A pgbench-like write load on the source: each transaction updates an account and a teller, and inserts a
/// history row, until stopped. Connection failures (the test restarts servers) are retried.
/// </summary>
public sealed class WriteLoad : IAsyncDisposable
{
    public const string Schema = """
        CREATE TABLE bench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
        CREATE TABLE bench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
        CREATE TABLE bench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
        INSERT INTO bench_accounts SELECT g, 1, 0, '' FROM generate_series(1, 5000) g;
        INSERT INTO bench_tellers SELECT g, 1, 0, '' FROM generate_series(1, 10) g;
        """;

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private long _transactions;

    public WriteLoad(string connectionString, int seed = 1)
    {
        _run = Task.Run(() => RunAsync(connectionString, seed, _stop.Token));
    }

    public long Transactions => Interlocked.Read(ref _transactions);

    private async Task RunAsync(string connectionString, int seed, CancellationToken ct)
    {
        var random = new Random(seed);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(ct);
                while (!ct.IsCancellationRequested)
                {
                    var (aid, tid, delta) = (random.Next(1, 5001), random.Next(1, 11), random.Next(-5000, 5001));
                    await using var batch = new NpgsqlBatch(connection)
                    {
                        BatchCommands =
                        {
                            new NpgsqlBatchCommand("BEGIN"),
                            new NpgsqlBatchCommand($"UPDATE bench_accounts SET abalance = abalance + {delta} WHERE aid = {aid}"),
                            new NpgsqlBatchCommand($"UPDATE bench_tellers SET tbalance = tbalance + {delta} WHERE tid = {tid}"),
                            new NpgsqlBatchCommand($"INSERT INTO bench_history VALUES ({tid}, 1, {aid}, {delta}, now(), '')"),
                            new NpgsqlBatchCommand("COMMIT"),
                        },
                    };
                    await batch.ExecuteNonQueryAsync(ct);
                    Interlocked.Increment(ref _transactions);
                }
            }
            catch (OperationCanceledException) { return; }
            catch (NpgsqlException)
            {
                try { await Task.Delay(200, ct); } catch (OperationCanceledException) { return; }
            }
        }
    }

    public async Task StopAsync()
    {
        _stop.Cancel();
        await _run;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}
