using System.Globalization;
using Npgsql;
using Sync.Engine.Diagnostics;
using Sync.Engine.Security;

namespace Sync.Engine.Connections;

/// <summary>
/// Reads an endpoint from a connection string: Npgsql's key=value form or a postgresql:// URI. The password,
/// if the string carries one, comes out as a <see cref="Secret"/>; errors never repeat the string.
/// </summary>
public static class EndpointParser
{
    public static EndpointInput Parse(string connectionString, string what)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var text = connectionString.Trim();
        return text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            ? ParseUri(text, what)
            : ParseKeyValue(text, what);
    }

    private static EndpointInput ParseKeyValue(string text, string what)
    {
        NpgsqlConnectionStringBuilder builder;
        try { builder = new NpgsqlConnectionStringBuilder(text); }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            // The driver's message names the bad keyword, never the value; still, say it in our own words.
            throw Invalid(what, $"the connection string cannot be read ({FirstKeyword(e.Message)}). Use the form Host=db1;Port=5432;Database=app;Username=sync");
        }
        if (string.IsNullOrEmpty(builder.Host)) throw Invalid(what, "the connection string has no Host");
        if (builder.Host.Contains(','))
            throw Invalid(what, "the connection string names several hosts; give the one server this task uses");
        if (string.IsNullOrEmpty(builder.Database)) throw Invalid(what, "the connection string has no Database");
        if (string.IsNullOrEmpty(builder.Username)) throw Invalid(what, "the connection string has no Username");
        return new EndpointInput
        {
            Host = builder.Host,
            Port = builder.Port,
            Database = builder.Database,
            Username = builder.Username,
            SslMode = Enum.Parse<SslModeOption>(builder.SslMode.ToString()),
            RootCertificate = builder.RootCertificate,
            ApplicationName = builder.ApplicationName,
            Passfile = builder.Passfile,
            Password = string.IsNullOrEmpty(builder.Password) ? null : new Secret(builder.Password),
        };
    }

    private static EndpointInput ParseUri(string text, string what)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw Invalid(what, "the URI cannot be read; use postgresql://user@host:5432/database");
        string? user = null;
        Secret? password = null;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0) password = new Secret(Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]));
        }
        var query = uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => Uri.UnescapeDataString(p[0]).ToLowerInvariant(), p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "");
        user ??= query.GetValueOrDefault("user");
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (string.IsNullOrEmpty(database)) database = query.GetValueOrDefault("dbname") ?? "";
        if (string.IsNullOrEmpty(user)) throw Invalid(what, "the URI has no user name");
        if (string.IsNullOrEmpty(database)) throw Invalid(what, "the URI has no database");
        var sslMode = SslModeOption.Prefer;
        if (query.TryGetValue("sslmode", out var mode))
        {
            var normalized = mode.Replace("-", "", StringComparison.Ordinal);
            if (!Enum.TryParse(normalized, ignoreCase: true, out sslMode))
                throw Invalid(what, $"sslmode '{mode}' is not one of disable, allow, prefer, require, verify-ca, verify-full");
        }
        return new EndpointInput
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
            Database = database,
            Username = user,
            SslMode = sslMode,
            RootCertificate = query.GetValueOrDefault("sslrootcert"),
            ApplicationName = query.GetValueOrDefault("application_name"),
            Passfile = query.GetValueOrDefault("passfile"),
            Password = password,
        };
    }

    private static string FirstKeyword(string message)
    {
        var quote = message.IndexOf('\'');
        var end = quote < 0 ? -1 : message.IndexOf('\'', quote + 1);
        return end > quote ? string.Create(CultureInfo.InvariantCulture, $"keyword {message[quote..(end + 1)]}") : "invalid syntax";
    }

    private static SyncException Invalid(string what, string why) =>
        new(ErrorIds.EndpointInvalid, SyncErrorCategory.InvalidArgument, $"The {what} endpoint is not valid: {why}.", what);
}
