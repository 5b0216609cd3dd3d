namespace Sync;

/// <summary>libpq's sslmode values.</summary>
public enum SslModeOption
{
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCA,
    VerifyFull,
}
