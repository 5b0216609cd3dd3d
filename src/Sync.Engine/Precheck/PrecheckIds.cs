namespace Sync.Engine.Precheck;

/// <summary>Stable ids of the prechecks: -IgnoreCheck takes them, scripts match on them.</summary>
public static class PrecheckIds
{
    public const string SourceConnectivity = nameof(SourceConnectivity);
    public const string DestinationConnectivity = nameof(DestinationConnectivity);
    public const string VersionCompatibility = nameof(VersionCompatibility);
    public const string EncodingCompatibility = nameof(EncodingCompatibility);
    public const string BlockSize = nameof(BlockSize);
    public const string LcMonetary = nameof(LcMonetary);
    public const string Selection = nameof(Selection);
    public const string SourcePrivileges = nameof(SourcePrivileges);
    public const string ReplicationPrivilege = nameof(ReplicationPrivilege);
    public const string ReplicationConnection = nameof(ReplicationConnection);
    public const string DestinationPrivileges = nameof(DestinationPrivileges);
    public const string SessionReplicationRole = nameof(SessionReplicationRole);
    public const string WalLevel = nameof(WalLevel);
    public const string ReplicationSlots = nameof(ReplicationSlots);
    public const string WalSenders = nameof(WalSenders);
    public const string SlotWalRetention = nameof(SlotWalRetention);
    public const string ReplicaIdentity = nameof(ReplicaIdentity);
    public const string ToastablePrimaryKey = nameof(ToastablePrimaryKey);
    public const string RowFilters = nameof(RowFilters);
    public const string LongTransactions = nameof(LongTransactions);
    public const string ExistingObjects = nameof(ExistingObjects);
    public const string UnsupportedObjects = nameof(UnsupportedObjects);
    public const string Extensions = nameof(Extensions);
    public const string Collations = nameof(Collations);
    public const string DestinationPublications = nameof(DestinationPublications);
    public const string ReplicationOrigins = nameof(ReplicationOrigins);
}
