using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Tasks;

public sealed class TaskValidatorTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly TaskService _service;

    public TaskValidatorTests() => _service = new TaskService(_temp.Store);

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("abc")]
    [InlineData("1task")]
    [InlineData("task name")]
    [InlineData("task.name")]
    [InlineData("a123456789012345678901234567890123456789012345678901")]
    public void BadNamesAreRefusedWithTheRule(string name)
    {
        var e = Assert.Throws<SyncException>(() => TestTasks.CreateOffline(_service, name));
        Assert.Equal(ErrorIds.TaskDefinitionInvalid, e.ErrorId);
        Assert.Contains("Name:", e.Message);
        Assert.Contains("4 to 50 characters", e.Message);
        Assert.Empty(_temp.Store.ListTaskNames());
    }

    [Theory]
    [InlineData("abcd")]
    [InlineData("Orders_2024-eu")]
    public void GoodNamesAreAccepted(string name) => Assert.Equal(name, TestTasks.CreateOffline(_service, name).Name);

    [Theory]
    [InlineData("Description", "has a ' quote")]
    [InlineData("Description", "a = b")]
    public void DescriptionsWithForbiddenCharactersNameTheCharacters(string field, string description)
    {
        var e = Assert.Throws<SyncException>(() => TestTasks.CreateOffline(_service, "desc-task", d => d with { Description = description }));
        Assert.Contains(field + ":", e.Message);
        Assert.Contains("not allowed", e.Message);
    }

    [Fact]
    public void LongDescriptionIsRefused()
    {
        var e = Assert.Throws<SyncException>(() => TestTasks.CreateOffline(_service, "desc-long", d => d with { Description = new string('x', 257) }));
        Assert.Contains("Description: is 257 characters long", e.Message);
    }

    [Fact]
    public void RetryWindowsFollowTheReferenceLimits()
    {
        Assert.Contains(Validate(o => o with { ConnectionRetryMinutes = 5 }), e => e.Field == "ConnectionRetryMinutes");
        Assert.Contains(Validate(o => o with { ConnectionRetryMinutes = 1441 }), e => e.Field == "ConnectionRetryMinutes");
        Assert.Contains(Validate(o => o with { ConnectionRetryMinutes = 30, OtherRetryMinutes = 30 }), e => e.Field == "OtherRetryMinutes" && e.Rule.Contains("below"));
        Assert.Empty(Validate(o => o with { ConnectionRetryMinutes = 10, OtherRetryMinutes = 9 }));
        var defaults = new TaskOptions();
        Assert.Equal(720, defaults.ConnectionRetryMinutes);
        Assert.Equal(10, defaults.OtherRetryMinutes);
        Assert.Equal(10_000, defaults.SequenceSafetyMargin);
    }

    [Fact]
    public void FlowWindowsAtMostThreeAndNotOverlapping()
    {
        FlowControl Flow(params string[] w) => new() { RowsPerSecond = 100, Windows = w.Select(FlowWindowParser.Parse).ToArray() };
        Assert.Contains(Validate(o => o with { FlowControl = Flow("01:00-02:00", "03:00-04:00", "05:00-06:00", "07:00-08:00") }), e => e.Field == "FlowWindow" && e.Rule.Contains("at most 3"));
        Assert.Contains(Validate(o => o with { FlowControl = Flow("22:00-06:00", "05:00-07:00") }), e => e.Field == "FlowWindow" && e.Rule.Contains("overlap"));
        Assert.Empty(Validate(o => o with { FlowControl = Flow("22:00-06:00", "06:00-07:00", "12:00-13:00") }));
        Assert.Contains(Validate(o => o with { FlowControl = new FlowControl { Windows = [FlowWindowParser.Parse("01:00-02:00")] } }), e => e.Rule.Contains("without a limit"));
        Assert.Throws<FormatException>(() => FlowWindowParser.Parse("25:00-26:00"));
    }

    [Fact]
    public void FlowWindowTextErrorsNameTheField()
    {
        var e = Assert.Throws<SyncException>(() => _service.Create("flow-text", new TaskChanges
        {
            Source = TestTasks.Unreachable("a"), Destination = TestTasks.Unreachable("b"), RowsPerSecond = 10, FlowWindows = ["nine to five"],
        }));
        Assert.Equal(ErrorIds.TaskDefinitionInvalid, e.ErrorId);
        Assert.Contains("FlowWindow: Flow window 'nine to five'", e.Message);
    }

    [Fact]
    public void AtMostTwentyTags()
    {
        var tags = Enumerable.Range(0, 21).ToDictionary(i => "k" + i, i => "v");
        var e = Assert.Throws<SyncException>(() => TestTasks.CreateOffline(_service, "tags-task", d => d with { Tags = tags }));
        Assert.Contains("Tag: 21 tags given; at most 20", e.Message);
    }

    [Fact]
    public void SourceAndDestinationMustDiffer()
    {
        var e = Assert.Throws<SyncException>(() => _service.Create("same-db", TestTasks.Unreachable("app"), TestTasks.Unreachable("app")));
        Assert.Contains("Destination: is the same database as the source", e.Message);
    }

    [Fact]
    public void MappingTwoTablesToOneIsRefused()
    {
        var e = Assert.Throws<SyncException>(() => TestTasks.CreateOffline(_service, "map-task", d => d with
        {
            Mapping = new NameMapping { Tables = new Dictionary<string, string> { ["public.a"] = "archive.x", ["public.b"] = "archive.x" } },
        }));
        Assert.Contains("TableMapping:", e.Message);
        Assert.Contains("both mapped to archive.x", e.Message);
    }

    [Fact]
    public void RowFilterMustBeOneExpression()
    {
        var e = Assert.Throws<SyncException>(() => TestTasks.CreateOffline(_service, "filter-task", d => d with
        {
            RowFilters = new Dictionary<string, string> { ["public.orders"] = "id > 1; drop table orders" },
        }));
        Assert.Contains("RowFilter:", e.Message);
    }

    [Fact]
    public void ScheduledStartInThePastIsRefused()
    {
        var e = Assert.Throws<SyncException>(() => TestTasks.CreateOffline(_service, "sched-task", d => d with { ScheduledStart = DateTimeOffset.UtcNow.AddHours(-1) }));
        Assert.Contains("ScheduledStart:", e.Message);
    }

    [Fact]
    public void EditsAreValidatedAndLeaveTheStoredTaskUnchangedWhenInvalid()
    {
        TestTasks.CreateOffline(_service, "edit-task", d => d with { Description = "kept" });
        Assert.Throws<SyncException>(() => _service.Update("edit-task", d => d with { Description = "bad & worse" }));
        Assert.Equal("kept", _service.Get("edit-task").Definition.Description);
        var updated = _service.Update("edit-task", new TaskChanges { ConflictPolicy = ConflictPolicy.Overwrite, IncludeTables = ["sales.*"] });
        Assert.Equal(ConflictPolicy.Overwrite, updated.Definition.Options.ConflictPolicy);
        Assert.Equal(["sales.*"], updated.Definition.Selection.IncludeTables);
        Assert.Equal("kept", updated.Definition.Description);
        Assert.Equal(2, updated.Definition.Revision);
    }

    [Fact]
    public void QueryFiltersByNameIdStatusAndTag()
    {
        var a = TestTasks.CreateOffline(_service, "alpha-eu", d => d with { Tags = new Dictionary<string, string> { ["env"] = "prod" } });
        TestTasks.CreateOffline(_service, "alpha-us", d => d with { Tags = new Dictionary<string, string> { ["env"] = "test" } });
        TestTasks.CreateOffline(_service, "beta-eu");
        void NoError(SyncException e) => throw e;

        Assert.Equal(["alpha-eu", "alpha-us"], _service.Query(new TaskQuery { Names = ["alpha*"] }, NoError).Select(t => t.Name));
        Assert.Equal(["alpha-eu"], _service.Query(new TaskQuery { Tags = ["env=prod"] }, NoError).Select(t => t.Name));
        Assert.Equal(["alpha-eu", "alpha-us"], _service.Query(new TaskQuery { Tags = ["env"] }, NoError).Select(t => t.Name));
        Assert.Equal(["alpha-eu"], _service.Query(new TaskQuery { Ids = [a.Definition.Id.ToUpperInvariant()] }, NoError).Select(t => t.Name));
        Assert.Empty(_service.Query(new TaskQuery { Statuses = [SyncTaskStatus.Running] }, NoError));
        Assert.Equal(3, _service.Query(new TaskQuery { Statuses = [SyncTaskStatus.Created] }, NoError).Count);
    }

    private static IReadOnlyList<ValidationError> Validate(Func<TaskOptions, TaskOptions> options) =>
        TaskValidator.Validate(new TaskDefinition
        {
            Id = "00000000", Name = "valid-name",
            Source = new EndpointDefinition { Host = "a", Database = "x", Username = "u" },
            Destination = new EndpointDefinition { Host = "b", Database = "x", Username = "u" },
            Options = options(new TaskOptions()),
        });
}
