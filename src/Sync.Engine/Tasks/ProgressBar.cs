namespace Sync.Engine.Tasks;

/// <summary>One progress bar as Write-Progress shows it; -1 means unknown.</summary>
public sealed record ProgressBar(int Id, int? ParentId, string Activity, string Status, int Percent, int SecondsRemaining);
