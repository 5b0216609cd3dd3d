namespace Sync;

/// <summary>The form in which the stream asks the source for values (pgoutput's binary option, PostgreSQL 14+).</summary>
public enum StreamFormatOption
{
    /// <summary>Binary where every carried column's type can travel in its send form, else text; the stream's start event says which and why.</summary>
    Auto,
    /// <summary>Always text, each value in its type's output form, as before binary streaming existed.</summary>
    Text,
}
