using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Sync.PowerShell.Tests;

public sealed class CmdletSurfaceTests
{
    /// <summary>Cmdlets that change nothing persistent, so they take no -WhatIf/-Confirm.</summary>
    private static readonly HashSet<string> ReadOnlyCmdlets =
        ["Get-SyncTask", "Get-SyncTaskEvent", "Get-SyncTaskTable", "New-SyncEndpoint", "Test-SyncTask", "Compare-SyncTask", "Wait-SyncTask"];

    /// <summary>The pipelines the README and help promise.</summary>
    public static TheoryData<string, string> PromisedPipelines => new()
    {
        { "Get-SyncTask", "Remove-SyncTask" },
        { "Get-SyncTask", "Set-SyncTask" },
        { "Get-SyncTask", "Start-SyncTask" },
        { "Get-SyncTask", "Stop-SyncTask" },
        { "New-SyncTask", "Start-SyncTask" },
        { "Get-SyncTask", "Get-SyncTask" },
        { "Get-SyncTask", "Reset-SyncTask" },
        { "Reset-SyncTask", "Start-SyncTask" },
    };

    public static IEnumerable<object[]> Cmdlets => CmdletInfo.All.Select(c => new object[] { c.Name });

    [Fact]
    public void TheAssemblyHasCmdlets() => Assert.True(CmdletInfo.All.Count >= 7);

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void VerbIsApproved(string cmdlet)
    {
        var approved = typeof(System.Management.Automation.VerbsCommon).Assembly.GetTypes()
            .Where(t => t.Namespace == "System.Management.Automation" && t.Name.StartsWith("Verbs", StringComparison.Ordinal))
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!))
            .ToHashSet();
        Assert.Contains("Get", approved);
        Assert.Contains(CmdletInfo.Get(cmdlet).Verb, approved);
        Assert.Equal($"{CmdletInfo.Get(cmdlet).Verb}{CmdletInfo.Get(cmdlet).Noun}Command", CmdletInfo.Get(cmdlet).Type.Name);
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void DeclaresOutputTypeAndDefaultParameterSet(string cmdlet)
    {
        var info = CmdletInfo.Get(cmdlet);
        Assert.NotEmpty(info.OutputTypes);
        Assert.False(string.IsNullOrEmpty(info.DefaultParameterSet), $"{cmdlet} has no DefaultParameterSetName");
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void StateChangingCmdletsSupportShouldProcess(string cmdlet)
    {
        var info = CmdletInfo.Get(cmdlet);
        if (ReadOnlyCmdlets.Contains(cmdlet)) return;
        Assert.True(info.SupportsShouldProcess, $"{cmdlet} changes state but does not support -WhatIf/-Confirm");
        if (info.Verb is "Remove" or "Reset") Assert.Equal("High", info.ConfirmImpact);
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void OutputTypesArePublicSealedAndReadOnly(string cmdlet)
    {
        foreach (var type in CmdletInfo.Get(cmdlet).OutputTypes.Where(t => t != typeof(void) && t.Assembly == CmdletInfo.Assembly && !t.IsEnum))
        {
            Assert.True(type.IsPublic && type.IsSealed, $"{type} must be public sealed");
            Assert.StartsWith("Sync", type.Namespace);
            var setters = type.GetProperties().Where(p => p.SetMethod?.IsPublic == true).Select(p => p.Name).ToList();
            if (!typeof(System.Management.Automation.Job).IsAssignableFrom(type)) Assert.Empty(setters);
            foreach (var property in type.GetProperties())
                Assert.DoesNotContain("Npgsql", property.PropertyType.FullName ?? "");
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void TaskNameParametersTakeWildcardsCompletionAndPipeline(string cmdlet)
    {
        var info = CmdletInfo.Get(cmdlet);
        if (info.Noun != "SyncTask" || info.Verb == "New") return;
        var name = info.Parameters.FirstOrDefault(p => p.Name == "Name");
        Assert.NotNull(name);
        Assert.Equal(typeof(string[]), name!.Property.PropertyType);
        Assert.True(name.FromPipelineByPropertyName, $"{cmdlet} -Name does not bind by property name");
        Assert.True(name.Has("SupportsWildcardsAttribute"));
        Assert.True(name.Has("ArgumentCompleterAttribute"));
    }

    [Theory]
    [MemberData(nameof(PromisedPipelines))]
    public void PromisedPipelinesBind(string producer, string consumer)
    {
        var output = CmdletInfo.Get(producer).OutputTypes.Single();
        var parameters = CmdletInfo.Get(consumer).Parameters;
        var byValue = parameters.Any(p => p.FromPipeline && (p.Property.PropertyType.IsAssignableFrom(output) || p.Property.PropertyType.GetElementType()?.IsAssignableFrom(output) == true));
        var byName = parameters.Any(p => p.FromPipelineByPropertyName && output.GetProperty(p.Name) is not null);
        Assert.True(byValue || byName, $"{producer} | {consumer} does not bind");
    }

    [Fact]
    public void ManifestExportsExactlyTheCompiledCmdletsSorted()
    {
        var manifest = File.ReadAllText(Path.Combine(RepoPaths.Root, "Sync.psd1"));
        var block = Regex.Match(manifest, @"CmdletsToExport\s*=\s*@\((?<list>[^)]*)\)").Groups["list"].Value;
        var exported = Regex.Matches(block, "'([^']+)'").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(CmdletInfo.All.Select(c => c.Name).ToList(), exported);
        Assert.Equal(exported.OrderBy(x => x, StringComparer.Ordinal), exported);
        Assert.DoesNotContain("*", block);
        Assert.Matches(@"CompatiblePSEditions\s*=\s*@\('Core'\)", manifest);
        Assert.Matches(@"PowerShellVersion\s*=\s*'7\.4'", manifest);
        Assert.Matches(@"RootModule\s*=\s*'Sync\.PowerShell\.dll'", manifest);
        foreach (var empty in new[] { "FunctionsToExport", "AliasesToExport", "VariablesToExport" })
            Assert.Matches(empty + @"\s*=\s*@\(\)", manifest);
    }

    [Fact]
    public void FormatViewsNameRealTypesAndProperties()
    {
        var format = XDocument.Load(Path.Combine(RepoPaths.Root, "module", "Sync.Format.ps1xml"));
        var views = format.Descendants("View").ToList();
        Assert.NotEmpty(views);
        foreach (var view in views)
        {
            var typeName = view.Element("ViewSelectedBy")!.Element("TypeName")!.Value;
            var type = CmdletInfo.Assembly.GetType(typeName);
            Assert.True(type is not null, $"format view names unknown type {typeName}");
            foreach (var property in view.Descendants("PropertyName").Select(p => p.Value))
                Assert.True(type!.GetProperty(property) is not null, $"{typeName} has no property {property}");
        }
        foreach (var cmdlet in CmdletInfo.All)
            foreach (var output in cmdlet.OutputTypes.Where(t => t.Assembly == CmdletInfo.Assembly && !typeof(System.Management.Automation.Job).IsAssignableFrom(t)))
            {
                Assert.Contains(views, v => v.Element("ViewSelectedBy")!.Element("TypeName")!.Value == output.FullName && v.Element("TableControl") is not null);
                Assert.Contains(views, v => v.Element("ViewSelectedBy")!.Element("TypeName")!.Value == output.FullName && v.Element("ListControl") is not null);
            }
    }

    [Fact]
    public void SyncTaskTableViewShowsNameStatusStageProgressLatency()
    {
        var format = XDocument.Load(Path.Combine(RepoPaths.Root, "module", "Sync.Format.ps1xml"));
        var table = format.Descendants("View").Single(v => v.Element("Name")!.Value == "Sync.SyncTask.Table");
        var labels = table.Descendants("TableColumnHeader").Select(h => h.Element("Label")!.Value).Take(5);
        Assert.Equal(["Name", "Status", "Stage", "Progress", "Latency"], labels);
    }

    [Fact]
    public void EveryExportedCmdletHasHelpWithAnExample()
    {
        var help = XDocument.Load(Path.Combine(RepoPaths.Root, "module", "en-US", "Sync.PowerShell.dll-Help.xml"));
        XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        XNamespace maml = "http://schemas.microsoft.com/maml/2004/10";
        XNamespace dev = "http://schemas.microsoft.com/maml/dev/2004/10";
        var commands = help.Descendants(command + "command").ToDictionary(c => c.Element(command + "details")!.Element(command + "name")!.Value.Trim());
        foreach (var cmdlet in CmdletInfo.All)
        {
            Assert.True(commands.TryGetValue(cmdlet.Name, out var entry), $"no help for {cmdlet.Name}");
            Assert.False(string.IsNullOrWhiteSpace(entry!.Descendants(maml + "para").FirstOrDefault()?.Value), $"{cmdlet.Name} has no synopsis");
            Assert.NotEmpty(entry.Descendants(command + "example"));
            foreach (var example in entry.Descendants(command + "example"))
                Assert.Contains(cmdlet.Name, example.Element(dev + "code")?.Value ?? "");
        }
    }

    /// <summary>The stream format is an option of both task cmdlets, as the enum the engine reads, and shows on the task.</summary>
    [Theory]
    [InlineData("New-SyncTask")]
    [InlineData("Set-SyncTask")]
    public void TheStreamFormatIsAnOptionOfTheTaskCmdletsAndShowsOnTheTask(string cmdlet)
    {
        var parameter = CmdletInfo.Get(cmdlet).Parameters.Single(p => p.Name == "StreamFormat");
        Assert.Equal(typeof(StreamFormatOption), parameter.Property.PropertyType);
        Assert.False(parameter.Mandatory);
        Assert.Equal(["Auto", "Text"], Enum.GetNames<StreamFormatOption>());
        Assert.Equal(typeof(StreamFormatOption), typeof(SyncTask).GetProperty(nameof(SyncTask.StreamFormat))!.PropertyType);
    }

    [Fact]
    public void EngineErrorCategoriesAreAllPowerShellCategories()
    {
        var powershell = Enum.GetNames<System.Management.Automation.ErrorCategory>();
        foreach (var name in Enum.GetNames<Sync.Engine.Diagnostics.SyncErrorCategory>()) Assert.Contains(name, powershell);
    }

    [Fact]
    public void ErrorIdsAreStablePascalCaseAndUnique()
    {
        var ids = Sync.Engine.Diagnostics.ErrorIds.All;
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Matches("^[A-Z][A-Za-z]+$", id));
        foreach (var contract in new[] { "SyncTaskNotFound", "SyncTaskAlreadyRunning", "SourceConnectionFailed", "ReplicationSlotMissing", "CheckpointCorrupt", "StoreFileCorrupt", "TaskDefinitionInvalid" })
            Assert.Contains(contract, ids);
    }
}
