using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Sync.Engine.Store;

namespace Sync.PowerShell;

/// <summary>Tab completion of task names from the store.</summary>
public sealed class TaskNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        IReadOnlyList<string> names;
        try { names = new FileTaskStore(FileTaskStore.DefaultRoot()).ListTaskNames(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Engine.Diagnostics.SyncException) { yield break; }
        var prefix = wordToComplete.Trim('\'', '"');
        foreach (var name in names.Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
            yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, name);
    }
}
