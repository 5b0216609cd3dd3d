namespace Sync.Engine.Stream;

/// <summary>What the source's logical decoding offers the stream, by its major version.</summary>
public static class StreamFeatures
{
    /// <summary>pgoutput carries logical decoding messages and streams in-progress transactions (protocol 2) from 14 on.</summary>
    public const int LogicalMessagesVersion = 14;

    /// <summary>
    /// Tests only: stream as if the source were this major version (the decoding features; catalog queries still see the
    /// real server). This machine has only PostgreSQL 15, and the paths for older sources must run against a server too.
    /// </summary>
    internal static int? EmulatedSourceVersion { get; set; }

    /// <summary>The version the stream's features are chosen by.</summary>
    public static int EffectiveVersion(int actualMajor) => EmulatedSourceVersion is { } emulated && emulated < actualMajor ? emulated : actualMajor;

    public static bool LogicalMessages(int actualMajor) => EffectiveVersion(actualMajor) >= LogicalMessagesVersion;
}
