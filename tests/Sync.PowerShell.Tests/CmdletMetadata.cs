using System.Reflection;

namespace Sync.PowerShell.Tests;

/// <summary>Reads cmdlet declarations from the compiled assembly's attribute metadata (no PowerShell runtime needed).</summary>
public sealed record CmdletInfo(Type Type, string Verb, string Noun, bool SupportsShouldProcess, string? ConfirmImpact, string? DefaultParameterSet)
{
    public string Name => $"{Verb}-{Noun}";

    public static Assembly Assembly { get; } = typeof(Sync.SyncTask).Assembly;

    public static IReadOnlyList<CmdletInfo> All { get; } = Assembly.GetTypes()
        .Select(t => (Type: t, Data: t.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.Name == "CmdletAttribute")))
        .Where(x => x.Data is not null && !x.Type.IsAbstract)
        .Select(x => new CmdletInfo(x.Type,
            (string)x.Data!.ConstructorArguments[0].Value!,
            (string)x.Data.ConstructorArguments[1].Value!,
            Named(x.Data, "SupportsShouldProcess") as bool? ?? false,
            Named(x.Data, "ConfirmImpact") is { } impact ? Enum.GetName(typeof(System.Management.Automation.ConfirmImpact), impact) : null,
            Named(x.Data, "DefaultParameterSetName") as string))
        .OrderBy(c => c.Name, StringComparer.Ordinal)
        .ToList();

    public IReadOnlyList<Type> OutputTypes => Type.GetCustomAttributesData()
        .Where(a => a.AttributeType.Name == "OutputTypeAttribute")
        .SelectMany(a => a.ConstructorArguments)
        .SelectMany(arg => arg.Value switch
        {
            Type t => [t],
            IEnumerable<CustomAttributeTypedArgument> items => items.Select(i => i.Value).OfType<Type>(),
            _ => [],
        })
        .ToList();

    public IReadOnlyList<ParameterInfo> Parameters => Type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .SelectMany(p => p.GetCustomAttributesData().Where(a => a.AttributeType.Name == "ParameterAttribute").Select(a => new ParameterInfo(p, a)))
        .ToList();

    public static CmdletInfo Get(string name) => All.Single(c => c.Name == name);

    internal static object? Named(CustomAttributeData data, string name)
    {
        foreach (var argument in data.NamedArguments)
            if (argument.MemberName == name) return argument.TypedValue.Value;
        return null;
    }
}

public sealed record ParameterInfo(PropertyInfo Property, CustomAttributeData Attribute)
{
    public string Name => Property.Name;
    public bool FromPipeline => CmdletInfo.Named(Attribute, "ValueFromPipeline") as bool? ?? false;
    public bool FromPipelineByPropertyName => CmdletInfo.Named(Attribute, "ValueFromPipelineByPropertyName") as bool? ?? false;
    public bool Mandatory => CmdletInfo.Named(Attribute, "Mandatory") as bool? ?? false;
    public string? ParameterSet => CmdletInfo.Named(Attribute, "ParameterSetName") as string;
    public bool Has(string attributeName) => Property.GetCustomAttributesData().Any(a => a.AttributeType.Name == attributeName);
    public IEnumerable<string> Aliases => Property.GetCustomAttributesData().Where(a => a.AttributeType.Name == "AliasAttribute")
        .SelectMany(a => a.ConstructorArguments).SelectMany(a => a.Value is IEnumerable<CustomAttributeTypedArgument> items ? items.Select(i => (string)i.Value!) : [(string)a.Value!]);
}
