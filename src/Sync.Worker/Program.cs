// The background worker of one task, for hosts without PowerShell (tests, a Linux service unit).
// Usage: Sync.Worker [--task NAME] [--store PATH]; both default to SYNC_WORKER_TASK and SYNC_HOME.
return await Sync.Engine.Runtime.WorkerMain.RunAsync(args);
