using Sync.Engine.Diagnostics;

namespace Sync.Engine.Tasks;

/// <summary>The last error a task met, as persisted for Get-SyncTask.</summary>
public sealed record ErrorState
{
    public required string ErrorId { get; init; }
    public required string Message { get; init; }
    public SyncErrorCategory Category { get; init; }
    public string? Target { get; init; }
    public DateTimeOffset At { get; init; }

    public static ErrorState From(ErrorInfo info, DateTimeOffset at) => new()
    {
        ErrorId = info.ErrorId, Message = info.Message, Category = info.Category, Target = info.Target, At = at,
    };
}
