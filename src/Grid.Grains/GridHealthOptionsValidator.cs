using Grid.Hosting;

namespace Grid;

/// <summary>Checks <c>Grid:Health</c> at start; every wrong value is one reason naming its key.</summary>
public sealed class GridHealthOptionsValidator() : SettingsValidator<GridHealthOptions>(GridHealthOptions.Section)
{
    protected override void Check(SettingsCheck check, GridHealthOptions options)
    {
        check
            .Positive(nameof(options.HeartbeatInterval), options.HeartbeatInterval)
            // A node that heartbeats on time must never look silent for a whole timeout.
            .Require(options.HeartbeatTimeout > options.HeartbeatInterval, nameof(options.HeartbeatTimeout), options.HeartbeatTimeout,
                $"must exceed Grid:Health:HeartbeatInterval ({options.HeartbeatInterval:c}), or nodes that beat on time are declared down.")
            .NotNegative(nameof(options.RejoinAfter), options.RejoinAfter)
            .Positive(nameof(options.ScanInterval), options.ScanInterval)
            .Require(options.StartupGrace is not { } grace || grace >= TimeSpan.Zero, nameof(options.StartupGrace), options.StartupGrace,
                "must not be negative.")
            .Require(options.SuspectAfter is not { } suspect || (suspect > TimeSpan.Zero && suspect < options.HeartbeatTimeout),
                nameof(options.SuspectAfter), options.SuspectAfter,
                $"must be positive and below Grid:Health:HeartbeatTimeout ({options.HeartbeatTimeout:c}).")
            .Require(options.MassFailureShare is > 0 and <= 1, nameof(options.MassFailureShare), options.MassFailureShare,
                "must be above 0 and at most 1.")
            .Require(options.MassFailureMovesPerSecond > 0, nameof(options.MassFailureMovesPerSecond), options.MassFailureMovesPerSecond,
                "must be positive.")
            .Positive(nameof(options.MassFailureWindow), options.MassFailureWindow)
            .Positive(nameof(options.RetryBackoff), options.RetryBackoff)
            .Positive(nameof(options.OrphanCheckInterval), options.OrphanCheckInterval)
            .Positive(nameof(options.EvacuationRecheck), options.EvacuationRecheck)
            .Require(options.QuarantineFailures is >= 1 and <= 10_000, nameof(options.QuarantineFailures), options.QuarantineFailures,
                "must be between 1 and 10000.")
            .Positive(nameof(options.QuarantineWindow), options.QuarantineWindow);
    }
}
