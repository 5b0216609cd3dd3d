using Sync.Engine.Diagnostics;

namespace Sync.PowerShell.Tests;

/// <summary>The plain error records the cmdlets turn into ErrorRecords (STYLE.md, "Errors").</summary>
public sealed class ErrorMappingTests
{
    [Theory]
    [InlineData("08006", SyncErrorCategory.ConnectionError, true)]
    [InlineData("28P01", SyncErrorCategory.AuthenticationError, false)]
    [InlineData("42501", SyncErrorCategory.PermissionDenied, false)]
    [InlineData("42P01", SyncErrorCategory.ObjectNotFound, false)]
    [InlineData("42704", SyncErrorCategory.ObjectNotFound, false)]
    [InlineData("55006", SyncErrorCategory.ResourceBusy, true)]
    [InlineData("40001", SyncErrorCategory.ResourceBusy, true)]
    [InlineData("40P01", SyncErrorCategory.ResourceBusy, true)]
    [InlineData("57P01", SyncErrorCategory.ConnectionError, true)]
    public void SqlStatesMapToCategoriesAndRetries(string sqlState, SyncErrorCategory category, bool retriable)
    {
        var info = ErrorClassifier.ClassifySqlState(sqlState, "message", "target");
        Assert.Equal(category, info.Category);
        Assert.Equal(retriable, info.Retriable);
        Assert.Equal("target", info.Target);
    }

    [Fact]
    public void SyncExceptionsKeepTheirIdAndTarget()
    {
        var info = ErrorClassifier.Classify(SyncException.NotFound("orders"));
        Assert.Equal(ErrorIds.SyncTaskNotFound, info.ErrorId);
        Assert.Equal(SyncErrorCategory.ObjectNotFound, info.Category);
        Assert.Equal("orders", info.Target);
        Assert.Contains("Get-SyncTask", info.Message);
    }

    [Fact]
    public void CancellationIsOperationStopped() =>
        Assert.Equal(SyncErrorCategory.OperationStopped, ErrorClassifier.Classify(new OperationCanceledException()).Category);
}
