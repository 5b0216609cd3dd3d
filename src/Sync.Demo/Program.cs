using System.Diagnostics;
using Npgsql;
using Sync;
using Sync.Engine.Compare;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Runtime;
using Sync.Engine.Security;
using Sync.Engine.Store;
using Sync.Engine.Tasks;
using Sync.Sandbox;

// A FullIncremental task from start to end on two sandbox servers: precheck, full copy with progress, changes on the
// source arriving on the destination, comparison, stop, removal. Everything it creates is removed at the end.
var clock = Stopwatch.StartNew();
void Say(string text) => Console.WriteLine($"[{clock.Elapsed:mm\\:ss\\.f}] {text}");

Say("Starting two sandbox PostgreSQL servers...");
using var source = PostgresCluster.Start("demo-src");
using var destination = PostgresCluster.Start("demo-dst");
Say($"Source on 127.0.0.1:{source.Port}, destination on 127.0.0.1:{destination.Port}.");

await Execute(source, "postgres", "CREATE DATABASE shop");
await Execute(destination, "postgres", "CREATE DATABASE shop");
await Execute(source, "shop", """
    CREATE TYPE order_state AS ENUM ('new', 'paid', 'shipped');
    CREATE TABLE customers (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, email text UNIQUE);
    CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers (id), state order_state NOT NULL DEFAULT 'new',
                         total numeric(12,2), items jsonb, created_at timestamptz DEFAULT now());
    CREATE INDEX orders_customer ON orders (customer_id);
    INSERT INTO customers (name, email) SELECT 'Customer ' || g, 'c' || g || '@example.net' FROM generate_series(1, 20000) g;
    INSERT INTO orders (customer_id, state, total, items)
      SELECT 1 + g % 20000, (ARRAY['new','paid','shipped']::order_state[])[1 + g % 3], g % 997 + 0.99, jsonb_build_object('sku', g % 113, 'qty', 1 + g % 4)
      FROM generate_series(1, 300000) g;
    """);
Say("Source database 'shop' holds 20,000 customers and 300,000 orders.");

var home = Path.Combine(Path.GetTempPath(), "sync-demo-" + Guid.NewGuid().ToString("N")[..8]);
var service = new TaskService(new FileTaskStore(home));
EndpointInput Endpoint(PostgresCluster cluster) => new()
{
    Host = cluster.Host, Port = cluster.Port, Database = "shop", Username = PostgresCluster.Superuser,
    Password = new Secret(cluster.SuperuserPassword), SslMode = SslModeOption.Disable,
};
try
{
    service.Create("shop-demo", Endpoint(source), Endpoint(destination), d => d with { Mode = SyncTaskMode.FullIncremental, Description = "Sync demonstration" });
    Say("Task 'shop-demo' created (FullIncremental). Prechecks:");
    var report = await service.RunPrechecksAsync("shop-demo", CancellationToken.None);
    foreach (var check in report.Checks)
        Console.WriteLine($"    {check.Outcome,-8} {check.Id,-24} {check.Message}");
    Say($"Success rate {report.SuccessRate}% (warnings do not block).");

    using var stop = new CancellationTokenSource();
    var worker = Task.Run(() => new WorkerHost(service.Store, TaskRunner.For, new SingleProviderLoggerFactory(new StreamLoggerProvider(TextWriter.Null)))
        .RunAsync("shop-demo", stop.Token));
    while (!service.Get("shop-demo").IsRunning && !worker.IsCompleted) await Task.Delay(50);
    await service.WaitAsync("shop-demo", WaitCondition.FullSyncComplete, TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(1), task =>
    {
        foreach (var bar in TaskProgressView.Bars(task).Take(3))
            Console.WriteLine($"    {bar.Activity}: {(bar.Percent >= 0 ? bar.Percent + "% " : "")}{bar.Status}");
    }, CancellationToken.None);
    var copied = service.Get("shop-demo").State.Copy!;
    Say($"Full copy done: {copied.RowsCopied:N0} rows, {copied.BytesCopied / 1048576.0:N1} MB, indexes and constraints built. Streaming now.");

    await Execute(source, "shop", """
        INSERT INTO orders (customer_id, total, items) SELECT 1 + g, 10, '{"sku": 1}' FROM generate_series(1, 500) g;
        UPDATE orders SET state = 'shipped' WHERE id <= 1000;
        DELETE FROM orders WHERE id BETWEEN 2000 AND 2099;
        INSERT INTO customers (name, email) VALUES ('New Customer', 'new@example.net');
        """);
    Say("On the source: 500 orders inserted, 1,000 shipped, 100 deleted, 1 customer added.");
    var sourceCount = await Scalar(source, "SELECT count(*) FROM orders");
    var watch = Stopwatch.StartNew();
    while (await Scalar(destination, "SELECT count(*) FROM orders") != sourceCount || await Scalar(destination, "SELECT count(*) FROM orders WHERE id <= 1000 AND state = 'shipped'") != 1000)
    {
        if (watch.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"the changes did not arrive within 60 s; the task is {service.Get("shop-demo").State.Status}: {service.Get("shop-demo").State.LastError?.Message}");
        await Task.Delay(100);
    }
    var reported = Stopwatch.StartNew();
    while (service.Get("shop-demo").State.Stream?.CheckpointLsn is null && reported.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(100);
    var stream = service.Get("shop-demo").State.Stream;
    Say($"The changes arrived on the destination within {watch.Elapsed.TotalSeconds:0.0} s (latency {stream?.LatencySeconds:0.###} s, checkpoint {stream?.CheckpointLsn}).");

    var comparison = await new TaskComparer(service.Connections).CompareAsync(service.Get("shop-demo"), ComparisonLevel.Row, null, 5, null, CancellationToken.None);
    foreach (var table in comparison.Tables)
        Console.WriteLine($"    {table.SourceTable,-20} {table.Result,-10} source {table.SourceRows,8:N0} rows, destination {table.DestinationRows,8:N0} rows");
    Say(comparison.AllEqual ? "Compare: every table is equal." : "Compare: DIFFERENCES FOUND.");

    await service.RequestStopAsync("shop-demo", ControlAction.Stop, wait: true, CancellationToken.None);
    var exit = await worker;
    Say($"Task stopped: {service.Get("shop-demo").State.Status} (worker exit {exit}); slot and publication dropped, sequences set ahead by the safety margin.");
    var cleanup = await service.RemoveAsync("shop-demo", force: true, CancellationToken.None);
    Say($"Task removed; {cleanup.Removed.Count} server objects dropped{(cleanup.Complete ? "" : ", some left: " + string.Join("; ", cleanup.LeftBehind))}.");
    if (!comparison.AllEqual) return 1;
}
finally
{
    try { Directory.Delete(home, recursive: true); } catch (IOException) { }
}
Say("Stopping the sandbox servers. Done.");
return 0;

static async Task Execute(PostgresCluster cluster, string database, string sql)
{
    await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    await command.ExecuteNonQueryAsync();
}

static async Task<long> Scalar(PostgresCluster cluster, string sql)
{
    await using var connection = new NpgsqlConnection(cluster.ConnectionString("shop"));
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    return Convert.ToInt64(await command.ExecuteScalarAsync());
}
