namespace Sync.Engine.Diagnostics;

/// <summary>How a caller shows an engine message: PowerShell's Debug, Verbose and Warning streams.</summary>
public enum CallerMessageLevel
{
    Debug,
    Verbose,
    Warning,
}
