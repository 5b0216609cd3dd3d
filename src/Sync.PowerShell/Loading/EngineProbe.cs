namespace Sync.PowerShell.Loading;

/// <summary>
/// A call from the cmdlet assembly into the engine that touches no PowerShell type, so a test process without
/// PowerShell can prove the engine and Npgsql load through <see cref="EngineLoadContext"/>.
/// </summary>
public static class EngineProbe
{
    public static string Describe() => Engine.Diagnostics.EngineInfo.Describe();
}
