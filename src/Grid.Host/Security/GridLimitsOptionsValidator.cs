using Grid.Hosting;

namespace Grid.Host.Security;

/// <summary>Checks <c>Grid:Limits</c> at start; every wrong value is one reason naming its key.</summary>
public sealed class GridLimitsOptionsValidator() : SettingsValidator<GridLimitsOptions>(GridLimitsOptions.Section)
{
    protected override void Check(SettingsCheck check, GridLimitsOptions options)
    {
        check
            .AtLeast(nameof(options.MaxRequestBodyBytes), options.MaxRequestBodyBytes, 1)
            .AtLeast(nameof(options.TwinRequestsPerSecond), options.TwinRequestsPerSecond, 1)
            .AtLeast(nameof(options.TwinBurst), options.TwinBurst, 1)
            .AtLeast(nameof(options.AnonymousRequestsPerSecondPerIp), options.AnonymousRequestsPerSecondPerIp, 1)
            .AtLeast(nameof(options.AnonymousBurstPerIp), options.AnonymousBurstPerIp, 1)
            .AtLeast(nameof(options.FailedAuthenticationsPerMinutePerIp), options.FailedAuthenticationsPerMinutePerIp, 1)
            .AtLeast(nameof(options.FailedAuthenticationBurstPerIp), options.FailedAuthenticationBurstPerIp, 1)
            .AtLeast(nameof(options.ChecksPerMinutePerFailingIp), options.ChecksPerMinutePerFailingIp, 1)
            .AtLeast(nameof(options.MaxReservationsPerTwin), options.MaxReservationsPerTwin, 0)
            .AtLeast(nameof(options.MaxWorkloadsPerReservation), options.MaxWorkloadsPerReservation, 0);
    }
}
