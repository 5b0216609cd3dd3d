using System.Text;
using Npgsql;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Security;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Security;

[Collection(PostgresCollection.Name)]
public sealed class PasswordLeakTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task NoPasswordAppearsInAnyStoreFileEventOrErrorMessage()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var role = "leak_" + Guid.NewGuid().ToString("N")[..8];
        var password = "Pw-" + Guid.NewGuid().ToString("N");
        var wrongPassword = "Wrong-" + Guid.NewGuid().ToString("N");
        await db.OnSourceAsync($"CREATE ROLE {role} LOGIN REPLICATION PASSWORD '{password}'; GRANT CONNECT ON DATABASE \"{db.Name}\" TO {role}");
        var service = new TaskService(_temp.Store);
        var messages = new List<string>();
        try
        {
            var source = TestTasks.Endpoint(db.SourceCluster, db.Name, role, password);
            var destination = EndpointParser.Parse(
                new NpgsqlConnectionStringBuilder { Host = db.DestinationCluster.Host, Port = db.DestinationCluster.Port, Database = db.Name, Username = "postgres", Password = wrongPassword }.ConnectionString,
                "destination");
            var task = service.Create("leak-check", source, destination, d => d with { Mode = SyncTaskMode.Full });

            // The sealed password is usable: the engine connects with it.
            await using (var connection = new NpgsqlConnection(service.Connections.Build(task.Definition.Source, "test").ConnectionString))
                await connection.OpenAsync();

            // The wrong one fails with the server's text and no password.
            var dataSource = service.Connections.CreateDataSource(task.Definition.Destination, "test");
            var failure = await Assert.ThrowsAsync<SyncException>(() => ConnectionFactory.OpenAsync(dataSource, ServerSide.Destination, task.Definition.Destination, CancellationToken.None));
            Assert.Equal(ErrorIds.AuthenticationFailed, failure.ErrorId);
            Assert.False(failure.Retriable);
            Assert.Contains("password authentication failed", failure.Message);
            messages.Add(failure.ToString());

            service.Update("leak-check", new TaskChanges { DestinationCredential = ("postgres", new Secret(wrongPassword)), Description = "changed" });
            // The worker meets the wrong destination password and records the failure.
            await service.LaunchWorkerAsync("leak-check", TestTasks.WorkerSpec, CancellationToken.None);
            await TestTasks.WaitUntilAsync(() => service.Get("leak-check") is { Worker: not WorkerLiveness.Alive } t && t.State.Status is SyncTaskStatus.Failed or SyncTaskStatus.Retrying,
                TimeSpan.FromSeconds(60), "the worker to record the authentication failure");
            var lastError = service.Get("leak-check").State.LastError?.Message ?? "";
            Assert.Contains("password authentication failed", lastError);
            messages.Add(lastError);
            if (service.Get("leak-check").IsRunning) await service.RequestStopAsync("leak-check", ControlAction.StopForce, true, CancellationToken.None);
            messages.AddRange(_temp.Store.ReadEvents("leak-check").Select(e => e.Event.Message));
            messages.Add(service.Get("leak-check").Definition.Source.ToString());
            messages.Add(source.ToString());

            foreach (var secret in new[] { password, wrongPassword })
            {
                var needles = new[] { secret, Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)) };
                foreach (var file in Directory.EnumerateFiles(_temp.Root, "*", SearchOption.AllDirectories))
                {
                    var content = Encoding.UTF8.GetString(File.ReadAllBytes(file));
                    foreach (var needle in needles) Assert.False(content.Contains(needle, StringComparison.Ordinal), $"{file} contains a password");
                }
                foreach (var message in messages) Assert.DoesNotContain(secret, message);
            }
        }
        finally
        {
            await db.OnSourceAsync($"DROP OWNED BY {role}; DROP ROLE {role}");
        }
    }
}
