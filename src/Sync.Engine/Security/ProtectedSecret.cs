namespace Sync.Engine.Security;

/// <summary>A secret as it rests in the store: AES-256-GCM ciphertext, never the plain text.</summary>
public sealed record ProtectedSecret
{
    public string Algorithm { get; init; } = "AES-256-GCM";
    /// <summary>Identifies the store key that sealed it, so a foreign key file gives a clear error.</summary>
    public required string KeyId { get; init; }
    /// <summary>Base64 of nonce (12 bytes) + tag (16 bytes) + ciphertext.</summary>
    public required string Data { get; init; }

    public override string ToString() => "(protected)";
}
