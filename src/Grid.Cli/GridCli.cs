using System.CommandLine;

namespace Grid.Cli;

/// <summary>The <c>grid</c> command tree.</summary>
public static class GridCli
{
    /// <summary>Builds the root command with every client command and <c>grid agent</c>.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("grid: command line of the Grid.Orleans decentralized cloud controller")
        {
            CommonOptions.Api,
            CommonOptions.ApiKey,
            CommonOptions.Json,
            CommonOptions.Exact,
            TwinAndFarmCommands.Twins(),
            KeyCommands.Build(),
            TwinAndFarmCommands.Farms(),
            NodeCommands.Build(),
            NodeCommands.Rents(),
            ProviderCommands.Build(),
            ReservationCommands.Reserve(),
            ReservationCommands.Reservations(),
            ReservationCommands.Quote(),
            BillingCommands.Prices(),
            BillingCommands.Deposit(),
            BillingCommands.Withdraw(),
            WorkloadCommands.Build(),
            NameCommands.Build(),
            LedgerCommands.Ledger(),
            LedgerCommands.Account(),
            AgentCommands.Build(),
            Version(),
        };
        return root;
    }

    /// <summary><c>grid version</c>: the release of this CLI and agent (the silos' are in <c>GET /api/v1/cluster</c>).</summary>
    private static Command Version()
    {
        var version = new Command("version", "Print the release of this grid CLI and node agent");
        version.SetAction(parse => parse.InvocationConfiguration.Output.WriteLine($"grid {GridRelease.Version}"));
        return version;
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/>. SIGTERM and Ctrl-C cancel the running command; the agent gets
    /// <paramref name="terminationTimeout"/> to stop its workloads before the process is ended forcibly.
    /// </summary>
    public static Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null, TimeSpan? terminationTimeout = null)
    {
        var configuration = new InvocationConfiguration
        {
            ProcessTerminationTimeout = terminationTimeout ?? TimeSpan.FromSeconds(60),
        };
        if (output is not null)
        {
            configuration.Output = output;
        }

        if (error is not null)
        {
            configuration.Error = error;
        }

        return Build().Parse(args).InvokeAsync(configuration);
    }
}
