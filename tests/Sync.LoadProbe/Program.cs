using System.Reflection;
using System.Runtime.Loader;

// Usage: Sync.LoadProbe <module folder>. Prints what the engine reports about where it and its dependencies
// loaded, plus the version of Microsoft.Extensions.Logging.Abstractions in the default context.
var moduleFolder = args[0];
var preloaded = typeof(Microsoft.Extensions.Logging.ILogger).Assembly.GetName();
Console.WriteLine($"default-logging={preloaded.Version};{AssemblyLoadContext.GetLoadContext(typeof(Microsoft.Extensions.Logging.ILogger).Assembly)?.Name}");

var cmdlets = Assembly.LoadFrom(Path.Combine(moduleFolder, "Sync.PowerShell.dll"));
var loader = cmdlets.GetType("Sync.PowerShell.Loading.EngineLoadContext", throwOnError: true)!;
loader.GetMethod("Install")!.Invoke(null, [moduleFolder]);
var probe = cmdlets.GetType("Sync.PowerShell.Loading.EngineProbe", throwOnError: true)!;
Console.WriteLine((string)probe.GetMethod("Describe")!.Invoke(null, null)!);
Console.WriteLine("engine-in-default=" + AssemblyLoadContext.Default.Assemblies.Any(a => a.GetName().Name == "Sync.Engine"));
Console.WriteLine("npgsql-in-default=" + AssemblyLoadContext.Default.Assemblies.Any(a => a.GetName().Name == "Npgsql"));
return 0;
