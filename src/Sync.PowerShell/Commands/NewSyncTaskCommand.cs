using System.Management.Automation;

namespace Sync.PowerShell.Commands;

/// <summary>Creates a synchronization task in the store. Nothing runs and nothing is created on a server until Start-SyncTask.</summary>
[Cmdlet(VerbsCommon.New, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = DefaultSet)]
[OutputType(typeof(SyncTask))]
public sealed class NewSyncTaskCommand : TaskOptionsCmdlet
{
    public const string DefaultSet = "Default";

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    protected override void ProcessRecord()
    {
        if (Source is null || Destination is null)
        {
            ThrowSyncError(new Engine.Diagnostics.SyncException(Engine.Diagnostics.ErrorIds.TaskDefinitionInvalid, Engine.Diagnostics.SyncErrorCategory.InvalidArgument,
                $"Task '{Name}' needs both -Source and -Destination (a connection string, a postgresql:// URI, or New-SyncEndpoint's output).", Name), Name);
            return;
        }
        if (!ShouldProcess(Name, $"Create a {(MyInvocation.BoundParameters.ContainsKey(nameof(Mode)) ? Mode : SyncTaskMode.FullIncremental)} sync task from {Source} to {Destination}"))
            return;
        try
        {
            WriteObject(new SyncTask(Service.Create(Name, BuildChanges())));
        }
        catch (Engine.Diagnostics.SyncException e)
        {
            WriteSyncError(e, Name);
        }
    }
}
