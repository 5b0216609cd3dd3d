using System.Security.Cryptography;
using System.Text;
using Sync.Engine.Diagnostics;

namespace Sync.Engine.Security;

/// <summary>
/// Seals secrets with AES-256-GCM under a random per-store key kept in a key file readable only by its
/// owner (mode 0600 on Unix; on Windows the key bytes are additionally wrapped with DPAPI for the current
/// user). The key id (a hash prefix of the key) travels with every sealed secret, so a store opened with
/// the wrong key file says so instead of failing obscurely.
/// </summary>
public sealed class StoreKeyProtector : ISecretProtector
{
    private const int KeySize = 32;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private static readonly byte[] AssociatedData = "sync-secret-v1"u8.ToArray();
    private readonly Lazy<(byte[] Key, string KeyId)> _key;

    public StoreKeyProtector(string keyPath)
    {
        KeyPath = keyPath;
        _key = new Lazy<(byte[], string)>(LoadOrCreateKey, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string KeyPath { get; }

    public ProtectedSecret Protect(Secret secret)
    {
        var (key, keyId) = _key.Value;
        var plain = Encoding.UTF8.GetBytes(secret.Reveal());
        try
        {
            var output = new byte[NonceSize + TagSize + plain.Length];
            var nonce = output.AsSpan(0, NonceSize);
            RandomNumberGenerator.Fill(nonce);
            using var aes = new AesGcm(key, TagSize);
            aes.Encrypt(nonce, plain, output.AsSpan(NonceSize + TagSize), output.AsSpan(NonceSize, TagSize), AssociatedData);
            return new ProtectedSecret { KeyId = keyId, Data = Convert.ToBase64String(output) };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    public Secret Unprotect(ProtectedSecret secret, string whatFor)
    {
        var (key, keyId) = _key.Value;
        if (!string.Equals(secret.KeyId, keyId, StringComparison.Ordinal))
            throw new SyncException(ErrorIds.SecretDecryptionFailed, SyncErrorCategory.SecurityError,
                $"The password of {whatFor} was sealed with another store key (key id {secret.KeyId}; this store's key '{KeyPath}' has id {keyId}). " +
                "Restore the original key file, or set the password again with Set-SyncTask -SourceCredential/-DestinationCredential.", whatFor);
        byte[] data;
        try { data = Convert.FromBase64String(secret.Data); }
        catch (FormatException e)
        {
            throw new SyncException(ErrorIds.SecretDecryptionFailed, SyncErrorCategory.InvalidData,
                $"The sealed password of {whatFor} is not valid base64. Set the password again with Set-SyncTask.", whatFor, inner: e);
        }
        if (data.Length < NonceSize + TagSize)
            throw new SyncException(ErrorIds.SecretDecryptionFailed, SyncErrorCategory.InvalidData,
                $"The sealed password of {whatFor} is truncated. Set the password again with Set-SyncTask.", whatFor);
        var plain = new byte[data.Length - NonceSize - TagSize];
        try
        {
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(data.AsSpan(0, NonceSize), data.AsSpan(NonceSize + TagSize), data.AsSpan(NonceSize, TagSize), plain, AssociatedData);
            return new Secret(Encoding.UTF8.GetString(plain));
        }
        catch (CryptographicException e)
        {
            throw new SyncException(ErrorIds.SecretDecryptionFailed, SyncErrorCategory.SecurityError,
                $"The sealed password of {whatFor} does not decrypt with the store key '{KeyPath}': it was altered or sealed elsewhere. " +
                "Set the password again with Set-SyncTask.", whatFor, inner: e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    private (byte[] Key, string KeyId) LoadOrCreateKey()
    {
        if (!File.Exists(KeyPath)) TryCreateKey();
        byte[] stored;
        try { stored = File.ReadAllBytes(KeyPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SyncException(ErrorIds.StoreKeyUnavailable, SyncErrorCategory.SecurityError,
                $"The store key '{KeyPath}' cannot be read: {e.Message}. It must belong to the user running Sync.", KeyPath, inner: e);
        }
        var key = OperatingSystem.IsWindows() ? UnwrapWindows(stored) : stored;
        if (key.Length != KeySize)
            throw new SyncException(ErrorIds.StoreKeyUnavailable, SyncErrorCategory.InvalidData,
                $"The store key '{KeyPath}' is {key.Length} bytes long, not {KeySize}: it is damaged. Restore it from a backup; " +
                "sealed passwords cannot be opened without it (set them again with Set-SyncTask after replacing the file).", KeyPath);
        var keyId = Convert.ToHexString(SHA256.HashData(key).AsSpan(0, 6)).ToLowerInvariant();
        return (key, keyId);
    }

    private void TryCreateKey()
    {
        var key = RandomNumberGenerator.GetBytes(KeySize);
        var content = OperatingSystem.IsWindows() ? WrapWindows(key) : key;
        try
        {
            // CreateNew: when two processes race to create the key, exactly one wins and the other reads it.
            using var stream = new FileStream(KeyPath, Store.AtomicFile.PrivateFileOptions(FileMode.CreateNew));
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(KeyPath))
        {
        }
    }

    private static byte[] WrapWindows(byte[] key) =>
        OperatingSystem.IsWindows() ? ProtectedData.Protect(key, AssociatedData, DataProtectionScope.CurrentUser) : key;

    private byte[] UnwrapWindows(byte[] stored)
    {
        if (!OperatingSystem.IsWindows()) return stored;
        try { return ProtectedData.Unprotect(stored, AssociatedData, DataProtectionScope.CurrentUser); }
        catch (CryptographicException e)
        {
            throw new SyncException(ErrorIds.StoreKeyUnavailable, SyncErrorCategory.SecurityError,
                $"The store key '{KeyPath}' is protected for another Windows user: {e.Message}", KeyPath, inner: e);
        }
    }
}
