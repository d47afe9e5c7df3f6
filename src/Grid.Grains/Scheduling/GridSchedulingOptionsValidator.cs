using Grid.Hosting;

namespace Grid.Scheduling;

/// <summary>Checks <c>Grid:Scheduling</c> at start; every wrong value is one reason naming its key.</summary>
public sealed class GridSchedulingOptionsValidator() : SettingsValidator<GridSchedulingOptions>(GridSchedulingOptions.Section)
{
    protected override void Check(SettingsCheck check, GridSchedulingOptions options)
    {
        check
            .Require(options.PreemptionNotice >= TimeSpan.Zero && options.PreemptionNotice <= TimeSpan.FromMinutes(10),
                nameof(options.PreemptionNotice), options.PreemptionNotice, "must be between 0 and 10 minutes.")
            .Between(nameof(options.MaxPreemptionsPerMinute), options.MaxPreemptionsPerMinute, 0, 100_000)
            .Between(nameof(options.PreemptionCandidates), options.PreemptionCandidates, 1, 1024);
    }
}
