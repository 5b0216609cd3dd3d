using System.Collections;
using System.Management.Automation;
using Sync.Engine.Security;

namespace Sync.PowerShell;

/// <summary>Turns PowerShell parameter values (hashtables, credentials) into the plain values the engine takes.</summary>
internal static class ParameterConversion
{
    public static IReadOnlyDictionary<string, string>? Strings(Hashtable? table) =>
        table?.Cast<DictionaryEntry>().ToDictionary(e => Unwrap(e.Key)?.ToString() ?? "", e => Unwrap(e.Value)?.ToString() ?? "", StringComparer.Ordinal);

    public static IReadOnlyDictionary<string, IReadOnlyList<string>>? StringLists(Hashtable? table) =>
        table?.Cast<DictionaryEntry>().ToDictionary(e => Unwrap(e.Key)?.ToString() ?? "", e => (IReadOnlyList<string>)ToList(Unwrap(e.Value)), StringComparer.Ordinal);

    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? Nested(Hashtable? table) =>
        table?.Cast<DictionaryEntry>().ToDictionary(
            e => Unwrap(e.Key)?.ToString() ?? "",
            e => Unwrap(e.Value) is IDictionary inner
                ? (IReadOnlyDictionary<string, string>)inner.Cast<DictionaryEntry>().ToDictionary(i => Unwrap(i.Key)?.ToString() ?? "", i => Unwrap(i.Value)?.ToString() ?? "", StringComparer.Ordinal)
                : throw new PSArgumentException($"The value for '{e.Key}' must be a hashtable of source column = destination column, for example @{{ssn = 'tax_id'}}."),
            StringComparer.Ordinal);

    public static IReadOnlyDictionary<string, T>? Enums<T>(Hashtable? table) where T : struct, Enum =>
        table?.Cast<DictionaryEntry>().ToDictionary(
            e => Unwrap(e.Key)?.ToString() ?? "",
            e => Enum.TryParse<T>(string.Join(",", ToList(Unwrap(e.Value))), ignoreCase: true, out var v)
                ? v
                : throw new PSArgumentException($"'{e.Value}' for '{e.Key}' is not a combination of {string.Join(", ", Enum.GetNames<T>())}."),
            StringComparer.Ordinal);

    public static (string UserName, Secret? Password)? Credential(PSCredential? credential)
    {
        if (credential is null || ReferenceEquals(credential, PSCredential.Empty)) return null;
        var password = credential.GetNetworkCredential().Password;
        return (credential.UserName, string.IsNullOrEmpty(password) ? null : new Secret(password));
    }

    private static List<string> ToList(object? value) => value switch
    {
        null => [],
        string s => [s],
        IEnumerable items => items.Cast<object?>().Select(i => Unwrap(i)?.ToString() ?? "").ToList(),
        _ => [value.ToString() ?? ""],
    };

    private static object? Unwrap(object? value) => value is PSObject ps ? ps.BaseObject : value;
}
