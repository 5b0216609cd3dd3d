namespace Sync.Engine.Security;

/// <summary>Seals and opens secrets with the store's key.</summary>
public interface ISecretProtector
{
    ProtectedSecret Protect(Secret secret);
    Secret Unprotect(ProtectedSecret secret, string whatFor);
}
