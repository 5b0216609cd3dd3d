using System.Text.Json.Serialization;
using Sync.Engine.Tasks;

namespace Sync.Engine.Store;

/// <summary>Source-generated serialization for every document the file store writes.</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(TaskDefinition))]
[JsonSerializable(typeof(TaskState))]
[JsonSerializable(typeof(ControlFile))]
[JsonSerializable(typeof(StoreInfo))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;

/// <summary>Events are one compact JSON document per line.</summary>
[JsonSourceGenerationOptions(
    WriteIndented = false,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(TaskEvent))]
internal sealed partial class EventJsonContext : JsonSerializerContext;
